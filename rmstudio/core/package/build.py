"""Building a package deterministically (docs/RMPKG.md, "Deterministic builds" and "Building").

The same inputs give the same bytes: fixed member order, fixed timestamps, permissions and
compression level, no extra fields, JSON written one way, and nothing from the machine
(paths, user, host, clock) except the declared ``created_at``. The archive is written to a
temporary file next to the output, verified with the package reader, and only then renamed
into place, so a failed build leaves nothing behind.
"""

from __future__ import annotations

import copy
import datetime as dt
import hashlib
import json
import math
import os
import stat
import tempfile
import zipfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from rmstudio import __version__
from rmstudio.core.engine.runtime_locator import locate
from rmstudio.core.errors import RMError
from rmstudio.core.manifest import load, validate
from rmstudio.core.manifest.document import dumps
from rmstudio.core.package import models_link, names
from rmstudio.core.package.dirs import make_parents, remove_made
from rmstudio.core.package.format import (
    CHUNK,
    COMPRESS_LEVEL,
    DEFAULT_LIMITS,
    DEPS_DIR,
    ENTRY,
    EXTENSION,
    FILE_MODE,
    FORMAT_NAME,
    FORMAT_VERSION_TEXT,
    GUEST_DIRS,
    HOST_CONTRACT_VERSIONS,
    MANIFEST,
    METADATA,
    MODELS_DIR,
    RUNTIME,
    TARGET,
    WASM_MAGIC,
    ZIP_EPOCH,
    PackageLimits,
    parse_release,
)
from rmstudio.core.package.runtime_section import KNOWN_NON_RUNNABLE, read_runtime_section

PYTHON_NODE_TYPES = ("TextProcessorNode", "DataTransformNode")
RUNTIME_BUILD_KEYS = ("executor_version", "contract_version", "whisper_cpp", "zig")


@dataclass
class BuildOptions:
    name: str | None = None
    version: str | None = None
    description: str | None = None
    author: str | None = None
    license: str | None = None
    created: str | None = None  # ISO 8601; else SOURCE_DATE_EPOCH; else now
    runtime: str | os.PathLike[str] | None = None  # default: the installed rm_executor.wasm
    models: list[str] = field(default_factory=list)  # NAME | PATH | NAME=PATH
    deps: str | os.PathLike[str] | None = None
    force: bool = False
    limits: PackageLimits = DEFAULT_LIMITS


@dataclass
class BuildResult:
    path: Path
    sha256: str
    size: int
    members: list[dict[str, Any]]
    manifest: dict[str, Any]
    metadata: dict[str, Any]
    warnings: list[RMError] = field(default_factory=list)

    def to_json(self) -> dict[str, Any]:
        return {
            "path": str(self.path),
            "sha256": self.sha256,
            "size": self.size,
            "members": self.members,
            "warnings": [w.to_json() for w in self.warnings],
        }


@dataclass
class _Input:
    name: str
    data: bytes | None = None
    path: Path | None = None
    size: int = 0


def _fail(code: str, message: str, **kw: Any) -> RMError:
    return RMError(code, message, **kw)


def created_timestamp(value: str | None = None) -> str:
    """``created_at`` as ISO 8601 UTC: the given value, else SOURCE_DATE_EPOCH, else now."""
    if value:
        try:
            when = dt.datetime.fromisoformat(value.strip().replace("Z", "+00:00"))
        except ValueError:
            raise _fail(
                "invalid_param",
                f"--created {value!r} is not an ISO 8601 date-time",
                hint="For example 2026-11-25T12:00:00Z",
            ) from None
        if when.tzinfo is None:
            when = when.replace(tzinfo=dt.UTC)
    elif os.environ.get("SOURCE_DATE_EPOCH", "").strip():
        raw = os.environ["SOURCE_DATE_EPOCH"].strip()
        try:
            when = dt.datetime.fromtimestamp(int(raw), tz=dt.UTC)
        except (ValueError, OverflowError, OSError):
            raise _fail("invalid_param", f"SOURCE_DATE_EPOCH={raw!r} is not a Unix time in seconds") from None
    else:
        when = dt.datetime.now(tz=dt.UTC)
    try:
        utc = when.astimezone(dt.UTC)
    except OverflowError:
        utc = None
    if utc is None or not 1970 <= utc.year <= 9999:
        raise _fail(
            "invalid_param",
            f"the creation time {value or os.environ.get('SOURCE_DATE_EPOCH', '')!r} is outside "
            "the years 1970 to 9999 (in UTC)",
            hint="For example 2026-11-25T12:00:00Z",
        )
    return f"{utc.year:04d}-{utc:%m-%dT%H:%M:%SZ}"


def _text_field(label: str, value: Any) -> str | None:
    if value is None:
        return None
    if not isinstance(value, str) or not value.strip() or len(value) > 4096:
        raise _fail("invalid_param", f"{label} must be non-empty text of at most 4096 characters")
    if any(ord(c) < 0x20 and c not in "\n\t" for c in value):
        raise _fail("invalid_param", f"{label} contains control characters")
    return value


def _json_bytes(data: Any) -> bytes:
    return dumps(data).encode("utf-8")


def _zip_info(name: str, size: int) -> zipfile.ZipInfo:
    zi = zipfile.ZipInfo(name, date_time=ZIP_EPOCH)
    zi.create_system = 3  # Unix, so the mode bits below mean what they say
    zi.external_attr = (stat.S_IFREG | FILE_MODE) << 16
    zi.compress_type = zipfile.ZIP_DEFLATED
    if hasattr(zi, "compress_level"):  # Python >= 3.13
        zi.compress_level = COMPRESS_LEVEL
    else:
        zi._compresslevel = COMPRESS_LEVEL
    zi.file_size = size
    zi.extra = b""
    zi.comment = b""
    return zi


def _runtime_inputs(options: BuildOptions) -> tuple[Path, dict[str, Any], list[RMError]]:
    warnings: list[RMError] = []
    if options.runtime is not None:
        path = Path(options.runtime)
        if not path.is_file():
            raise _fail("file_not_found", "runtime module not found", source=str(path))
        info_path = path.with_suffix(".build.json")
    else:
        located = locate()
        path = located.path
        info_path = path.with_name("rm_executor.build.json")
    with open(path, "rb") as f:
        head = f.read(len(WASM_MAGIC))
    if head != WASM_MAGIC:
        raise _fail(
            "package_not_wasm",
            "the runtime is not a WebAssembly core module (wrong magic bytes)",
            source=str(path),
            hint="Pass the rm_executor.wasm built by `python runtime/build.py`",
        )
    info: dict[str, Any] = {}
    if info_path.is_file():
        try:
            raw = json.loads(info_path.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            raw = None
        if isinstance(raw, dict):
            if raw.get("sha256") and raw.get("sha256") != _file_sha256(path):
                warnings.append(
                    RMError(
                        "runtime_build_stale",
                        f"{info_path.name} describes another build of the runtime; it was ignored",
                        source=str(info_path),
                    )
                )
            else:
                info = {k: raw[k] for k in RUNTIME_BUILD_KEYS if k in raw}
    return path, info, warnings


def _file_sha256(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        while block := f.read(CHUNK):
            h.update(block)
    return h.hexdigest()


def _model_inputs(specs: list[str], manifest: dict[str, Any]) -> tuple[list[_Input], dict[str, str]]:
    refs = models_link.model_references(manifest)
    used_names = sorted({r.value for r in refs if not r.value.startswith("/")})
    inputs: list[_Input] = []
    mapping: dict[str, str] = {}
    for spec in specs:
        name: str | None = None
        target = spec
        head, sep, tail = spec.partition("=")
        if sep and head and not Path(spec).exists():
            name, target = head, tail
        looks_like_path = (
            "/" in target or os.sep in target or target.endswith(".bin") or Path(target).is_file()
        )
        path = models_link.resolve_for_pack(target)
        if not path.is_file():
            raise _fail("file_not_found", "model file not found", source=str(path))
        models_link.validate_model_file(path)
        if name is None:
            if looks_like_path:
                name = used_names[0] if len(used_names) == 1 else models_link.name_from_file(path)
            elif len(used_names) == 1 and target not in used_names:
                # `--model tiny.en` for a manifest that names one model (e.g. "default"): the
                # bundled file is the one that reference gets.
                name = used_names[0]
            else:
                name = target
        member = f"{MODELS_DIR}/{path.name}"
        names.check_name(member, str(path))
        if any(i.name == member for i in inputs) and mapping.get(name) != path.name:
            raise _fail("invalid_param", f"two models are both named {path.name!r}; rename one of the files")
        if name in mapping and mapping[name] != path.name:
            raise _fail("invalid_param", f"model name {name!r} is given twice")
        mapping[name] = path.name
        if not any(i.name == member for i in inputs):
            inputs.append(_Input(member, path=path, size=path.stat().st_size))
    return inputs, mapping


def _deps_inputs(root: Path) -> list[_Input]:
    if not root.is_dir():
        raise _fail("file_not_found", "--deps must name a directory", source=str(root))
    out: list[_Input] = []
    for dirpath, dirnames, filenames in os.walk(root, followlinks=False):
        dirnames.sort()
        here = Path(dirpath)
        for entry in [*dirnames, *filenames]:
            p = here / entry
            st = os.lstat(p)
            rel = p.relative_to(root).as_posix()
            if stat.S_ISLNK(st.st_mode):
                raise _fail(
                    "package_link",
                    f"{rel} in the deps directory is a link; packages hold only regular files",
                    source=str(p),
                )
            if stat.S_ISDIR(st.st_mode):
                continue
            if not stat.S_ISREG(st.st_mode):
                raise _fail(
                    "package_special_file",
                    f"{rel} in the deps directory is not a regular file",
                    source=str(p),
                )
            member = f"{DEPS_DIR}/{rel}"
            names.check_name(member, str(p))
            out.append(_Input(member, path=p, size=st.st_size))
    return out


def _runtime_info(manifest: dict[str, Any], wasm_size: int) -> tuple[dict[str, Any], dict[str, Any]]:
    """RemoteMedia's runtime_info and performance_hints heuristics (docs/RMPKG.md)."""
    nodes = [n for n in manifest.get("nodes", []) if isinstance(n, dict)]
    types: list[str] = []
    for n in nodes:
        t = n.get("node_type", n.get("nodeType"))
        if isinstance(t, str) and t not in types:
            types.append(t)
    python = [t for t in types if "Python" in t or t in PYTHON_NODE_TYPES]
    conns = manifest.get("connections")
    info = {
        "wasm_size_bytes": wasm_size,
        "has_python_nodes": bool(python),
        "has_rust_nodes": len(python) < len(types),
        "node_types": types,
        "node_count": len(nodes),
        "connection_count": len(conns) if isinstance(conns, list) else 0,
    }
    hints = {
        "expected_load_time_ms": 50 if wasm_size < 10 * (1 << 20) else 200,
        "expected_execution_time_ms": 50 if python else 10,
        "memory_requirement_mb": math.ceil(wasm_size / (1 << 20)) + 20,
    }
    return info, hints


def _check_collisions(inputs: list[_Input]) -> None:
    """Refuse names the reader would refuse as one file on macOS or Windows, before writing."""
    seen: dict[str, _Input] = {}
    for i in inputs:
        key = names.collision_key(i.name)
        if key in seen:
            first = seen[key].name
            raise _fail(
                "package_case_conflict",
                f"{i.name!r} and {first!r} would be the same file on macOS and Windows "
                f"(they differ only in case or Unicode form: {first!a} vs {i.name!a})",
                source=str(i.path) if i.path else None,
                hint="Rename one of them in the deps directory",
            )
        seen[key] = i


def _check_limits(inputs: list[_Input], limits: PackageLimits) -> None:
    if len(inputs) + 1 > limits.max_members:
        raise _fail(
            "package_too_large", f"{len(inputs) + 1} members is over the limit of {limits.max_members}"
        )
    total = 0
    for i in inputs:
        limit = limits.max_json_bytes if i.name in (MANIFEST, METADATA) else limits.max_member_bytes
        if i.size > limit:
            raise _fail("package_too_large", f"{i.name} is {i.size} bytes, over the limit of {limit}")
        total += i.size
    if total > limits.max_total_bytes:
        raise _fail(
            "package_too_large",
            f"the package would hold {total} bytes, over the limit of {limits.max_total_bytes}",
        )


def build_package(
    manifest_path: str | os.PathLike[str], out: str | os.PathLike[str], options: BuildOptions | None = None
) -> BuildResult:
    """Pack a manifest, the runtime and optional models/deps into ``out`` (see docs/RMPKG.md)."""
    options = options or BuildOptions()
    out_path = Path(out)
    warnings: list[RMError] = []
    if out_path.is_dir():
        raise _fail("package_exists", "the output is a directory", source=str(out_path))
    if out_path.exists() and not options.force:
        raise _fail(
            "package_exists",
            "the output file already exists",
            source=str(out_path),
            hint="Use --force to replace it",
        )
    if out_path.suffix.lower() != EXTENSION:
        warnings.append(
            RMError("package_extension", f"packages are normally named *{EXTENSION}", source=str(out_path))
        )

    doc = load(manifest_path)
    report = validate(doc)
    if report.errors:
        first = report.errors[0]
        raise RMError(
            "package_invalid_manifest",
            f"the manifest is not a valid pipeline: {first.message}",
            path=first.path,
            node_id=first.node_id,
            source=first.source,
            line=first.line,
            hint=first.hint or "`rmstudio validate` lists every problem",
            details={"errors": [e.to_json() for e in report.errors]},
        )
    warnings.extend(report.warnings)
    if doc.has_input:
        warnings.append(
            RMError(
                "package_input_not_packed",
                "the file is a run request; only its manifest is packed, not its input_data",
                source=doc.source,
            )
        )
    manifest = copy.deepcopy(doc.data)
    runtime_path, build_info, runtime_warnings = _runtime_inputs(options)
    warnings.extend(runtime_warnings)
    model_inputs, model_map = _model_inputs(list(options.models), manifest)
    deps_inputs = _deps_inputs(Path(options.deps)) if options.deps is not None else []

    old = manifest.get("runtime")
    if old is not None and not isinstance(old, dict):
        raise _fail(
            "package_invalid_manifest", "runtime must be a JSON object", path="/runtime", source=doc.source
        )
    old = dict(old or {})
    target = old.pop("target", None)
    alias = old.pop("runtime_target", None)
    top_alias = manifest.pop("runtime_target", None)
    if target is None:
        target = alias if alias is not None else top_alias
    if target is None:
        warnings.append(
            RMError(
                "package_target_assumed",
                f"the manifest has no runtime.target; '{TARGET}' was written",
                source=doc.source,
            )
        )
        target = TARGET
    if target != TARGET:
        raise _fail(
            "package_unknown_target",
            f"runtime target {target!r} cannot be packed; RM Studio packages target '{TARGET}'",
            path="/runtime/target",
            source=doc.source,
            hint=KNOWN_NON_RUNNABLE.get(target) if isinstance(target, str) else None,
        )
    min_version = old.pop("min_version", None)
    if min_version is None:
        min_version = __version__
    elif parse_release(min_version) is None:
        raise _fail(
            "package_invalid_manifest",
            f"runtime.min_version must look like 1.2.3, not {min_version!r}",
            path="/runtime/min_version",
            source=doc.source,
        )
    contract = build_info.get("contract_version")
    if not isinstance(contract, int) or isinstance(contract, bool):
        contract = HOST_CONTRACT_VERSIONS[-1]
        warnings.append(
            RMError(
                "runtime_build_unknown",
                f"the runtime has no build record; guest contract {contract} is assumed",
                source=str(runtime_path),
            )
        )
    dropped = old.pop("models", None)
    if isinstance(dropped, dict) and set(dropped) - set(model_map):
        warnings.append(
            RMError(
                "package_model_not_bundled",
                "runtime.models of the input was replaced by the models bundled now: "
                + ", ".join(sorted(set(dropped) - set(model_map))),
                source=doc.source,
            )
        )
    for key in ("entry", "contract_version", "preopens"):
        old.pop(key, None)
    preopens = [
        guest
        for top, guest in GUEST_DIRS.items()
        if (top == MODELS_DIR and model_inputs) or (top == DEPS_DIR and deps_inputs)
    ]
    runtime: dict[str, Any] = {
        "target": TARGET,
        "entry": ENTRY,
        "min_version": min_version,
        "contract_version": contract,
        "preopens": preopens,
    }
    if model_map:
        runtime["models"] = dict(sorted(model_map.items()))
    runtime.update(old)
    manifest["runtime"] = runtime
    _, problems, _ = read_runtime_section(manifest, legacy=False)
    if problems:  # pragma: no cover - the section above is built to pass
        raise problems[0]
    for ref in models_link.model_references(manifest):
        bundled = ref.value in model_map or (
            ref.value.startswith("/models/") and ref.value[len("/models/") :] in model_map.values()
        )
        if not bundled:
            warnings.append(
                RMError(
                    "package_model_not_bundled",
                    f"node '{ref.node_id}' uses model '{ref.value}', which is not bundled; the package will "
                    "run with the user's own model (add --model to bundle it)",
                    source=doc.source,
                    node_id=ref.node_id,
                )
            )

    meta_in = manifest.get("metadata") if isinstance(manifest.get("metadata"), dict) else {}
    manifest_bytes = _json_bytes(manifest)
    runtime_size = runtime_path.stat().st_size
    inputs = [
        _Input(MANIFEST, data=manifest_bytes, size=len(manifest_bytes)),
        _Input(RUNTIME, path=runtime_path, size=runtime_size),
        *sorted(model_inputs, key=lambda i: i.name),
        *sorted(deps_inputs, key=lambda i: i.name),
    ]
    _check_collisions(inputs)
    _check_limits(inputs, options.limits)
    info, hints = _runtime_info(manifest, runtime_size)
    metadata: dict[str, Any] = {
        "format": FORMAT_NAME,
        "format_version": FORMAT_VERSION_TEXT,
        "package_name": _text_field("--name", options.name)
        or _string(meta_in.get("name"))
        or "unnamed-pipeline",
        "package_version": _text_field("--version", options.version)
        or _string(meta_in.get("version"))
        or "1.0.0",
    }
    for key, given in (
        ("description", options.description),
        ("author", options.author),
        ("license", options.license),
    ):
        value = _text_field(f"--{key}", given) or _string(meta_in.get(key))
        if value:
            metadata[key] = value
    metadata["created_at"] = created_timestamp(options.created)
    metadata["built_with"] = {"name": "rmstudio", "version": __version__}
    if build_info:
        metadata["runtime_build"] = build_info
    metadata["runtime_info"] = info
    metadata["performance_hints"] = hints

    try:
        made = make_parents(out_path.parent)
        fd, tmp_name = tempfile.mkstemp(prefix=f".{out_path.name[:64]}.", suffix=".tmp", dir=out_path.parent)
    except OSError as exc:
        raise _fail(
            "io_error",
            f"cannot write {out_path}: {exc.strerror or exc}",
            hint="Choose an output path in a folder you can write to",
        ) from None
    tmp = Path(tmp_name)
    try:
        with os.fdopen(fd, "w+b") as f:
            files = _write_archive(f, inputs, metadata, options.limits)
            f.flush()
            os.fsync(f.fileno())
        from rmstudio.core.package.verify import verify_package

        check = verify_package(tmp, options.limits)
        if not check.ok:  # pragma: no cover - would be a bug in this module
            raise check.errors[0]
        os.chmod(tmp, 0o644)
        os.replace(tmp, out_path)
    except BaseException as exc:
        tmp.unlink(missing_ok=True)
        remove_made(made, out_path.parent)
        if isinstance(exc, OSError) and not isinstance(exc, RMError):
            raise _fail(
                "io_error",
                f"cannot write {out_path}: {exc.strerror or exc}",
                hint="Check the free space and permissions of the output folder",
            ) from None
        raise
    return BuildResult(
        path=out_path,
        sha256=check.package_sha256 or "",
        size=out_path.stat().st_size,
        members=[{"name": n, **v} for n, v in files.items()],
        manifest=manifest,
        metadata=metadata,
        warnings=warnings,
    )


def _string(value: Any) -> str | None:
    return value if isinstance(value, str) and value.strip() else None


def _write_archive(
    f: Any, inputs: list[_Input], metadata: dict[str, Any], limits: PackageLimits
) -> dict[str, dict[str, Any]]:
    files: dict[str, dict[str, Any]] = {}
    with zipfile.ZipFile(f, "w", allowZip64=True) as zf:
        for item in inputs:
            h = hashlib.sha256()
            size = 0
            zi = _zip_info(item.name, item.size)
            with zf.open(zi, "w") as dst:
                if item.data is not None:
                    h.update(item.data)
                    dst.write(item.data)
                    size = len(item.data)
                else:
                    assert item.path is not None
                    with open(item.path, "rb") as src:
                        while block := src.read(CHUNK):
                            h.update(block)
                            dst.write(block)
                            size += len(block)
            if size != item.size:
                raise _fail(
                    "io_error",
                    f"{item.path} changed while the package was being built",
                    source=str(item.path),
                    hint="Build again once nothing is writing to it",
                )
            if size > limits.ratio_floor_bytes and size > limits.max_ratio * max(zi.compress_size, 1):
                raise _fail(
                    "package_zip_bomb",
                    f"{item.name} compresses {size / max(zi.compress_size, 1):.0f} times, more than "
                    "readers accept "
                    f"({limits.max_ratio} times)",
                    source=str(item.path or item.name),
                    hint="A file that is almost all repetition looks like a zip bomb; "
                    "leave it out or compress it",
                )
            files[item.name] = {"sha256": h.hexdigest(), "size": size}
        metadata["files"] = files
        data = _json_bytes(metadata)
        if len(data) > limits.max_json_bytes:
            raise _fail("package_too_large", "metadata.json would exceed its size limit")
        zi = _zip_info(METADATA, len(data))
        with zf.open(zi, "w") as dst:
            dst.write(data)
    return files


def build_from_text(
    manifest_text: str, out: str | os.PathLike[str], default_model: str | None = None
) -> tuple[BuildResult, list[str]]:
    """Build a package from an editor's unsaved text, bundling every model the manifest uses
    that the user's store has; returns the result and the model names it could not bundle
    (the package then falls back to the runner's own model, docs/RMPKG.md).

    ``default_model`` is the model the user chose for "default" (the GUI's Models view): a
    manifest that says ``"model": "default"`` gets that file under the name ``default``.
    """
    manifest = json.loads(manifest_text)
    found, missing = models_link.store_models_for(manifest if isinstance(manifest, dict) else {})
    specs = []
    for name in found:
        if name == "default" and default_model and default_model != "default":
            specs.append(f"default={models_link.resolve_for_pack(default_model)}")
        else:
            specs.append(name)
    with tempfile.TemporaryDirectory(prefix="rmstudio-build-") as tmp:
        path = Path(tmp) / "manifest.json"
        path.write_text(manifest_text, encoding="utf-8")
        result = build_package(path, out, BuildOptions(models=specs, force=True))
    return result, missing

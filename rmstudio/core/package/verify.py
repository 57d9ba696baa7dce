"""Verifying a package: stage 3 of docs/RMPKG.md, on top of the checked reader.

:func:`verify_package` streams every member exactly once, hashing it and (when a sink is
given, as extraction does) handing the bytes on, and compares everything with metadata.json.
Stages 1 and 2 raise at the first violation; stage 3 collects findings so ``inspect`` can
show them all, or raises at the first one with ``fail_fast`` (extraction, runs).
"""

from __future__ import annotations

import hashlib
import os
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

from rmstudio.core.errors import RMError
from rmstudio.core.manifest import validate_data
from rmstudio.core.manifest.document import parse_json
from rmstudio.core.package import names
from rmstudio.core.package.format import (
    DEFAULT_LIMITS,
    FORMAT_NAME,
    FORMAT_VERSION,
    FORMAT_VERSION_TEXT,
    GUEST_DIRS,
    MANIFEST,
    METADATA,
    MODELS_DIR,
    RUNTIME,
    WASM_MAGIC,
    PackageLimits,
    parse_format_version,
)
from rmstudio.core.package.models_link import model_references
from rmstudio.core.package.read import Member, PackageReader
from rmstudio.core.package.runtime_section import RuntimeSection, read_runtime_section, run_requirements

_SHA256 = re.compile(r"^[0-9a-f]{64}$")


class MemberSink(Protocol):
    """Receives each member's bytes as they are verified (extraction writes them to disk)."""

    def directory(self, member: Member) -> None: ...

    def begin(self, member: Member) -> None: ...

    def write(self, data: bytes) -> None: ...

    def end(self) -> None: ...


@dataclass
class MemberReport:
    name: str
    kind: str
    size: int
    packed: int
    sha256: str | None = None
    expected_sha256: str | None = None
    expected_size: int | None = None
    # ok, hash_mismatch, size_mismatch, unlisted, missing, unverified, directory, unread
    status: str = "unread"

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "name": self.name,
            "kind": self.kind,
            "size": self.size,
            "packed_size": self.packed,
            "sha256": self.sha256,
            "status": self.status,
        }
        if self.expected_sha256 is not None and self.expected_sha256 != self.sha256:
            out["expected_sha256"] = self.expected_sha256
        if self.expected_size is not None and self.expected_size != self.size:
            out["expected_size"] = self.expected_size
        return out


@dataclass
class PackageReport:
    """Everything learned about a package while verifying it."""

    path: Path
    file_size: int = 0
    package_sha256: str | None = None
    format_version: str | None = None
    legacy: bool = False
    manifest: dict[str, Any] | None = None
    metadata: dict[str, Any] | None = None
    runtime: RuntimeSection | None = None
    members: list[MemberReport] = field(default_factory=list)
    errors: list[RMError] = field(default_factory=list)
    warnings: list[RMError] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        """Structure safe and nothing wrong (a legacy package is never ``ok``: nothing to verify)."""
        return not self.errors

    def member(self, name: str) -> MemberReport | None:
        return next((m for m in self.members if m.name == name), None)

    def bundled(self, top: str) -> list[MemberReport]:
        return [m for m in self.members if m.kind == top]

    def raise_first(self) -> None:
        if self.errors:
            raise self.errors[0]


class _Stop(Exception):
    pass


class _Scan:
    def __init__(
        self, reader: PackageReader, sink: MemberSink | None, fail_fast: bool, allow_legacy: bool
    ) -> None:
        self.reader = reader
        self.sink = sink
        self.fail_fast = fail_fast
        self.allow_legacy = allow_legacy
        self.report = PackageReport(path=reader.path, file_size=reader.file_size)
        self.expected: dict[str, dict[str, Any]] | None = None
        self.source = reader.source

    def error(
        self, code: str, message: str, *, path: str | None = None, hint: str | None = None, **kw: Any
    ) -> None:
        err = RMError(code, message, path=path, source=kw.pop("source", self.source), hint=hint, **kw)
        self.report.errors.append(err)
        if self.fail_fast:
            raise err

    def warn(self, err: RMError) -> None:
        self.report.warnings.append(err)

    # ------------------------------------------------------------------
    def run(self, hash_file: bool) -> PackageReport:
        r = self.report
        r.warnings.extend(self.reader.warnings)
        r.members = [
            MemberReport(m.name, m.kind, m.size, m.packed, status="directory" if m.is_dir else "unread")
            for m in self.reader.members
        ]
        if hash_file:
            r.package_sha256 = self.reader.file_sha256()
        self._metadata()
        self._manifest()
        for m in self.reader.members:
            if m.name in (METADATA, MANIFEST):
                continue
            if m.is_dir:
                if self.sink is not None:
                    self.sink.directory(m)
                continue
            self._stream(m)
        self._finish()
        return r

    def _read_json_member(self, m: Member) -> tuple[bytes, str | None]:
        data = self.reader.read_all(m)
        self._deliver(m, data)
        self._compare(m, hashlib.sha256(data).hexdigest(), len(data))
        try:
            return data, data.decode("utf-8")
        except UnicodeDecodeError:
            return data, None

    def _deliver(self, m: Member, data: bytes) -> None:
        if self.sink is not None:
            self.sink.begin(m)
            self.sink.write(data)
            self.sink.end()

    # ------------------------------------------------------------------ metadata.json
    def _metadata(self) -> None:
        r = self.report
        m = self.reader.member(METADATA)
        if m is None:
            self._legacy("the package has no metadata.json")
            return
        data = self.reader.read_all(m)
        self._deliver(m, data)
        rep = r.member(METADATA)
        if rep is not None:
            rep.sha256, rep.status = hashlib.sha256(data).hexdigest(), "ok"
        meta = _parse_json(data)
        if not isinstance(meta, dict):
            self.error(
                "package_invalid_metadata",
                "metadata.json is not a JSON object"
                if meta is not _INVALID
                else "metadata.json is not valid JSON",
                path=METADATA,
            )
            return
        r.metadata = meta
        if "format" not in meta:
            self._legacy("metadata.json has no 'format'")
            return
        if meta.get("format") != FORMAT_NAME:
            self.error(
                "package_invalid_metadata",
                f"metadata.json says format {meta.get('format')!r}, not {FORMAT_NAME!r}",
                path=f"{METADATA}#/format",
            )
            return
        version = parse_format_version(meta.get("format_version"))
        if version is None:
            self.error(
                "package_invalid_metadata",
                f'metadata.json format_version must look like "1.0", not {meta.get("format_version")!r}',
                path=f"{METADATA}#/format_version",
            )
            return
        r.format_version = f"{version[0]}.{version[1]}"
        if version[0] != FORMAT_VERSION[0]:
            err = RMError(
                "package_version_unsupported",
                f"this package uses .rmpkg format {r.format_version}; this RM Studio reads format "
                f"{FORMAT_VERSION[0]}.x",
                source=self.source,
                hint="Update RM Studio to open it"
                if version[0] > FORMAT_VERSION[0]
                else "Rebuild the package with this RM Studio",
            )
            raise err
        if version[1] > FORMAT_VERSION[1]:
            self.warn(
                RMError(
                    "package_newer_minor",
                    f"the package uses format {r.format_version}, newer than this RM Studio's "
                    f"{FORMAT_VERSION_TEXT}; fields this version does not know were ignored",
                    source=self.source,
                )
            )
        files = meta.get("files")
        if not isinstance(files, dict):
            self.error(
                "package_invalid_metadata", "metadata.json has no 'files' object", path=f"{METADATA}#/files"
            )
            return
        expected: dict[str, dict[str, Any]] = {}
        for name, entry in files.items():
            where = f"{METADATA}#/files/{name}"
            problem = names.name_problem(name) or (
                None if names.layout_kind(name) not in (None, "dir") else "not a member a package may hold"
            )
            if name == METADATA:
                problem = "metadata.json cannot list itself"
            if problem:
                self.error("package_invalid_metadata", f"metadata.json lists {name!r}: {problem}", path=where)
                continue
            if not (
                isinstance(entry, dict)
                and isinstance(entry.get("sha256"), str)
                and _SHA256.match(entry["sha256"])
                and isinstance(entry.get("size"), int)
                and not isinstance(entry.get("size"), bool)
                and entry["size"] >= 0
            ):
                self.error(
                    "package_invalid_metadata",
                    f"metadata.json entry for {name!r} needs a 64-digit lowercase sha256 and a size",
                    path=where,
                )
                continue
            expected[name] = entry
        self.expected = expected
        for key in ("package_name", "package_version", "created_at"):
            if not isinstance(meta.get(key), str):
                self.warn(
                    RMError("package_metadata_incomplete", f"metadata.json has no {key}", source=self.source)
                )

    def _legacy(self, why: str) -> None:
        self.report.legacy = True
        self.warn(
            RMError(
                "package_legacy",
                f"{why}: this is a RemoteMedia v1 package without hashes, so its integrity cannot be checked",
                source=self.source,
                hint="Rebuild it with `rmstudio pack` from its manifest to run it in RM Studio",
            )
        )
        if not self.allow_legacy:
            self.error(
                "package_unverified",
                "the package has no hashes (a RemoteMedia v1 package), so it cannot be verified",
                hint="Rebuild it with `rmstudio pack` from its manifest",
            )

    # ------------------------------------------------------------------ manifest.json
    def _manifest(self) -> None:
        r = self.report
        m = self.reader.member(MANIFEST)
        if m is None:
            self.error(
                "package_missing_member",
                "the package has no manifest.json",
                path=MANIFEST,
                hint="Every package holds manifest.json and runtime.wasm",
            )
            return
        data, text = self._read_json_member(m)
        manifest = _parse_json(data) if text is not None else _INVALID
        if manifest is _INVALID:
            self.error("package_invalid_manifest", "manifest.json is not valid UTF-8 JSON", path=MANIFEST)
            return
        if not isinstance(manifest, dict):
            self.error("package_invalid_manifest", "manifest.json is not a JSON object", path=MANIFEST)
            return
        r.manifest = manifest
        report = validate_data(manifest)
        for err in report.errors:
            self.error(
                "package_invalid_manifest",
                f"manifest.json is not a valid pipeline: {err.message}",
                path=err.path,
                node_id=err.node_id,
                hint=err.hint,
                source=f"{self.source}:{MANIFEST}",
                details={"validator_code": err.code},
            )
        section, errors, warnings = read_runtime_section(manifest, legacy=r.legacy, source=self.source)
        r.runtime = section
        for err in warnings:
            self.warn(err)
        for err in errors:
            self.report.errors.append(err)
            if self.fail_fast:
                raise err

    # ------------------------------------------------------------------ other members
    def _stream(self, m: Member) -> None:
        h = hashlib.sha256()
        head = b""
        size = 0
        if self.sink is not None:
            self.sink.begin(m)
        for chunk in self.reader.stream(m):
            if len(head) < len(WASM_MAGIC):
                head += chunk[: len(WASM_MAGIC) - len(head)]
            h.update(chunk)
            size += len(chunk)
            if self.sink is not None:
                self.sink.write(chunk)
        if self.sink is not None:
            self.sink.end()
        if m.name == RUNTIME and head != WASM_MAGIC:
            what = (
                "a WebAssembly component, not a core module"
                if head[:4] == WASM_MAGIC[:4]
                else "not WebAssembly"
            )
            self.error(
                "package_not_wasm",
                f"runtime.wasm is {what} (it starts with {head.hex(' ') or 'nothing'})",
                path=RUNTIME,
                hint="runtime.wasm must be a WASI preview 1 command module "
                "such as RM Studio's rm_executor.wasm",
            )
        self._compare(m, h.hexdigest(), size)

    def _compare(self, m: Member, sha: str, size: int) -> None:
        rep = self.report.member(m.name)
        assert rep is not None
        rep.sha256 = sha
        if self.expected is None:
            rep.status = "unverified"
            return
        entry = self.expected.get(m.name)
        if entry is None:
            rep.status = "unlisted"
            self.error(
                "package_unlisted_member",
                f"member {m.name!r} is not listed in metadata.json",
                path=m.name,
                hint="Something was added to the package after it was built",
            )
            return
        rep.expected_sha256, rep.expected_size = entry["sha256"], entry["size"]
        if size != entry["size"]:
            rep.status = "size_mismatch"
            self.error(
                "package_size_mismatch",
                f"member {m.name!r} is {size} bytes; metadata.json says {entry['size']}",
                path=m.name,
                hint="The package was changed or damaged after it was built",
            )
        elif sha != entry["sha256"]:
            rep.status = "hash_mismatch"
            self.error(
                "package_hash_mismatch",
                f"member {m.name!r} has sha256 {sha[:16]}..., metadata.json says {entry['sha256'][:16]}...",
                path=m.name,
                hint="The package was changed or damaged after it was built; do not run it",
            )
        else:
            rep.status = "ok"

    # ------------------------------------------------------------------ after all members
    def _finish(self) -> None:
        r = self.report
        present = {m.name for m in self.reader.members}
        if RUNTIME not in present:
            self.error(
                "package_missing_member",
                "the package has no runtime.wasm",
                path=RUNTIME,
                hint="Every package holds manifest.json and runtime.wasm",
            )
        if self.expected is not None:
            for name, entry in self.expected.items():
                if name not in present:
                    r.members.append(
                        MemberReport(
                            name,
                            names.layout_kind(name) or "?",
                            0,
                            0,
                            None,
                            entry["sha256"],
                            entry["size"],
                            "missing",
                        )
                    )
                    self.error(
                        "package_missing_member",
                        f"member {name!r} is listed in metadata.json but missing from the package",
                        path=name,
                    )
        if r.runtime is None or r.manifest is None:
            return
        for top, guest in GUEST_DIRS.items():
            if r.bundled(top) and guest not in r.runtime.preopens:
                self.warn(
                    RMError(
                        "package_unused_dir",
                        f"the package bundles {top}/ but its manifest does not ask for {guest}; the guest "
                        "will not see those files",
                        source=self.source,
                    )
                )
            elif guest in r.runtime.preopens and not r.bundled(top):
                self.warn(
                    RMError(
                        "package_unused_dir",
                        f"the manifest asks for {guest} but the package has no {top}/; "
                        "nothing is mounted there",
                        source=self.source,
                    )
                )
        for ref in unbundled_models(r):
            self.warn(
                RMError(
                    "package_model_not_bundled",
                    f"node '{ref.node_id}' uses model '{ref.value}', which the package does not bundle; "
                    "it will run with a model from your model store instead",
                    source=f"{self.source}:{MANIFEST}",
                    path=f"/nodes/{ref.index}/params/{ref.key}",
                    node_id=ref.node_id,
                )
            )
        for err in run_requirements(r.runtime, self.source):
            self.warn(err)


def bundled_model_files(report: PackageReport) -> set[str]:
    """Paths under models/ (without the prefix) of the models the package holds."""
    return {
        m.name[len(MODELS_DIR) + 1 :]
        for m in report.members
        if m.kind == MODELS_DIR and m.status != "missing"
    }


def unbundled_models(report: PackageReport) -> list[Any]:
    """Model references in the manifest that the package's own models/ cannot satisfy."""
    if report.manifest is None or report.runtime is None:
        return []
    files = bundled_model_files(report) if "/models" in report.runtime.preopens else set()
    out = []
    for ref in model_references(report.manifest):
        rel = report.runtime.models.get(ref.value)
        if rel is not None and rel in files:
            continue
        if ref.value.startswith("/models/") and ref.value[len("/models/") :] in files:
            continue
        out.append(ref)
    return out


_INVALID: Any = object()


def _parse_json(data: bytes) -> Any:
    # Strict (core.manifest.document.parse_json): a duplicate "files" key would let readers
    # that keep the first and readers that keep the last see different hash lists.
    try:
        return parse_json(data.decode("utf-8"))
    except (UnicodeDecodeError, RMError):
        return _INVALID


def verify_package(
    path: str | os.PathLike[str],
    limits: PackageLimits = DEFAULT_LIMITS,
    *,
    sink: MemberSink | None = None,
    fail_fast: bool = False,
    hash_file: bool = True,
    allow_legacy: bool = False,
) -> PackageReport:
    """Check a package completely. Stage 1-2 problems raise; stage 3 findings are in the report.

    A legacy package (no hashes) gets the error ``package_unverified`` unless ``allow_legacy``.
    """
    with PackageReader(path, limits) as reader:
        return _Scan(reader, sink, fail_fast, allow_legacy).run(hash_file)


def verify_or_raise(path: str | os.PathLike[str], limits: PackageLimits = DEFAULT_LIMITS) -> PackageReport:
    report = verify_package(path, limits)
    report.raise_first()
    return report

"""Running a package: verify, extract to the run cache, and say exactly what the guest may see.

:func:`prepare_run` returns a :class:`PreparedPackage`: the package's manifest (as a
:class:`ManifestDocument`), a :class:`GuestRuntime` for the package's **own** runtime.wasm,
and the preopens — only the package's extracted ``models/`` at ``/models`` and ``deps/`` at
``/deps``, read-only, and only those its manifest asks for. :meth:`PreparedPackage.apply`
turns any :class:`RunRequest` into one that uses exactly those preopens (whatever the request
had), so a manifest can never make the guest see another host path.
"""

from __future__ import annotations

import copy
import json
import os
import shutil
import stat
import threading
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from rmstudio.core.audio.item import GUEST_INPUT_DIR
from rmstudio.core.engine import GuestRuntime, RunControl, WasmEngine
from rmstudio.core.errors import RMError
from rmstudio.core.manifest import ManifestDocument, from_text
from rmstudio.core.package import models_link
from rmstudio.core.package.extract import extract_package
from rmstudio.core.package.format import (
    DEFAULT_LIMITS,
    DEPS_DIR,
    FALLBACK_MODELS_GUEST_DIR,
    GUEST_DIRS,
    MANIFEST,
    METADATA,
    MODELS_DIR,
    RUNTIME,
    PackageLimits,
)
from rmstudio.core.package.read import PackageReader
from rmstudio.core.package.runtime_section import RuntimeSection, read_runtime_section, run_requirements
from rmstudio.core.paths import cache_dir
from rmstudio.core.runs import EventCallback, Preopen, RunRequest, RunResult

STAMP = ".rmstudio-extracted.json"
STAMP_VERSION = 1


def package_cache_dir() -> Path:
    return cache_dir() / "packages"


@dataclass
class PreparedPackage:
    """A verified, extracted package ready to run."""

    path: Path
    package_id: str
    root: Path
    document: ManifestDocument
    metadata: dict[str, Any]
    runtime_section: RuntimeSection
    runtime: GuestRuntime
    preopens: list[Preopen]
    model_options: dict[str, str] = field(default_factory=dict)
    warnings: list[RMError] = field(default_factory=list)
    cache: str = "miss"  # "hit": the extracted entry was reused
    _run_manifest: dict[str, Any] | None = field(default=None, repr=False)

    @property
    def manifest(self) -> dict[str, Any]:
        return self.document.data

    def apply(self, request: RunRequest) -> RunRequest:
        """``request`` with this package's manifest adjustments, model map and *only* its preopens.

        The one exception is the run's own input directory (``/input``, made by the host for the
        audio file the user chose, never named by a manifest).
        """
        options = dict(request.options)
        if self.model_options:
            models = dict(options.get("models") or {}) if isinstance(options.get("models"), dict) else {}
            models.update(self.model_options)
            options["models"] = models
        manifest = request.manifest
        if self._run_manifest is not None and manifest is self.document.data:
            manifest = self._run_manifest
        inputs = [p for p in request.preopens if p.guest_path == GUEST_INPUT_DIR]
        return replace(request, manifest=manifest, options=options, preopens=[*self.preopens, *inputs])

    def engine(self) -> WasmEngine:
        return _engine_for(self.runtime)

    def run(
        self, request: RunRequest, on_event: EventCallback | None = None, control: RunControl | None = None
    ) -> RunResult:
        """Run ``request`` in the package's own runtime with only the package's directories visible."""
        try:
            engine = self.engine()
        except RMError as exc:
            return RunResult(ok=False, engine="wasm", error=exc)
        return engine.run(self.apply(request), on_event, control)


_ENGINES: dict[str, WasmEngine] = {}
_ENGINES_LOCK = threading.Lock()


def _engine_for(runtime: GuestRuntime) -> WasmEngine:
    key = str(runtime.path)
    with _ENGINES_LOCK:
        engine = _ENGINES.get(key)
        if engine is None:
            engine = _ENGINES[key] = WasmEngine(runtime)
        return engine


# ---------------------------------------------------------------------- the cache entry
def _snapshot(root: Path) -> dict[str, list[int]]:
    """Every file under ``root`` (the stamp excepted) with its size and mtime; links refuse."""
    out: dict[str, list[int]] = {}
    for dirpath, dirnames, filenames in os.walk(root, followlinks=False):
        for entry in [*dirnames, *filenames]:
            p = Path(dirpath) / entry
            st = os.lstat(p)
            rel = p.relative_to(root).as_posix()
            if stat.S_ISLNK(st.st_mode):
                raise ValueError(f"link in cache entry: {rel}")
            if stat.S_ISREG(st.st_mode) and rel != STAMP:
                out[rel] = [st.st_size, st.st_mtime_ns]
            elif not stat.S_ISREG(st.st_mode) and not stat.S_ISDIR(st.st_mode):
                raise ValueError(f"special file in cache entry: {rel}")
    return out


def _write_stamp(root: Path, package_id: str) -> None:
    stamp = {"stamp_version": STAMP_VERSION, "package_sha256": package_id, "files": _snapshot(root)}
    (root / STAMP).write_text(json.dumps(stamp, sort_keys=True), encoding="utf-8")


def _intact(root: Path, package_id: str) -> bool:
    """The entry is exactly what was extracted: same files, sizes and times, no links."""
    try:
        if root.is_symlink() or not root.is_dir():
            return False
        stamp = json.loads((root / STAMP).read_text(encoding="utf-8"))
        if stamp.get("stamp_version") != STAMP_VERSION or stamp.get("package_sha256") != package_id:
            return False
        return _snapshot(root) == stamp.get("files")
    except (OSError, ValueError, AttributeError):
        return False


def _file_id(path: Path, limits: PackageLimits) -> tuple[str, os.stat_result, list[RMError]]:
    """Stage 1 and 2 checks (cheap: no member data is read) and the package id, through one handle."""
    with PackageReader(path, limits) as reader:
        return reader.file_sha256(), os.fstat(reader.fileno()), list(reader.warnings)


def _extract_to_cache(
    path: Path, package_id: str, before: os.stat_result, limits: PackageLimits
) -> tuple[Path, str]:
    root = package_cache_dir() / package_id
    if _intact(root, package_id):
        return root, "hit"
    if root.exists() or root.is_symlink():
        _remove(root)

    def commit(tmp: Path, report: Any) -> None:
        if report.package_sha256 != package_id:
            raise RMError(
                "package_changed",
                "the package file changed while it was being read",
                source=str(path),
                hint="Run it again once nothing is writing to it",
            )
        _write_stamp(tmp, package_id)

    try:
        extract_package(path, root, limits, allow_legacy=False, before_commit=commit)
    except RMError as exc:
        if exc.code == "package_exists" and _intact(root, package_id):
            return root, "hit"  # another process extracted the same package at the same moment
        raise
    after = os.stat(path)
    if (after.st_size, after.st_mtime_ns) != (before.st_size, before.st_mtime_ns):
        _remove(root)
        raise RMError("package_changed", "the package file changed while it was being read", source=str(path))
    return root, "miss"


def _remove(root: Path) -> None:
    if root.is_symlink() or root.is_file():
        root.unlink()
    else:
        shutil.rmtree(root, ignore_errors=True)


# ---------------------------------------------------------------------- preparation
def prepare_run(path: str | os.PathLike[str], limits: PackageLimits = DEFAULT_LIMITS) -> PreparedPackage:
    """Verify and extract ``path`` (or reuse its intact cache entry) and describe the run."""
    path = Path(path)
    package_id, before, warnings = _file_id(path, limits)
    root, cache = _extract_to_cache(path, package_id, before, limits)
    source = str(path)
    text = (root / MANIFEST).read_text(encoding="utf-8")
    document = from_text(text, f"{source}:{MANIFEST}")
    metadata = json.loads((root / METADATA).read_text(encoding="utf-8"))
    section, errors, section_warnings = read_runtime_section(document.data, legacy=False, source=source)
    if errors:  # verified at extraction; only a tampered cache entry could get here
        raise errors[0]
    warnings.extend(section_warnings)
    problems = run_requirements(section, source)
    if problems:
        raise problems[0]
    preopens: list[Preopen] = []
    for top in (MODELS_DIR, DEPS_DIR):
        guest = GUEST_DIRS[top]
        if guest in section.preopens and (root / top).is_dir():
            preopens.append(Preopen(root / top, guest))
    build_info = metadata.get("runtime_build") if isinstance(metadata.get("runtime_build"), dict) else {}
    runtime = GuestRuntime(root / RUNTIME, dict(build_info))
    prepared = PreparedPackage(
        path=path,
        package_id=package_id,
        root=root,
        document=document,
        metadata=metadata,
        runtime_section=section,
        runtime=runtime,
        preopens=preopens,
        warnings=warnings,
        cache=cache,
    )
    _resolve_models(prepared)
    return prepared


def _resolve_models(pkg: PreparedPackage) -> None:
    """Map bundled models for the guest; fall back to the user's model for missing ones."""
    section = pkg.runtime_section
    models_root = pkg.root / MODELS_DIR
    mounted = any(p.guest_path == GUEST_DIRS[MODELS_DIR] for p in pkg.preopens)

    def bundled(rel: str) -> bool:
        return mounted and (models_root / rel).is_file()

    for name, rel in section.models.items():
        if bundled(rel):
            pkg.model_options[name] = f"{GUEST_DIRS[MODELS_DIR]}/{rel}"
    manifest: dict[str, Any] | None = None
    staged: dict[Path, str] = {}
    for ref in models_link.model_references(pkg.manifest):
        value = ref.value
        if value in pkg.model_options:
            continue
        if value.startswith(GUEST_DIRS[MODELS_DIR] + "/") and bundled(
            value[len(GUEST_DIRS[MODELS_DIR]) + 1 :]
        ):
            continue
        found = models_link.find_fallback(value)
        if found is None:
            raise RMError(
                "package_model_missing",
                f"node '{ref.node_id}' uses model '{value}', which the package does not bundle, and no model "
                "of yours can stand in for it",
                source=f"{pkg.path}:{MANIFEST}",
                path=f"/nodes/{ref.index}/params/{ref.key}",
                node_id=ref.node_id,
                hint="Rebuild the package with --model, or set up the default model (rmstudio models)",
            )
        name, file_path, exact = found
        directory = models_link.stage_model(file_path)
        if directory not in staged:
            guest = FALLBACK_MODELS_GUEST_DIR if not staged else f"{FALLBACK_MODELS_GUEST_DIR}-{len(staged)}"
            staged[directory] = guest
            pkg.preopens.append(Preopen(directory, guest))
        guest_file = f"{staged[directory]}/{file_path.name}"
        if value.startswith("/"):
            if manifest is None:
                manifest = copy.deepcopy(pkg.manifest)
            manifest["nodes"][ref.index]["params"][ref.key] = guest_file
        else:
            pkg.model_options[value] = guest_file
        how = "your model of the same name" if exact else f"your default model '{name}'"
        pkg.warnings.append(
            RMError(
                "package_model_fallback",
                f"the package does not bundle model '{value}' (node '{ref.node_id}'); using {how} instead",
                source=str(pkg.path),
                node_id=ref.node_id,
            )
        )
    pkg._run_manifest = manifest

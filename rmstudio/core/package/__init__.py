""".rmpkg packages: build, verify, inspect, extract and run them safely (docs/RMPKG.md).

Pure Python (zipfile for the central directory, zlib and hashlib), no Qt. What callers use:

* :func:`build_package` / :class:`BuildOptions` — deterministic, atomic builds;
* :func:`verify_package` -> :class:`PackageReport` — every safety rule and every hash;
* :func:`inspect_package`, :func:`summarize`, :func:`render` — what ``inspect`` shows;
* :func:`extract_package` — all-or-nothing extraction into a new or empty directory;
* :func:`prepare_run` -> :class:`PreparedPackage` — the run cache, the package's own runtime
  and its read-only preopens;
* :func:`is_package_file` — recognise a package by its magic bytes (or its name).

Every failure is an :class:`~rmstudio.core.errors.RMError` with a ``package_*`` code.
Names are imported on first use, so ``rmstudio.core.package.format`` stays cheap to import
(the CLI builds its parser without loading wasmtime or the manifest validator).
"""

from __future__ import annotations

import importlib
from typing import Any

_EXPORTS = {
    "BuildOptions": "build",
    "BuildResult": "build",
    "build_package": "build",
    "build_from_text": "build",
    "extract_package": "extract",
    "DEFAULT_LIMITS": "format",
    "FORMAT_VERSION_TEXT": "format",
    "PackageLimits": "format",
    "is_package_file": "format",
    "inspect_package": "inspect",
    "render": "inspect",
    "summarize": "inspect",
    "PreparedPackage": "run",
    "package_cache_dir": "run",
    "prepare_run": "run",
    "PackageReport": "verify",
    "verify_package": "verify",
}

__all__ = sorted(_EXPORTS)


def __getattr__(name: str) -> Any:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(importlib.import_module(f"{__name__}.{module}"), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted([*globals(), *_EXPORTS])

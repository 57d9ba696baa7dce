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
"""

from rmstudio.core.package.build import BuildOptions, BuildResult, build_package
from rmstudio.core.package.extract import extract_package
from rmstudio.core.package.format import DEFAULT_LIMITS, FORMAT_VERSION_TEXT, PackageLimits, is_package_file
from rmstudio.core.package.inspect import inspect_package, render, summarize
from rmstudio.core.package.run import PreparedPackage, package_cache_dir, prepare_run
from rmstudio.core.package.verify import PackageReport, verify_package

__all__ = [
    "DEFAULT_LIMITS",
    "FORMAT_VERSION_TEXT",
    "BuildOptions",
    "BuildResult",
    "PackageLimits",
    "PackageReport",
    "PreparedPackage",
    "build_package",
    "extract_package",
    "inspect_package",
    "is_package_file",
    "package_cache_dir",
    "prepare_run",
    "render",
    "summarize",
    "verify_package",
]

"""Constants of the ``.rmpkg`` format (docs/RMPKG.md): names, versions, magic bytes, limits."""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

from rmstudio.core.errors import RMError

FORMAT_NAME = "rmpkg"
FORMAT_VERSION = (1, 0)
FORMAT_VERSION_TEXT = f"{FORMAT_VERSION[0]}.{FORMAT_VERSION[1]}"
EXTENSION = ".rmpkg"

MANIFEST = "manifest.json"
RUNTIME = "runtime.wasm"
METADATA = "metadata.json"
ROOT_FILES = (MANIFEST, RUNTIME, METADATA)
MODELS_DIR = "models"
DEPS_DIR = "deps"
# Package directory -> where the guest sees it (read-only). Nothing else is ever mounted
# from a package; the manifest's runtime.preopens only picks from this table.
GUEST_DIRS = {MODELS_DIR: "/models", DEPS_DIR: "/deps"}
ALLOWED_PREOPENS = tuple(GUEST_DIRS.values())
# Where the host mounts the one fallback model it picks when a package lacks a model.
FALLBACK_MODELS_GUEST_DIR = "/user-models"

TARGET = "wasm32-wasi"
ENTRY = RUNTIME
# Guest contract versions this host can drive (docs/CONTRACT.md).
HOST_CONTRACT_VERSIONS = (1,)

ZIP_MAGICS = (b"PK\x03\x04", b"PK\x05\x06")
ZSTD_MAGIC = b"\x28\xb5\x2f\xfd"
WASM_MAGIC = b"\x00asm\x01\x00\x00\x00"

# Deterministic writing.
ZIP_EPOCH = (1980, 1, 1, 0, 0, 0)
COMPRESS_LEVEL = 9
FILE_MODE = 0o644
DIR_MODE = 0o755

CHUNK = 1 << 20

KiB = 1 << 10
MiB = 1 << 20
GiB = 1 << 30


@dataclass(frozen=True)
class PackageLimits:
    """Bounds applied to every package read (docs/RMPKG.md, "Limits")."""

    max_file_bytes: int = 8 * GiB
    max_members: int = 10_000
    max_member_bytes: int = 4 * GiB
    max_json_bytes: int = 16 * MiB
    max_total_bytes: int = 8 * GiB
    max_ratio: int = 100
    ratio_floor_bytes: int = 1 * MiB

    @classmethod
    def with_total(cls, total_bytes: int) -> PackageLimits:
        """Default limits with the total (and file-size) bound set to ``total_bytes``."""
        return cls(
            max_file_bytes=total_bytes,
            max_total_bytes=total_bytes,
            max_member_bytes=min(cls.max_member_bytes, total_bytes),
        )


DEFAULT_LIMITS = PackageLimits()

_VERSION_RE = re.compile(r"^(\d{1,6})\.(\d{1,6})$")
_RELEASE_RE = re.compile(r"^(\d{1,6})(?:\.(\d{1,6}))?(?:\.(\d{1,6}))?$")


def parse_format_version(text: object) -> tuple[int, int] | None:
    """``"1.0"`` -> ``(1, 0)``; None for anything that is not ``MAJOR.MINOR``."""
    if not isinstance(text, str):
        return None
    m = _VERSION_RE.match(text)
    return (int(m.group(1)), int(m.group(2))) if m else None


def parse_release(text: object) -> tuple[int, int, int] | None:
    """An RM Studio version ``"0.1.0"`` (``"0.1"``, ``"1"`` too) as a comparable tuple."""
    if not isinstance(text, str):
        return None
    m = _RELEASE_RE.match(text.strip())
    if not m:
        return None
    return (int(m.group(1)), int(m.group(2) or 0), int(m.group(3) or 0))


def sniff(path: Path, head: bytes | None = None) -> str:
    """What the first bytes say a file is: "zip", "oci", or "other"."""
    if head is None:
        try:
            with open(path, "rb") as f:
                head = f.read(8)
        except OSError:
            return "other"
    if head[:4] in ZIP_MAGICS:
        return "zip"
    if head[:4] == ZSTD_MAGIC:
        return "oci"
    return "other"


def is_package_file(path: str | Path) -> bool:
    """True when ``path`` should be handled as a package: by its magic bytes, or by its name.

    A ``.rmpkg`` name with other content is still routed to the package reader so the user
    gets "not a package" rather than a confusing JSON error.
    """
    p = Path(path)
    if not p.is_file():
        return p.suffix.lower() == EXTENSION
    return sniff(p) in ("zip", "oci") or p.suffix.lower() == EXTENSION


def oci_error(source: str) -> RMError:
    return RMError(
        "package_oci_format",
        "this is a RemoteMedia-SDK native plugin bundle (a zstd-compressed OCI layout), "
        "not a runnable RM Studio package",
        source=source,
        hint="RM Studio runs .rmpkg ZIP packages with a WebAssembly runtime; native plugin bundles "
        "are for the RemoteMedia-SDK's own runtime",
    )

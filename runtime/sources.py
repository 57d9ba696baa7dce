"""Pinned third-party sources for the guest, fetched from PyPI and verified.

whisper.cpp (and the single-header nlohmann JSON it vendors in ``examples/json.hpp``) comes
from the ``pywhispercpp`` source distribution. Nothing here is committed: the sdist is
downloaded once with pip, checked against its sha256, and unpacked into the user cache.
Tests use the same tree for ``samples/jfk.wav`` and the header-only test models.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import subprocess
import sys
import tarfile
import tempfile
from pathlib import Path

PYWHISPERCPP_VERSION = "1.5.1"
PYWHISPERCPP_SDIST = f"pywhispercpp-{PYWHISPERCPP_VERSION}.tar.gz"
PYWHISPERCPP_SHA256 = "5df897e5dd9d9f16804fc937bd85b9f5880a0b29a55f8843585e0e03d76195e5"
WHISPER_CPP_VERSION = "1.8.5"  # what that sdist vendors (its CMakeLists.txt)


class SourceError(RuntimeError):
    """The pinned sources could not be fetched or did not verify."""


def cache_root() -> Path:
    """Where fetched sources and build caches live (``RMSTUDIO_CACHE_DIR`` overrides)."""
    env = os.environ.get("RMSTUDIO_CACHE_DIR")
    if env:
        return Path(env)
    try:
        from platformdirs import user_cache_dir
    except ImportError:  # pragma: no cover - the setup command installs platformdirs first
        return Path.home() / ".cache" / "rmstudio"
    return Path(user_cache_dir("rmstudio", appauthor=False))


def _sha256(path: Path) -> str:
    h = hashlib.sha256()
    with path.open("rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def fetch_sdist(log=print) -> Path:
    """The verified pywhispercpp sdist, downloading it with pip if it is not cached."""
    dest = cache_root() / "sources"
    dest.mkdir(parents=True, exist_ok=True)
    archive = dest / PYWHISPERCPP_SDIST
    if archive.exists() and _sha256(archive) == PYWHISPERCPP_SHA256:
        return archive
    log(f"fetching {PYWHISPERCPP_SDIST} from PyPI ...")
    with tempfile.TemporaryDirectory(dir=dest) as tmp:
        cmd = [
            sys.executable,
            "-m",
            "pip",
            "download",
            "--no-deps",
            "--no-binary",
            "pywhispercpp",
            "-d",
            tmp,
            f"pywhispercpp=={PYWHISPERCPP_VERSION}",
        ]
        proc = subprocess.run(cmd, capture_output=True, text=True)
        got = Path(tmp) / PYWHISPERCPP_SDIST
        if proc.returncode != 0 or not got.exists():
            raise SourceError(
                f"could not download {PYWHISPERCPP_SDIST} from PyPI (pip exit {proc.returncode}):\n"
                + (proc.stderr or proc.stdout).strip()[-2000:]
                + "\nCheck that PyPI is reachable, or place the file in "
                + str(dest)
            )
        digest = _sha256(got)
        if digest != PYWHISPERCPP_SHA256:
            raise SourceError(
                f"{PYWHISPERCPP_SDIST} has sha256 {digest}, expected {PYWHISPERCPP_SHA256}; "
                "refusing to build from an unverified source"
            )
        os.replace(got, archive)
    return archive


def whisper_source_dir(log=print) -> Path:
    """The unpacked whisper.cpp tree of the pinned sdist (fetched and verified on first use)."""
    root = cache_root() / "sources" / f"pywhispercpp-{PYWHISPERCPP_VERSION}-{PYWHISPERCPP_SHA256[:12]}"
    tree = root / "whisper.cpp"
    if (root / ".complete").exists():
        return tree
    archive = fetch_sdist(log)
    log(f"unpacking whisper.cpp {WHISPER_CPP_VERSION} from {archive.name} ...")
    if root.exists():
        shutil.rmtree(root)
    tmp = Path(tempfile.mkdtemp(dir=root.parent))
    prefix = f"pywhispercpp-{PYWHISPERCPP_VERSION}/whisper.cpp/"
    with tarfile.open(archive) as tar:
        members = [m for m in tar.getmembers() if m.name.startswith(prefix)]
        for m in members:
            if not (m.isfile() or m.isdir()):
                continue
            rel = m.name[len(prefix) :]
            if not rel or rel.startswith("/") or ".." in Path(rel).parts:
                continue
            target = tmp / "whisper.cpp" / rel
            if m.isdir():
                target.mkdir(parents=True, exist_ok=True)
                continue
            target.parent.mkdir(parents=True, exist_ok=True)
            src = tar.extractfile(m)
            assert src is not None
            with target.open("wb") as out:
                shutil.copyfileobj(src, out)
    (tmp / ".complete").write_text(PYWHISPERCPP_SHA256 + "\n")
    os.replace(tmp, root)
    return tree


def jfk_wav() -> Path:
    """whisper.cpp's ``samples/jfk.wav``: 11 s of real speech with a known transcript."""
    return whisper_source_dir() / "samples" / "jfk.wav"


if __name__ == "__main__":
    print(whisper_source_dir())

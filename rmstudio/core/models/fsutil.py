"""Small file-system helpers shared by the store, the converter and the downloader.

Everything that lands in the model store goes through a temporary file in the same
directory followed by ``os.replace``: a crash, a full disk or a cancelled operation leaves
either the old state or the new one, never a truncated model that the guest would later
choke on.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import shutil
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

FILE_MODE = 0o644  # mkstemp creates 0600; models are ordinary user data
TMP_SUFFIX = ".tmp"


def file_hash(path: str | os.PathLike[str], algorithm: str = "sha256", chunk: int = 1 << 20) -> str:
    """Hex digest of a file, read in chunks (models can be gigabytes)."""
    h = hashlib.new(algorithm)
    with open(path, "rb") as f:
        while block := f.read(chunk):
            h.update(block)
    return h.hexdigest()


def file_sha256(path: str | os.PathLike[str]) -> str:
    return file_hash(path, "sha256")


def temp_path_in(directory: Path, name: str) -> Path:
    """A new, empty, uniquely named hidden temp file next to where ``name`` will go."""
    directory.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{name}.", suffix=TMP_SUFFIX, dir=directory)
    os.close(fd)
    return Path(tmp)


def finish_file(tmp: Path, dest: Path) -> None:
    """fsync ``tmp``, give it normal permissions and atomically move it to ``dest``."""
    with open(tmp, "rb+") as f:
        os.fsync(f.fileno())
    os.chmod(tmp, FILE_MODE)
    os.replace(tmp, dest)


def atomic_write_bytes(dest: Path, data: bytes) -> None:
    """Replace ``dest`` with ``data`` so readers see the old or the new content, never a mix."""
    tmp = temp_path_in(dest.parent, dest.name)
    try:
        tmp.write_bytes(data)
        finish_file(tmp, dest)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise


def copy_with_sha256(src: Path, dest_tmp: Path, chunk: int = 1 << 20) -> str:
    """Copy ``src`` into ``dest_tmp`` and return the sha256 of the bytes actually copied."""
    h = hashlib.sha256()
    with open(src, "rb") as fin, open(dest_tmp, "wb") as fout:
        while block := fin.read(chunk):
            h.update(block)
            fout.write(block)
    return h.hexdigest()


def remove_stale_temps(directory: Path, older_than_s: float = 24 * 3600) -> None:
    """Delete leftovers of interrupted writes (``.*.tmp`` files, and the directories a killed
    quantization left) that no live operation can own."""
    if not directory.is_dir():
        return
    cutoff = time.time() - older_than_s
    for p in directory.glob(f".*{TMP_SUFFIX}"):
        with contextlib.suppress(OSError):
            if p.lstat().st_mtime < cutoff:
                if p.is_dir() and not p.is_symlink():
                    shutil.rmtree(p, ignore_errors=True)
                else:
                    p.unlink()


@contextlib.contextmanager
def locked(lock_path: Path) -> Iterator[None]:
    """An exclusive inter-process lock (advisory) around index read-modify-write cycles."""
    lock_path.parent.mkdir(parents=True, exist_ok=True)
    with open(lock_path, "a+b") as f:
        if os.name == "nt":  # pragma: no cover - exercised on Windows only
            import msvcrt

            f.seek(0)
            while True:
                try:
                    msvcrt.locking(f.fileno(), msvcrt.LK_LOCK, 1)
                    break
                except OSError:
                    time.sleep(0.05)
            try:
                yield
            finally:
                f.seek(0)
                msvcrt.locking(f.fileno(), msvcrt.LK_UNLCK, 1)
        else:
            import fcntl

            fcntl.flock(f.fileno(), fcntl.LOCK_EX)
            try:
                yield
            finally:
                fcntl.flock(f.fileno(), fcntl.LOCK_UN)

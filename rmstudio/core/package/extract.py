"""Safe extraction: verify while writing into a private temporary directory, then rename.

Nothing is ever written to the target until every check has passed; on any failure the
temporary directory (created next to the target, on the same filesystem) is removed and the
target is exactly as before. See docs/RMPKG.md, "Extraction".
"""

from __future__ import annotations

import errno
import os
import shutil
import stat
import tempfile
from collections.abc import Callable
from pathlib import Path, PurePosixPath

from rmstudio.core.errors import RMError
from rmstudio.core.package import names
from rmstudio.core.package.dirs import make_parents, remove_made
from rmstudio.core.package.format import DEFAULT_LIMITS, DIR_MODE, FILE_MODE, PackageLimits
from rmstudio.core.package.read import Member
from rmstudio.core.package.verify import PackageReport, verify_package

_O_NOFOLLOW = getattr(os, "O_NOFOLLOW", 0)
_O_BINARY = getattr(os, "O_BINARY", 0)


class _DirSink:
    """Writes verified member bytes below ``root`` and nowhere else."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self._root_real = os.path.realpath(root)
        self._fd: int | None = None
        self._current: Path | None = None

    def _target(self, name: str) -> Path:
        names.check_name(name)  # already enforced by the reader; checked again where it matters
        parts = PurePosixPath(name.rstrip("/")).parts
        target = self.root.joinpath(*parts)
        real_parent = os.path.realpath(target.parent)
        if os.path.commonpath([self._root_real, real_parent]) != self._root_real:
            raise RMError("package_unsafe_path", f"member {name!r} would land outside the target", path=name)
        return target

    def _mkdirs(self, directory: Path) -> None:
        rel = directory.relative_to(self.root)
        here = self.root
        for part in rel.parts:
            here = here / part
            try:
                os.mkdir(here, DIR_MODE)
            except FileExistsError:
                st = os.lstat(here)
                if not stat.S_ISDIR(st.st_mode):
                    raise RMError(
                        "package_duplicate_member",
                        f"{here.relative_to(self.root)} is both a file and a directory",
                    ) from None

    def directory(self, member: Member) -> None:
        target = self._target(member.name)
        self._mkdirs(target)

    def begin(self, member: Member) -> None:
        target = self._target(member.name)
        self._mkdirs(target.parent)
        flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | _O_NOFOLLOW | _O_BINARY
        self._fd = os.open(target, flags, FILE_MODE)
        self._current = target

    def write(self, data: bytes) -> None:
        assert self._fd is not None
        view = memoryview(data)
        while view:
            n = os.write(self._fd, view)
            view = view[n:]

    def end(self) -> None:
        if self._fd is not None:
            os.close(self._fd)
            self._fd = None
        if self._current is not None:
            os.chmod(self._current, FILE_MODE)
            self._current = None

    def abort(self) -> None:
        if self._fd is not None:
            os.close(self._fd)
            self._fd = None


def _check_target(dest: Path) -> None:
    if dest.is_symlink():
        raise RMError("package_exists", "the target is a symbolic link", source=str(dest))
    if dest.exists():
        if not dest.is_dir():
            raise RMError("package_exists", "the target exists and is not a directory", source=str(dest))
        if any(dest.iterdir()):
            raise RMError(
                "package_exists",
                "the target directory is not empty",
                source=str(dest),
                hint="Unpack into a new or empty directory",
            )


def extract_package(
    path: str | os.PathLike[str],
    dest: str | os.PathLike[str],
    limits: PackageLimits = DEFAULT_LIMITS,
    *,
    allow_legacy: bool = True,
    before_commit: Callable[[Path, PackageReport], None] | None = None,
) -> PackageReport:
    """Verify ``path`` while extracting it to ``dest`` (absent or empty); all or nothing.

    ``before_commit`` runs on the finished temporary directory just before the rename (the
    run cache writes its stamp there).
    """
    dest = Path(os.path.abspath(dest))  # "." names its parent's entry, where the temp dir goes
    _check_target(dest)
    try:
        made = make_parents(dest.parent)
        # The temp name stays within 255 bytes however long the target's name is.
        tmp = Path(tempfile.mkdtemp(prefix=f".{dest.name[:64]}.partial-", dir=dest.parent))
    except OSError as exc:
        raise _io_error(exc, dest) from None
    sink = _DirSink(tmp)
    try:
        report = verify_package(path, limits, sink=sink, fail_fast=True, allow_legacy=allow_legacy)
        report.raise_first()
        if before_commit is not None:
            before_commit(tmp, report)
        os.chmod(tmp, DIR_MODE)
        _check_target(dest)
        if dest.exists():
            _move_contents(tmp, dest)  # keep the directory itself: it may be a shell's cwd
        else:
            os.rename(tmp, dest)
    except BaseException as exc:
        sink.abort()
        shutil.rmtree(tmp, ignore_errors=True)
        remove_made(made, dest.parent)
        if isinstance(exc, OSError) and not isinstance(exc, RMError):
            raise _io_error(exc, dest) from None
        raise
    return report


def _move_contents(src: Path, dest: Path) -> None:
    """Move ``src``'s entries into the empty ``dest`` (same filesystem); all or none."""
    moved: list[str] = []
    try:
        for entry in sorted(os.listdir(src)):
            os.rename(src / entry, dest / entry)
            moved.append(entry)
        src.rmdir()
    except OSError:
        for entry in moved:
            os.rename(dest / entry, src / entry)
        raise


def _io_error(exc: OSError, dest: Path) -> RMError:
    hint = "Choose a target in a folder you can write to"
    if exc.errno == errno.ENAMETOOLONG:
        hint = "Choose a shorter target name"
    return RMError(
        "io_error", f"cannot write the unpacked package: {exc.strerror or exc}", source=str(dest), hint=hint
    )

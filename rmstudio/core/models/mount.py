"""Showing models to the guest: one read-only directory per model file, nothing else.

The guest reads a model through a preopened directory. Preopening the file's own folder
would also expose its neighbours (a user's ~/Downloads, say), so each model file is linked
(hard link, or a one-time copy across filesystems) into a directory of its own under the
cache, and that directory is what the guest sees.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from rmstudio.core.errors import RMError
from rmstudio.core.paths import cache_dir
from rmstudio.core.runs import Preopen

GUEST_MODELS_DIR = "/models"


COPY_SUFFIX = ".copy"  # an entry copied across filesystems, not linked


def staging_dir() -> Path:
    return cache_dir() / "package-models"


def stage_model(path: Path) -> Path:
    """A directory holding only ``path`` (hard link, else a one-time copy), reused across runs.

    Entries are keyed by the source's path, size and modification time, so a model replaced
    on disk gets a new entry; the entries it supersedes are removed here, as are hard links
    whose source is gone (a link would otherwise keep a deleted model's bytes on disk).
    """
    st = path.stat()
    where = hashlib.sha256(str(path.resolve()).encode("utf-8", "surrogateescape")).hexdigest()[:16]
    key = f"{where}-{st.st_size:x}-{st.st_mtime_ns:x}"
    base = staging_dir()
    _prune(base, where, key)
    for target_dir in (base / key, base / (key + COPY_SUFFIX)):
        target = target_dir / path.name
        if target.is_file() and not target.is_symlink() and target.stat().st_size == st.st_size:
            return target_dir
    base.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=".stage-", dir=base))
    try:
        try:
            os.link(path, tmp / path.name)
            target_dir = base / key
        except OSError:
            shutil.copyfile(path, tmp / path.name)
            target_dir = base / (key + COPY_SUFFIX)
        try:
            os.rename(tmp, target_dir)
        except OSError:
            if not (target_dir / path.name).is_file():
                raise
            shutil.rmtree(tmp, ignore_errors=True)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return target_dir


def _prune(base: Path, where: str, key: str) -> None:
    """Remove entries of an older version of this source, and links whose source was deleted.

    Best effort: an entry another process removes first, or cannot remove, is left alone.
    """
    try:
        entries = list(base.iterdir())
    except OSError:
        return
    for entry in entries:
        name = entry.name
        if name.startswith("."):
            continue  # staging in progress
        stem = name.removesuffix(COPY_SUFFIX)
        superseded = stem.startswith(where + "-") and stem != key
        orphaned = False
        if not superseded and not name.endswith(COPY_SUFFIX):
            try:
                files = [f for f in entry.iterdir() if f.is_file()]
                orphaned = len(files) == 1 and files[0].stat().st_nlink == 1
            except OSError:
                continue
        if superseded or orphaned:
            shutil.rmtree(entry, ignore_errors=True)


@dataclass
class MountedModels:
    """What a run needs so every model its manifest names can be opened by the executor."""

    options: dict[str, str] = field(default_factory=dict)  # model value -> path the executor opens
    preopens: list[Preopen] = field(default_factory=list)
    files: dict[str, Path] = field(default_factory=dict)  # model value -> host file


def mount_models(manifest: dict[str, Any], engine: str) -> MountedModels:
    """Resolve each model a manifest names (the user's own manifest: names, paths, "default").

    For the sandbox, values map to ``/models[-k]/<file>`` inside read-only preopens; for the
    reference executor they map to host paths. Absolute guest paths (``/models/x.bin``, as a
    manifest written for the wasmtime CLI has) are left alone when they are not host files.
    """
    from rmstudio.core import models
    from rmstudio.core.package.models_link import model_references

    out = MountedModels()
    staged: dict[Path, str] = {}
    for ref in model_references(manifest):
        value = ref.value
        if value in out.options:
            continue
        if value.startswith("/") and not Path(value).exists():
            continue  # a guest path the caller preopens itself
        try:
            host_file = Path(models.resolve(value))
        except RMError as exc:
            exc.node_id = exc.node_id or ref.node_id
            raise
        out.files[value] = host_file
        if engine == "native":
            out.options[value] = str(host_file)
            continue
        directory = stage_model(host_file)
        if directory not in staged:
            guest = GUEST_MODELS_DIR if not staged else f"{GUEST_MODELS_DIR}-{len(staged)}"
            staged[directory] = guest
            out.preopens.append(Preopen(directory, guest))
        out.options[value] = f"{staged[directory]}/{host_file.name}"
    return out

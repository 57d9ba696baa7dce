"""Creating a file's missing parent folders so that a failed write can take them away again.

unpack and pack promise that a refused or failed operation leaves nothing behind, and that
includes the folders ``mkdir -p`` would have made for the target.
"""

from __future__ import annotations

import os
from pathlib import Path


def make_parents(directory: Path) -> Path | None:
    """mkdir -p; returns the topmost directory it created (None if all existed)."""
    missing = []
    here = directory
    while not here.exists():
        missing.append(here)
        if here.parent == here:
            break
        here = here.parent
    if here.exists() and not here.is_dir():
        raise NotADirectoryError(20, f"{here} is a file, not a folder")
    for d in reversed(missing):
        os.mkdir(d)
    return missing[-1] if missing else None


def remove_made(top: Path | None, directory: Path) -> None:
    """Undo make_parents: remove the (empty) directories it created, deepest first."""
    if top is None:
        return
    here = directory
    while True:
        try:
            here.rmdir()
        except OSError:
            return
        if here == top:
            return
        here = here.parent

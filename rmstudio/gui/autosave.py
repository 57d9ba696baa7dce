"""Crash recovery: a swap file per open document, written on every change to its history.

While a document has unsaved changes its text is kept in a swap file under
``<config dir>/autosave/`` (written atomically, so a crash mid-write leaves the previous
copy). Saving, reverting to the saved state, or closing cleanly deletes it. A swap file
left behind means a session ended without saving - RM Studio crashed or was killed - and
the next start offers to restore it. ``RMSTUDIO_NO_RESTORE=1`` skips that offer (the files
stay for a later start).

A swap file belongs to a live session while its owner is running: the process id, and
within this process the session id, are recorded, so two windows - or two running copies
of RM Studio - never offer each other's work.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import time
import uuid
from dataclasses import dataclass
from pathlib import Path

from rmstudio.core.manifest.document import write_text_atomic
from rmstudio.core.paths import config_dir

FORMAT = "rmstudio-swap/1"
NO_RESTORE_ENV = "RMSTUDIO_NO_RESTORE"

_LIVE_SESSIONS: set[str] = set()


def swap_dir() -> Path:
    return config_dir() / "autosave"


def restore_disabled() -> bool:
    return os.environ.get(NO_RESTORE_ENV, "").strip() not in ("", "0")


@dataclass(frozen=True)
class SwapFile:
    path: Path
    source: str | None  # the file the text belongs to, None for an untitled document
    title: str
    text: str
    saved_at: float
    pid: int
    session: str

    @property
    def display_name(self) -> str:
        return Path(self.source).name if self.source else self.title


def _pid_alive(pid: int) -> bool:
    if pid <= 0:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    except OSError:
        return False
    return True


def read_swap(path: Path) -> SwapFile | None:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    if not isinstance(data, dict) or data.get("format") != FORMAT or not isinstance(data.get("text"), str):
        return None
    source = data.get("source")
    return SwapFile(
        path=path,
        source=source if isinstance(source, str) else None,
        title=str(data.get("title") or "untitled"),
        text=data["text"],
        saved_at=float(data.get("saved_at") or 0),
        pid=int(data.get("pid") or 0),
        session=str(data.get("session") or ""),
    )


def orphaned_swaps(directory: Path | None = None) -> list[SwapFile]:
    """Swap files whose session has ended (crashed or killed), newest first."""
    directory = directory or swap_dir()
    if not directory.is_dir():
        return []
    found = []
    for path in directory.glob("*.swp.json"):
        swap = read_swap(path)
        if swap is None:
            continue
        if swap.session in _LIVE_SESSIONS:
            continue
        if swap.pid != os.getpid() and _pid_alive(swap.pid):
            continue  # another running RM Studio owns it
        found.append(swap)
    return sorted(found, key=lambda s: s.saved_at, reverse=True)


class Autosave:
    """The swap file of one window's document."""

    def __init__(self, directory: Path | None = None) -> None:
        self.directory = directory or swap_dir()
        self.session = uuid.uuid4().hex
        self.current: Path | None = None
        self.writes = 0
        _LIVE_SESSIONS.add(self.session)

    def _path_for(self, source: str | None) -> Path:
        key = source if source else f"untitled:{self.session}"
        digest = hashlib.sha256(key.encode()).hexdigest()[:16]
        return self.directory / f"{digest}.swp.json"

    def write(self, text: str, source: str | None, title: str) -> Path:
        target = self._path_for(source)
        if self.current is not None and self.current != target:
            self.discard()
        doc = {
            "format": FORMAT,
            "source": source,
            "title": title,
            "saved_at": time.time(),
            "pid": os.getpid(),
            "session": self.session,
            "text": text,
        }
        write_text_atomic(target, json.dumps(doc, ensure_ascii=False))
        self.current = target
        self.writes += 1
        return target

    def discard(self) -> None:
        if self.current is not None:
            with contextlib.suppress(OSError):
                self.current.unlink()
            self.current = None

    def close(self) -> None:
        """A clean end of the session: no swap file remains."""
        self.discard()
        _LIVE_SESSIONS.discard(self.session)

    def abandon(self) -> None:
        """End the session as a crash would: the swap file stays to be offered next time."""
        _LIVE_SESSIONS.discard(self.session)
        self.current = None


def delete_swap(swap: SwapFile) -> None:
    with contextlib.suppress(OSError):
        swap.path.unlink()

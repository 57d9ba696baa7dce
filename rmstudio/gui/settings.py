"""Persistent GUI settings: one typed spec, read back forgivingly.

Every key the GUI stores is declared once in :data:`SPEC` with its type and default. Values
come back coerced to that type; anything unreadable (a hand-edited file, a value written by
an older version, garbage) silently falls back to the default, so a broken settings file
can never stop the window from opening.

The file is an INI file in RM Studio's config directory (``core.paths.config_dir()``, which
``RMSTUDIO_CONFIG_DIR`` overrides; the test suite points it at a temporary directory).
Extension point: new panels add their keys to :data:`SPEC` (e.g. ``audio/last_dir``,
``transcript/export_format``); nothing else needs to change.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from PySide6.QtCore import QByteArray, QSettings

from rmstudio.core.paths import config_dir

SETTINGS_FILE = "gui.ini"
MAX_RECENT = 10


@dataclass(frozen=True)
class Setting:
    """One stored value: its key, Python type (str, int, float, bool, list, bytes) and default."""

    key: str
    type: type
    default: Any
    doc: str
    minimum: float | None = None
    maximum: float | None = None
    choices: tuple[str, ...] = ()


SPEC: tuple[Setting, ...] = (
    Setting(
        "run/engine",
        str,
        "wasm",
        "executor: the WASM sandbox or the native reference",
        choices=("wasm", "native"),
    ),
    Setting(
        "run/memory_limit_mib", int, 2048, "cap on the guest's linear memory (MiB)", minimum=16, maximum=4096
    ),
    Setting(
        "run/timeout_s",
        float,
        0.0,
        "wall-clock limit per run in seconds (0 = none)",
        minimum=0,
        maximum=86400,
    ),
    Setting("run/input", str, "", "the last input items typed in the Run panel (JSON)"),
    Setting("files/recent", list, [], "recently opened manifest files, newest first"),
    Setting("files/last_dir", str, "", "directory of the last open/save dialog"),
    Setting("window/geometry", bytes, b"", "main window geometry (Qt's saveGeometry)"),
    Setting("window/state", bytes, b"", "dock and toolbar layout (Qt's saveState)"),
    Setting("whisper/default_model", str, "default", "Whisper model used by Transcribe"),
    Setting("whisper/threads", int, 1, "threads requested for Whisper runs", minimum=1, maximum=64),
)

_BY_KEY = {s.key: s for s in SPEC}


def settings_path() -> Path:
    return config_dir() / SETTINGS_FILE


def _coerce(spec: Setting, raw: Any) -> Any:
    """``raw`` as ``spec.type``; raises ValueError/TypeError when it cannot be read."""
    if spec.type is bool:
        if isinstance(raw, bool):
            return raw
        text = str(raw).strip().lower()
        if text in ("true", "1", "yes", "on"):
            return True
        if text in ("false", "0", "no", "off"):
            return False
        raise ValueError(raw)
    if spec.type is int:
        if isinstance(raw, bool):
            raise TypeError(raw)
        value = int(float(raw)) if isinstance(raw, str) and "." in raw else int(raw)
        return _bounded(spec, value)
    if spec.type is float:
        value = float(raw)
        if not math.isfinite(value):
            raise ValueError(raw)
        return _bounded(spec, value)
    if spec.type is str:
        if not isinstance(raw, str):
            raise TypeError(raw)
        if spec.choices and raw not in spec.choices:
            raise ValueError(raw)
        return raw
    if spec.type is list:
        value = json.loads(raw) if isinstance(raw, str) else raw
        if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
            raise ValueError(raw)
        return value
    if spec.type is bytes:
        if isinstance(raw, QByteArray):
            return bytes(raw.data())
        if isinstance(raw, (bytes, bytearray)):
            return bytes(raw)
        raise TypeError(raw)
    raise TypeError(spec.type)


def _bounded(spec: Setting, value: float) -> Any:
    if (spec.minimum is not None and value < spec.minimum) or (
        spec.maximum is not None and value > spec.maximum
    ):
        raise ValueError(value)
    return value


class Settings:
    """Typed access to the GUI's QSettings (``get``/``set`` by key from :data:`SPEC`)."""

    def __init__(self, qsettings: QSettings | None = None) -> None:
        if qsettings is None:
            path = settings_path()
            path.parent.mkdir(parents=True, exist_ok=True)
            qsettings = QSettings(str(path), QSettings.Format.IniFormat)
        self.qsettings = qsettings

    @staticmethod
    def spec(key: str) -> Setting:
        try:
            return _BY_KEY[key]
        except KeyError:
            raise KeyError(f"unknown setting {key!r}; declare it in rmstudio.gui.settings.SPEC") from None

    def get(self, key: str) -> Any:
        spec = self.spec(key)
        raw = self.qsettings.value(key)
        if raw is None:
            return _copy(spec.default)
        try:
            return _coerce(spec, raw)
        except (ValueError, TypeError, OverflowError):
            return _copy(spec.default)

    def set(self, key: str, value: Any) -> None:
        spec = self.spec(key)
        value = _coerce(spec, value)  # refuse to store what could not be read back
        if spec.type is list:
            stored: Any = json.dumps(value)
        elif spec.type is bytes:
            stored = QByteArray(value)
        elif spec.type is bool:
            stored = "true" if value else "false"
        else:
            stored = value
        self.qsettings.setValue(key, stored)

    def reset(self, key: str) -> None:
        self.qsettings.remove(self.spec(key).key)

    def sync(self) -> None:
        self.qsettings.sync()

    # Recent files ---------------------------------------------------------------------

    def recent_files(self) -> list[str]:
        return self.get("files/recent")[:MAX_RECENT]

    def add_recent(self, path: str | Path) -> None:
        text = str(Path(path).resolve())
        recent = [p for p in self.recent_files() if p != text]
        self.set("files/recent", [text, *recent][:MAX_RECENT])

    def remove_recent(self, path: str) -> None:
        self.set("files/recent", [p for p in self.recent_files() if p != path])


def _copy(value: Any) -> Any:
    return list(value) if isinstance(value, list) else value

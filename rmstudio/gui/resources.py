"""Where the GUI finds what ships beside the code (source tree or a frozen build): the example
manifests and the application icon; and the application id the desktop files use."""

from __future__ import annotations

import sys
from pathlib import Path

# The freedesktop application id: the name of the .desktop file, the AppStream component and
# the icon (resources/linux/), and what Wayland compositors match windows against.
APP_ID = "io.github.rmstudio.RMStudio"


def _resource(*parts: str) -> Path | None:
    """``resources/<parts>`` in a frozen build (``sys._MEIPASS``) or the source tree, if present."""
    here = Path(__file__).resolve()
    candidates = [here.parents[2].joinpath("resources", *parts)]
    frozen = getattr(sys, "_MEIPASS", None)
    if frozen:
        candidates.insert(0, Path(frozen).joinpath("resources", *parts))
    for path in candidates:
        if path.exists():
            return path
    return None


def examples_dir() -> Path | None:
    path = _resource("examples")
    return path if path is not None and path.is_dir() else None


def icon_path() -> Path | None:
    """The application icon (an SVG; Qt renders it at every size it needs)."""
    return _resource("icons", "rmstudio.svg")


def example_files() -> list[Path]:
    directory = examples_dir()
    return sorted(directory.glob("*.json")) if directory else []

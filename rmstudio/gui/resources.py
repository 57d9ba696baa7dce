"""Where the GUI finds the shipped example manifests (source tree or a frozen build)."""

from __future__ import annotations

import sys
from pathlib import Path


def examples_dir() -> Path | None:
    here = Path(__file__).resolve()
    candidates = [here.parents[2] / "resources" / "examples"]
    frozen = getattr(sys, "_MEIPASS", None)
    if frozen:
        candidates.insert(0, Path(frozen) / "resources" / "examples")
    for path in candidates:
        if path.is_dir():
            return path
    return None


def example_files() -> list[Path]:
    directory = examples_dir()
    return sorted(directory.glob("*.json")) if directory else []

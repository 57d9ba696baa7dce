"""Finding the guest module ``rm_executor.wasm`` and what its build recorded about itself."""

from __future__ import annotations

import json
import os
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from rmstudio.core.errors import RMError

WASM_NAME = "rm_executor.wasm"
REACTOR_NAME = "rm_executor.reactor.wasm"
BUILD_INFO_NAME = "rm_executor.build.json"


@dataclass(frozen=True)
class GuestRuntime:
    path: Path
    build_info: dict[str, Any]

    @property
    def reactor_path(self) -> Path | None:
        """The same build as a reactor (warm guests, docs/RUNTIME.md), when it sits beside it.

        Only a reactor recorded by the same build counts: a package's runtime.wasm or a module
        copied alone has none, and its runs simply start a fresh instance each time.
        """
        recorded = (self.build_info.get("reactor") or {}).get("file")
        if recorded != REACTOR_NAME:
            return None
        path = self.path.with_name(REACTOR_NAME)
        return path if path.is_file() else None


def _candidates() -> list[Path]:
    env = os.environ.get("RMSTUDIO_RUNTIME")
    if env:
        return [Path(env)]
    here = Path(__file__).resolve()
    out = [here.parents[2] / "_guest" / WASM_NAME]  # rmstudio/_guest (setup builds it here)
    frozen = getattr(sys, "_MEIPASS", None)
    if frozen:
        out.insert(0, Path(frozen) / "rmstudio" / "_guest" / WASM_NAME)
    return out


def locate() -> GuestRuntime:
    """The guest runtime to use, or an RMError saying how to build it."""
    for path in _candidates():
        if path.is_file():
            info_path = path.with_name(BUILD_INFO_NAME)
            try:
                info = json.loads(info_path.read_text()) if info_path.exists() else {}
            except (OSError, ValueError):
                info = {}
            return GuestRuntime(path, info)
    raise RMError(
        "runtime_missing",
        "the sandboxed executor rm_executor.wasm has not been built",
        source=str(_candidates()[0]),
        hint="Run the README's setup command (./setup.sh), or `python runtime/build.py`",
    )

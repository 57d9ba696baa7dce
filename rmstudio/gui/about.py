"""What Help > About shows: RM Studio, the sandbox and the toolkit versions, the guest build."""

from __future__ import annotations

import html
import platform
from importlib import metadata

import pyqtgraph
import PySide6
from PySide6.QtCore import qVersion

from rmstudio import __version__
from rmstudio.core.errors import RMError


def _dist_version(name: str) -> str:
    try:
        return metadata.version(name)
    except metadata.PackageNotFoundError:
        return "not installed"


def versions() -> list[tuple[str, str]]:
    """(component, version) pairs, the guest's build info included."""
    rows = [
        ("RM Studio", __version__),
        ("wasmtime (Python)", _dist_version("wasmtime")),
        ("Qt", qVersion()),
        ("PySide6", PySide6.__version__),
        ("pyqtgraph", pyqtgraph.__version__),
        ("Python", platform.python_version()),
    ]
    try:
        from rmstudio.core.engine import locate

        guest = locate()
    except RMError as exc:
        rows.append(("Guest executor", f"not available: {exc.message}"))
        return rows
    info = guest.build_info
    rows.append(("Guest executor", str(info.get("executor_version", "unknown"))))
    for key, label in (
        ("contract_version", "Guest contract"),
        ("whisper_cpp", "whisper.cpp (in guest)"),
        ("zig", "Built with Zig"),
    ):
        if key in info:
            rows.append((label, str(info[key])))
    if isinstance(info.get("sha256"), str):
        rows.append(("Guest sha256", info["sha256"][:16] + "…"))
    size = info.get("size")
    if isinstance(size, int):
        rows.append(("Guest size", f"{size / 1024:.0f} KiB"))
    rows.append(("Guest module", str(guest.path)))
    return rows


def about_html() -> str:
    rows = "".join(
        f"<tr><td style='padding-right:12px;color:#555'>{html.escape(k)}</td><td>{html.escape(v)}</td></tr>"
        for k, v in versions()
    )
    return (
        "<h3>RM Studio</h3>"
        "<p>A workbench for RemoteMedia audio and ML pipelines, run in a WebAssembly sandbox.</p>"
        f"<table>{rows}</table>"
    )

"""Shared printing helpers: readable summaries for people, JSON for scripts."""

from __future__ import annotations

import json
import sys
from typing import Any, TextIO

from rmstudio.core import typed_arrays
from rmstudio.core.errors import RMError
from rmstudio.core.printable import printable


def print_json(data: Any, stream: TextIO | None = None) -> None:
    (stream or sys.stdout).write(json.dumps(data, indent=2, ensure_ascii=False) + "\n")


def format_bytes(n: float | None) -> str:
    if n is None:
        return "?"
    for unit in ("B", "KiB", "MiB", "GiB"):
        if abs(n) < 1024 or unit == "GiB":
            return f"{n:.0f} {unit}" if unit == "B" else f"{n:.1f} {unit}"
        n /= 1024
    return f"{n:.1f} GiB"


def summarize_value(value: Any, limit: int = 200) -> str:
    """A short one-line description of an output value (typed arrays shown by shape)."""
    if typed_arrays.is_typed_array(value):
        try:
            arr = typed_arrays.decode(value)
        except RMError:
            return "<malformed typed array>"
        preview = ", ".join(f"{x:g}" for x in arr.ravel()[:6].tolist())
        more = ", ..." if arr.size > 6 else ""
        return f"{arr.dtype.name} array shape {list(arr.shape)}: [{preview}{more}]"
    text = json.dumps(value, ensure_ascii=False)
    return text if len(text) <= limit else text[: limit - 3] + "..."


def print_problem(err: RMError, severity: str, stream: TextIO | None = None) -> None:
    # Messages quote package, manifest and file text: no terminal escapes or line breaks get through.
    (stream or sys.stderr).write(f"{severity}: {printable(err.describe())}\n")

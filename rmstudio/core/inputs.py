"""Turning what a user points at (JSON text, a JSON file, later audio) into input items.

The CLI's ``--input`` and the GUI's input box both go through :func:`parse_input`, so the
two accept exactly the same things.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

from rmstudio.core.errors import RMError
from rmstudio.core.manifest.document import parse_json, read_text


def parse_input(value: str) -> Any:
    """``input_data`` from a JSON literal, ``@file.json``, or a path to a JSON file."""
    text = value.strip()
    if text.startswith("@"):
        path = Path(text[1:])
        return parse_json(read_text(path, "input"), str(path))
    try:
        return parse_json(text)
    except RMError as exc:
        json_error = exc
    path = Path(value)
    try:
        exists, is_file, is_dir = path.exists(), path.is_file(), path.is_dir()
    except OSError:  # e.g. a long value that is not a usable file name either
        exists = is_file = is_dir = False
    if is_file:
        if path.suffix.lower() == ".json":
            return parse_json(read_text(path, "input"), str(path))
        raise RMError(
            "invalid_input",
            f"cannot use {path.name} as input: not a JSON file",
            source=str(path),
            hint="Give JSON (e.g. '[5, 7, 3]') or a .json file",
        )
    if exists:
        raise RMError(
            "invalid_input",
            f"cannot use {path.name} as input: it is a {'directory' if is_dir else 'special file'}",
            source=str(path),
            hint="Give JSON (e.g. '[5, 7, 3]'), a .json file or an audio file",
        )
    if _JSON_START.match(text):  # meant as JSON: say what is wrong with it
        json_error.message = f"the input is {json_error.message}"
        raise json_error
    raise RMError(  # (the CLI's --input and the GUI's input box: words for both)
        "invalid_input",
        f"the input is neither valid JSON nor an existing file: {value[:80]!r}",
        hint="Give JSON such as [5, 7, 3], @file.json, a .json file or an audio file "
        "(on a command line, quote JSON for the shell)",
    )


_JSON_START = re.compile(r"^(?:[\[{\"\d-]|true\b|false\b|null\b|NaN\b|-?Infinity\b)")

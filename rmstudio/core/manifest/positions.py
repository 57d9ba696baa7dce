"""Map JSON pointers to line/column positions in a JSON text.

Validation errors carry JSON pointers; people (and the GUI editor's "click to jump") need
lines. The standard ``json`` module keeps no positions, so this walks the text once with a
small scanner that records where every value starts. It assumes the text already parsed.
"""

from __future__ import annotations

import json
import re

_WS = re.compile(r"[ \t\n\r]*")
_NUMBER = re.compile(r"-?(?:0|[1-9]\d*)(?:\.\d+)?(?:[eE][-+]?\d+)?")
_decoder = json.JSONDecoder()


def escape_token(token: str) -> str:
    return token.replace("~", "~0").replace("/", "~1")


def pointer(*tokens: object) -> str:
    """Build a JSON pointer from path tokens: ``pointer("nodes", 0, "id") == "/nodes/0/id"``."""
    return "".join("/" + escape_token(str(t)) for t in tokens)


def value_offsets(text: str) -> dict[str, int]:
    """Character offset of every value in ``text``, keyed by JSON pointer ("" is the root)."""
    offsets: dict[str, int] = {}

    def skip(i: int) -> int:
        return _WS.match(text, i).end()

    def parse(i: int, ptr: str) -> int:
        i = skip(i)
        offsets[ptr] = i
        ch = text[i] if i < len(text) else ""
        if ch == "{":
            i = skip(i + 1)
            if text[i] == "}":
                return i + 1
            while True:
                key, i = _decoder.raw_decode(text, skip(i))
                i = skip(i)  # at ':'
                i = parse(i + 1, ptr + "/" + escape_token(key))
                i = skip(i)
                if text[i] == ",":
                    i += 1
                    continue
                return i + 1  # '}'
        if ch == "[":
            i = skip(i + 1)
            if text[i] == "]":
                return i + 1
            index = 0
            while True:
                i = parse(i, f"{ptr}/{index}")
                index += 1
                i = skip(i)
                if text[i] == ",":
                    i += 1
                    continue
                return i + 1  # ']'
        if ch == '"':
            _, end = _decoder.raw_decode(text, i)
            return end
        m = _NUMBER.match(text, i)
        if m and m.end() > i:
            return m.end()
        for literal in ("true", "false", "null", "NaN", "Infinity", "-Infinity"):
            if text.startswith(literal, i):
                return i + len(literal)
        raise ValueError(f"unexpected character at offset {i}")

    parse(0, "")
    return offsets


def line_of(text: str, ptr: str, offsets: dict[str, int] | None = None) -> int | None:
    """1-based line of the value at ``ptr``, or of its nearest existing ancestor."""
    try:
        offsets = offsets if offsets is not None else value_offsets(text)
    except (ValueError, IndexError):
        return None
    probe = ptr
    while True:
        if probe in offsets:
            return text.count("\n", 0, offsets[probe]) + 1
        if not probe:
            return None
        probe = probe.rsplit("/", 1)[0]

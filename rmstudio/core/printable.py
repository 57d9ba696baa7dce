"""Untrusted text made safe to print on a terminal.

Package metadata, manifest values and file names reach the terminal inside messages. Raw,
an ANSI escape there could hide or recolour what follows (a real "FAILED" verdict), a
carriage return or newline could fake a line of RM Studio's own output, and a bidi override
could reorder it. Such characters are shown as Python-style escapes instead.
"""

from __future__ import annotations


def printable(text: str) -> str:
    """``text`` with every character a terminal would not simply print (control, format,
    line/paragraph separators, unusual spaces) written as ``\\xNN`` / ``\\uNNNN``."""
    if text.isprintable():
        return text
    out = []
    for ch in text:
        if ch.isprintable():
            out.append(ch)
        else:
            code = ord(ch)
            out.append(
                f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}" if code < 0x10000 else f"\\U{code:08x}"
            )
    return "".join(out)

"""The one error type every core operation raises.

Users see these as one paragraph: what went wrong, where (file, JSON pointer, node id,
line), and how to fix it. The CLI and the GUI format them; neither ever shows a traceback
unless asked to (``--debug``).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any


@dataclass
class RMError(Exception):
    """A failure with a stable machine-readable ``code`` and a human message.

    ``path`` is a JSON pointer into the document the error is about (a manifest, a run
    request, a package member); ``source`` names that document (a file path or
    ``"request"``); ``line`` is filled in when the document's text is known.
    """

    code: str
    message: str
    path: str | None = None
    node_id: str | None = None
    hint: str | None = None
    source: str | None = None
    line: int | None = None
    details: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        super().__init__(self.message)

    def __str__(self) -> str:
        return self.describe()

    def describe(self) -> str:
        """One paragraph for people: message, then where, then what to do."""
        where = []
        if self.source:
            where.append(self.source + (f":{self.line}" if self.line else ""))
        if self.path:
            where.append(f"at {self.path}")
        if self.node_id:
            where.append(f"node '{self.node_id}'")
        text = _sentence(self.message)
        if where:
            text += " (" + ", ".join(where) + ")"
        if self.hint:
            text += " " + _sentence(self.hint)
        return text

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {"code": self.code, "message": self.message}
        for key in ("path", "node_id", "hint", "source", "line"):
            value = getattr(self, key)
            if value is not None:
                out[key] = value
        if self.details:
            out["details"] = self.details
        return out

    @classmethod
    def from_json(cls, data: dict[str, Any], source: str | None = None) -> RMError:
        return cls(
            code=str(data.get("code", "error")),
            message=str(data.get("message", "unknown error")),
            path=data.get("path"),
            node_id=data.get("node_id"),
            hint=data.get("hint"),
            source=data.get("source", source),
            line=data.get("line"),
            details=data.get("details") or {},
        )


def _sentence(text: str) -> str:
    """``text`` ending in one full stop (or the question or exclamation mark it has)."""
    text = text.rstrip(".")
    return text if text.endswith(("?", "!")) else text + "."

"""Reading and writing manifest files without losing anything the user wrote.

A manifest is kept as the plain JSON object it was read from, so fields RM Studio does not
know (``capabilities``, ``host``, ``plugins``, ...) survive a load/save round trip, in their
original order. Run-request files (``{"manifest": ..., "input_data": ...}``, RemoteMedia's
test-file form) are recognised and split into the manifest and its input.
"""

from __future__ import annotations

import copy
import json
import os
import re
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from rmstudio.core.errors import RMError

_MISSING = object()


@dataclass
class ManifestDocument:
    """A manifest as loaded: the JSON object, where it came from and its original text."""

    data: dict[str, Any]
    source: str | None = None
    text: str | None = None
    # Present when the file was a run request: its input items, kept apart from the manifest.
    input_data: Any = field(default=_MISSING)
    request_extra: dict[str, Any] = field(default_factory=dict)
    # JSON-pointer prefix of the manifest inside the file ("" or "/manifest").
    pointer_prefix: str = ""

    @property
    def has_input(self) -> bool:
        return self.input_data is not _MISSING

    @property
    def name(self) -> str:
        meta = self.data.get("metadata")
        if isinstance(meta, dict) and isinstance(meta.get("name"), str) and meta["name"]:
            return meta["name"]
        return Path(self.source).stem if self.source else "untitled"

    def copy(self) -> ManifestDocument:
        return ManifestDocument(
            copy.deepcopy(self.data),
            self.source,
            self.text,
            copy.deepcopy(self.input_data),
            dict(self.request_extra),
            self.pointer_prefix,
        )

    def to_text(self) -> str:
        """The manifest as pretty JSON (2-space indent, UTF-8 kept readable, final newline)."""
        return dumps(self.data)


def dumps(data: Any) -> str:
    return json.dumps(data, indent=2, ensure_ascii=False) + "\n"


# Deeper nesting is refused for every engine alike (the reference executor recurses; real
# manifests and inputs are a few levels deep).
MAX_JSON_DEPTH = 256


class _NotJson(ValueError):
    """Something Python's json module accepts but JSON (and the guest) does not."""


def _no_constant(name: str) -> Any:
    raise _NotJson(f"{name} is not a JSON number; write a finite number or null")


def _finite_float(text: str) -> float:
    value = float(text)
    if value in (float("inf"), float("-inf")):
        raise _NotJson(f"the number {text[:40]} is too large for a 64-bit float")
    return value


def _no_duplicates(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key, value in pairs:
        if key in out:  # json.loads keeps the last one silently: a whole section could vanish
            raise _NotJson(f"the key {key!r} appears twice in one object")
        out[key] = value
    return out


_STRING = re.compile(r'"(?:[^"\\]|\\.)*"')
_NOT_BRACKET = re.compile(r"[^\[\]{}]+")


def text_depth(text: str) -> int:
    """Nesting depth of the arrays and objects in JSON text (0 for a scalar), at C speed.

    Strings are dropped first (their brackets do not count), then everything but brackets;
    a running sum over what is left gives the depth. Checked before parsing, so text nested
    too deeply for Python's recursive parser is refused with the limit instead."""
    brackets = _NOT_BRACKET.sub("", _STRING.sub("", text))
    if not brackets:
        return 0
    steps = np.frombuffer(brackets.encode("ascii"), dtype=np.uint8)
    return int(np.cumsum(np.where((steps == ord("[")) | (steps == ord("{")), 1, -1)).max())


def parse_json(text: str, source: str | None = None) -> Any:
    """Strict JSON: an RMError naming the line and column on failure.

    Stricter than ``json.loads``: NaN, Infinity, numbers that overflow a float, duplicate
    keys and nesting deeper than MAX_JSON_DEPTH are errors, as they are not JSON the guest
    reads (or not what the author meant)."""
    if text_depth(text) > MAX_JSON_DEPTH:
        raise RMError(
            "invalid_json",
            f"arrays and objects are nested more than {MAX_JSON_DEPTH} levels deep",
            source=source,
            hint="Flatten the data; nesting this deep is almost certainly a generator's mistake",
        )
    try:
        data = json.loads(
            text, parse_constant=_no_constant, parse_float=_finite_float, object_pairs_hook=_no_duplicates
        )
    except json.JSONDecodeError as exc:
        raise RMError(
            "invalid_json",
            f"not valid JSON: {exc.msg} at line {exc.lineno} column {exc.colno}",
            source=source,
            line=exc.lineno,
            hint="Fix the JSON syntax (a missing comma or quote is the usual cause)",
        ) from None
    except _NotJson as exc:
        raise RMError("invalid_json", f"not valid JSON: {exc}", source=source) from None
    except ValueError as exc:  # an integer over Python's 4300-digit conversion limit
        detail = "a number has over 4300 digits" if "digits" in str(exc) else str(exc)
        raise RMError("invalid_json", f"not usable JSON: {detail}", source=source) from None
    return data


def read_text(path: str | os.PathLike[str], what: str = "manifest") -> str:
    p = Path(path)
    try:
        if p.exists() and not p.is_file() and not p.is_dir():  # reading a FIFO waits forever
            raise RMError("io_error", f"{what} path is not a regular file (a pipe or device)", source=str(p))
        raw = p.read_bytes()
    except FileNotFoundError:
        raise RMError("file_not_found", f"{what} file not found", source=str(p)) from None
    except IsADirectoryError:
        raise RMError("file_not_found", f"{what} path is a directory, not a file", source=str(p)) from None
    except OSError as exc:
        raise RMError("io_error", f"cannot read {what}: {exc.strerror}", source=str(p)) from None
    try:
        return raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise RMError(
            "invalid_json",
            f"{what} is not UTF-8 text (byte {exc.start} is 0x{raw[exc.start]:02x})",
            source=str(p),
            hint="Is this really a JSON manifest?",
        ) from None


def from_text(text: str, source: str | None = None) -> ManifestDocument:
    """A document from JSON text: a bare manifest or a run request wrapping one."""
    data = parse_json(text, source)
    if not isinstance(data, dict):
        raise RMError(
            "invalid_manifest",
            f"a manifest must be a JSON object, not {type(data).__name__ if data is not None else 'null'}",
            path="",
            source=source,
        )
    if "manifest" in data and "nodes" not in data:
        manifest = data["manifest"]
        if not isinstance(manifest, dict):
            raise RMError(
                "invalid_request", "'manifest' must be a JSON object", path="/manifest", source=source
            )
        extra = {k: v for k, v in data.items() if k not in ("manifest", "input_data")}
        return ManifestDocument(manifest, source, text, data.get("input_data", _MISSING), extra, "/manifest")
    return ManifestDocument(data, source, text)


def load(path: str | os.PathLike[str]) -> ManifestDocument:
    """Load a manifest (or run-request) file."""
    return from_text(read_text(path), str(path))


# The process umask, read once at import (reading it means setting it, which is not
# thread-safe later): new files get the permissions any other program would give them.
_UMASK = os.umask(0o022)
os.umask(_UMASK)


def write_text_atomic(path: str | os.PathLike[str], text: str) -> None:
    """Write a text file so that readers see the old or the new content, never half of it.

    The file keeps the permissions it had; a new one gets 0666 minus the umask (mkstemp's
    temp file is 0600, which would make every saved transcript or manifest private)."""
    p = Path(path)
    p.parent.mkdir(parents=True, exist_ok=True)
    try:
        mode = p.stat().st_mode & 0o7777
    except OSError:
        mode = 0o666 & ~_UMASK
    fd, tmp = tempfile.mkstemp(prefix=f".{p.name}.", suffix=".tmp", dir=p.parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8", newline="\n") as f:
            f.write(text)
            f.flush()
            os.fsync(f.fileno())
        os.chmod(tmp, mode)
        os.replace(tmp, p)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def save(doc: ManifestDocument, path: str | os.PathLike[str] | None = None) -> Path:
    """Save the manifest (only the manifest, never a wrapping run request) atomically."""
    target = Path(path or doc.source or "")
    if not str(target):
        raise RMError("invalid_request", "no file name to save the manifest to")
    write_text_atomic(target, doc.to_text())
    doc.source = str(target)
    return target

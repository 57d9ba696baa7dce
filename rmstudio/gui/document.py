"""The open manifest as the editor sees it: its text, undo history, parse and validation state.

The text of the file is the single source of truth (so formatting, key order and unknown
fields survive exactly). Every mutation - typing, a param change in the form, adding or
removing a node, editing a connection - is a :class:`TextChangeCommand` on one
``QUndoStack``: undo puts back the previous text byte for byte. Structured edits compute
the new text with ``rmstudio.core.manifest.edit``; this module only wires them to the stack.

Views subscribe to the signals; none of them parses or validates on its own:

* ``text_changed(str)``: after every change (the editor mirrors it),
* ``parsed_changed()``: ``manifest`` / ``parse_error`` were recomputed (node list, form, graph),
* ``validation_changed()``: ``problems`` were recomputed (debounced while typing),
* ``modified_changed(bool)`` and ``source_changed()``: title bar, autosave.

Typing bursts merge into one undo entry (edits less than MERGE_WINDOW_S apart); so do
repeated changes of one param (spin-box clicks). Loading a file clears the history.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from PySide6.QtCore import QObject, QTimer, Signal
from PySide6.QtGui import QUndoCommand, QUndoStack

from rmstudio.core.errors import RMError
from rmstudio.core.manifest import edit, from_text, validate
from rmstudio.core.manifest.document import read_text, write_text_atomic

MERGE_WINDOW_S = 1.2
VALIDATE_DELAY_MS = 250
# Above this size, problems are listed with their JSON path only: mapping paths to lines
# walks every value in Python, too slow to repeat while typing in a multi-megabyte file.
LINE_MAPPING_MAX_CHARS = 512 * 1024


@dataclass(frozen=True)
class Problem:
    """One validation finding as the problems list shows it."""

    severity: str  # "error" or "warning"
    error: RMError

    @property
    def line(self) -> int | None:
        return self.error.line

    @property
    def path(self) -> str:
        return self.error.path or ""

    @property
    def text(self) -> str:
        msg = self.error.message.rstrip(".") + "."
        if self.error.hint:
            msg += " " + self.error.hint.rstrip(".") + "."
        return msg


class TextChangeCommand(QUndoCommand):
    """Replace the whole text; undo restores the previous one exactly."""

    def __init__(self, model: DocumentModel, old: str, new: str, label: str, merge_key: Any = None) -> None:
        super().__init__(label)
        self.model = model
        self.old = old
        self.new = new
        self.merge_key = merge_key
        self.last_edit = time.monotonic()

    def id(self) -> int:
        return 1 if self.merge_key is not None else -1

    def mergeWith(self, other: QUndoCommand) -> bool:
        if not isinstance(other, TextChangeCommand) or other.merge_key != self.merge_key:
            return False
        if other.last_edit - self.last_edit > MERGE_WINDOW_S or other.old != self.new:
            return False
        self.new = other.new
        self.last_edit = other.last_edit
        if self.new == self.old:
            self.setObsolete(True)
        return True

    def redo(self) -> None:
        self.model._set_text(self.new)

    def undo(self) -> None:
        self.model._set_text(self.old)


class DocumentModel(QObject):
    """One manifest file (or an untitled document) being edited."""

    text_changed = Signal(str)
    parsed_changed = Signal()
    validation_changed = Signal()
    modified_changed = Signal(bool)
    source_changed = Signal()

    def __init__(self, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.undo_stack = QUndoStack(self)
        self.undo_stack.cleanChanged.connect(self._clean_changed)
        self._text = ""
        self.loading = False  # True while a newly opened text is announced (views reset, not diff)
        self.path: Path | None = None
        self.title = "untitled"
        # Parse state, recomputed on every change (cheap: json.loads of a small file).
        self.manifest: dict[str, Any] | None = None
        self.prefix = ""
        self.input_data: Any = None
        self.has_input = False
        self.options: dict[str, Any] = {}
        self.parse_error: RMError | None = None
        # Validation state, debounced.
        self.problems: list[Problem] = []
        self.invalid_nodes: dict[str, list[str]] = {}
        self._validate_timer = QTimer(self)
        self._validate_timer.setSingleShot(True)
        self._validate_timer.setInterval(VALIDATE_DELAY_MS)
        self._validate_timer.timeout.connect(self.validate_now)
        self._reparse()
        self.validate_now()

    def _clean_changed(self, clean: bool) -> None:
        self.modified_changed.emit(not clean)

    # ---------------------------------------------------------------- state

    @property
    def text(self) -> str:
        return self._text

    @property
    def modified(self) -> bool:
        return not self.undo_stack.isClean()

    @property
    def display_name(self) -> str:
        return self.path.name if self.path else self.title

    @property
    def errors(self) -> list[Problem]:
        return [p for p in self.problems if p.severity == "error"]

    @property
    def warnings(self) -> list[Problem]:
        return [p for p in self.problems if p.severity == "warning"]

    def node(self, node_id: str) -> dict[str, Any] | None:
        return edit.find_node(self.manifest, node_id) if self.manifest is not None else None

    # ---------------------------------------------------------------- loading and saving

    def load_file(self, path: str | Path) -> None:
        """Open a manifest or run-request file (RMError if it cannot be read)."""
        p = Path(path)
        text = read_text(p)
        self._reset(text, p.resolve(), p.name)

    def load_text(self, text: str, title: str = "untitled", path: Path | None = None) -> None:
        """Start a fresh document from text (New from example, restore)."""
        self._reset(text, path, title)

    def _reset(self, text: str, path: Path | None, title: str) -> None:
        text = text.replace("\r\n", "\n").replace("\r", "\n")
        self.undo_stack.clear()
        self.path = path
        self.title = title
        self._text = text
        self.undo_stack.setClean()
        self._reparse()
        self.loading = True
        try:
            self.text_changed.emit(text)
        finally:
            self.loading = False
        self.source_changed.emit()
        self.modified_changed.emit(False)
        self.validate_now()

    def save(self, path: str | Path | None = None) -> Path:
        """Write the text as it is (atomically) and mark the document clean."""
        target = Path(path) if path is not None else self.path
        if target is None:
            raise RMError("invalid_request", "this document has no file name yet; use Save As")
        try:
            write_text_atomic(target, self._text)
        except OSError as exc:
            raise RMError("io_error", f"cannot save: {exc.strerror or exc}", source=str(target)) from None
        changed = self.path != target.resolve()
        self.path = target.resolve()
        self.title = target.name
        self.undo_stack.setClean()
        if changed:
            self.source_changed.emit()
        self.validate_now()
        return self.path

    # ---------------------------------------------------------------- edits

    def user_edit(self, new_text: str) -> None:
        """The editor's text changed because the user typed, pasted or deleted."""
        if new_text != self._text:
            self.undo_stack.push(TextChangeCommand(self, self._text, new_text, "Typing", merge_key="typing"))

    def apply(self, new_text: str, label: str, merge_key: Any = None) -> None:
        """Replace the text as one undoable step (structured edits)."""
        if new_text != self._text:
            self.undo_stack.push(TextChangeCommand(self, self._text, new_text, label, merge_key))

    def set_param(self, node_id: str, name: str, value: Any) -> None:
        new = edit.set_param_text(self._text, node_id, name, value)
        self.apply(new, f"Set {node_id}.{name}", merge_key=("param", node_id, name))

    def reset_param(self, node_id: str, name: str) -> None:
        self.apply(edit.edit_text(self._text, edit.remove_param, node_id, name), f"Reset {node_id}.{name}")

    def add_node(self, node_type: str, after: str | None = None) -> str:
        new_text, new_id = edit.add_node_text(self._text, node_type, after)
        self.apply(new_text, f"Add node {new_id}")
        return new_id

    def remove_node(self, node_id: str) -> None:
        self.apply(edit.edit_text(self._text, edit.remove_node, node_id), f"Remove node {node_id}")

    def move_node(self, node_id: str, new_index: int) -> None:
        self.apply(edit.edit_text(self._text, edit.move_node, node_id, new_index), f"Move node {node_id}")

    def rename_node(self, old_id: str, new_id: str) -> None:
        self.apply(
            edit.edit_text(self._text, edit.rename_node, old_id, new_id), f"Rename {old_id} to {new_id}"
        )

    def add_connection(self, src: str, dst: str) -> None:
        self.apply(edit.edit_text(self._text, edit.add_connection, src, dst), f"Connect {src} -> {dst}")

    def remove_connection(self, index: int) -> None:
        self.apply(edit.edit_text(self._text, edit.remove_connection, index), "Remove connection")

    def set_connection(self, index: int, src: str, dst: str) -> None:
        self.apply(
            edit.edit_text(self._text, edit.set_connection, index, src, dst), f"Connect {src} -> {dst}"
        )

    def reformat(self) -> None:
        self.apply(edit.format_manifest(edit.parse_text(self._text)), "Format JSON")

    # ---------------------------------------------------------------- internals

    def _set_text(self, text: str) -> None:
        if text == self._text:
            return
        self._text = text
        self._reparse()
        self.text_changed.emit(text)
        self._validate_timer.start()

    def _reparse(self) -> None:
        try:
            doc = from_text(self._text, str(self.path) if self.path else None)
        except RMError as exc:
            self.manifest = None
            self.prefix = ""
            self.parse_error = exc
        else:
            self.manifest = doc.data
            self.prefix = doc.pointer_prefix
            self.has_input = doc.has_input
            self.input_data = doc.input_data if doc.has_input else None
            self.options = dict(doc.request_extra.get("options") or {})
            self.parse_error = None
        self.parsed_changed.emit()

    def validate_now(self) -> None:
        """Validate the current text (the debounce timer calls this after typing stops)."""
        self._validate_timer.stop()
        problems: list[Problem] = []
        invalid: dict[str, list[str]] = {}
        try:
            doc = from_text(self._text, None)
        except RMError as exc:
            if exc.line is None and exc.path is not None:
                exc.line = 1
            problems.append(Problem("error", exc))
        else:
            if len(self._text) > LINE_MAPPING_MAX_CHARS:
                doc.text = None
            report = validate(doc)
            problems += [Problem("error", e) for e in report.errors]
            problems += [Problem("warning", w) for w in report.warnings]
            ids = edit.node_ids(doc.data)
            for e in report.errors:
                node_id = e.node_id or _node_of_path(e.path, doc.pointer_prefix, doc.data)
                if node_id in ids:
                    invalid.setdefault(node_id, []).append(e.message)
        self.problems = problems
        self.invalid_nodes = invalid
        self.validation_changed.emit()

    @property
    def validation_pending(self) -> bool:
        return self._validate_timer.isActive()


def _node_of_path(path: str | None, prefix: str, data: dict[str, Any]) -> str | None:
    """The id of the node a JSON pointer points into (``/nodes/3/...``), if any."""
    if not path or not path.startswith(prefix + "/nodes/"):
        return None
    token = path[len(prefix) + 7 :].split("/", 1)[0]
    nodes = data.get("nodes")
    if token.isdigit() and isinstance(nodes, list) and int(token) < len(nodes):
        node = nodes[int(token)]
        if isinstance(node, dict) and isinstance(node.get("id"), str):
            return node["id"]
    return None

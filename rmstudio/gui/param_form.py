"""The parameter form of the selected node, generated from the node catalog.

Each catalog param gets an editor matching its type: a spin box bounded by the param's
range (integer / number), a combo box (enum), a check box (boolean) or a line edit
(string). A param missing from the file shows its default, marked "default"; the reset
button removes it from the file again. Descriptions, ranges, defaults and aliases are in
the tooltips. Params the catalog does not know - and every param of an unknown node type,
or a value of the wrong type - are shown read-only: fix those in the text.

Every change goes through ``DocumentModel.set_param`` (one undoable step; repeated changes
of one param merge). The form refreshes after the model changes, on the next event-loop
turn, so a widget is never rebuilt inside its own signal.
"""

from __future__ import annotations

import json
import math
from typing import Any

from PySide6.QtCore import QRegularExpression, Qt, QTimer, Signal
from PySide6.QtGui import QFont, QRegularExpressionValidator, QValidator
from PySide6.QtWidgets import (
    QCheckBox,
    QComboBox,
    QDoubleSpinBox,
    QFormLayout,
    QFrame,
    QHBoxLayout,
    QLineEdit,
    QScrollArea,
    QSpinBox,
    QToolButton,
    QVBoxLayout,
    QWidget,
)

from rmstudio.core.errors import RMError
from rmstudio.core.manifest import catalog, edit
from rmstudio.gui.text import PlainLabel

INT_LIMIT = 2**31 - 1
NUMBER_LIMIT = 1e15


class NumberSpinBox(QDoubleSpinBox):
    """A double spin box that shows ``2`` and ``0.25`` rather than ``2.000000``."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setDecimals(9)

    def textFromValue(self, value: float) -> str:
        return format(value, ".9g")

    def valueFromText(self, text: str) -> float:
        try:
            return float(text.replace(self.suffix(), "").strip())
        except ValueError:
            return self.value()

    def validate(self, text: str, pos: int):
        stripped = text.strip()
        if stripped in ("", "-", "+", ".", "-.", "+."):
            return QValidator.State.Intermediate, text, pos
        try:
            float(stripped)
        except ValueError:
            if stripped.lower().endswith(("e", "e-", "e+")):
                return QValidator.State.Intermediate, text, pos
            return QValidator.State.Invalid, text, pos
        return QValidator.State.Acceptable, text, pos


def _json_number(value: float) -> int | float:
    """Whole numbers go back into the file as integers (``3``, not ``3.0``)."""
    if math.isfinite(value) and float(value).is_integer() and abs(value) < 2**53:
        return int(value)
    return value


def _fits(spec: catalog.Param, value: Any) -> bool:
    """Whether ``value`` can be shown in the editor for ``spec`` (else it is shown read-only)."""
    if spec.type == "boolean":
        return isinstance(value, bool)
    if spec.type == "integer":
        return (
            isinstance(value, (int, float))
            and not isinstance(value, bool)
            and math.isfinite(value)
            and float(value).is_integer()
            and abs(value) <= INT_LIMIT
        )
    if spec.type == "number":
        return (
            isinstance(value, (int, float))
            and not isinstance(value, bool)
            and math.isfinite(value)
            and abs(value) <= NUMBER_LIMIT
        )
    if spec.type == "enum":
        return value in spec.choices
    return isinstance(value, str)


def param_tooltip(spec: catalog.Param) -> str:
    lines = [spec.description, "", f"Type: {spec.type}"]
    if spec.choices:
        lines.append("Choices: " + ", ".join(spec.choices))
    if spec.minimum is not None or spec.maximum is not None:
        lo = "-∞" if spec.minimum is None else f"{spec.minimum:g}"
        hi = "∞" if spec.maximum is None else f"{spec.maximum:g}"
        lines.append(f"Range: {lo} … {hi}")
    if spec.has_default:
        lines.append(f"Default: {json.dumps(spec.default)}")
    if spec.required:
        lines.append("Required")
    if spec.aliases:
        lines.append("Also read as: " + ", ".join(spec.aliases))
    return "\n".join(lines)


class _Row:
    """One param's editor, its "default" tag and its reset button."""

    def __init__(self, form: ParamForm, spec: catalog.Param) -> None:
        self.form = form
        self.spec = spec
        self.widget = self._make_editor()
        self.widget.setToolTip(param_tooltip(spec))
        self.tag = PlainLabel()
        self.tag.setStyleSheet("color: #8a8a8a; font-style: italic;")
        self.reset = QToolButton()
        self.reset.setText("↺")
        self.reset.setToolTip("Reset to the default (remove the param from the file)")
        self.reset.setAutoRaise(True)
        self.reset.clicked.connect(lambda: form.reset_param(spec.name))
        self.container = QWidget()
        box = QHBoxLayout(self.container)
        box.setContentsMargins(0, 0, 0, 0)
        box.setSpacing(4)
        box.addWidget(self.widget, 1)
        box.addWidget(self.tag)
        box.addWidget(self.reset)

    def _make_editor(self) -> QWidget:
        spec = self.spec
        if spec.type == "integer":
            w: QWidget = QSpinBox()
            lo = -INT_LIMIT if spec.minimum is None else max(-INT_LIMIT, math.ceil(spec.minimum))
            hi = INT_LIMIT if spec.maximum is None else min(INT_LIMIT, math.floor(spec.maximum))
            w.setRange(lo, hi)
            w.setKeyboardTracking(False)
            w.valueChanged.connect(lambda v: self.form.commit(spec.name, int(v)))
        elif spec.type == "number":
            w = NumberSpinBox()
            lo = -NUMBER_LIMIT if spec.minimum is None else spec.minimum
            hi = NUMBER_LIMIT if spec.maximum is None else spec.maximum
            w.setRange(lo, hi)
            if spec.minimum is not None and spec.maximum is not None and hi - lo <= 2:
                w.setSingleStep(0.05)
            w.setKeyboardTracking(False)
            w.valueChanged.connect(lambda v: self.form.commit(spec.name, _json_number(v)))
        elif spec.type == "enum":
            w = QComboBox()
            w.addItems(list(spec.choices))
            w.activated.connect(lambda i: self.form.commit(spec.name, spec.choices[i]))
        elif spec.type == "boolean":
            w = QCheckBox()
            w.toggled.connect(lambda on: self.form.commit(spec.name, bool(on)))
        else:
            w = QLineEdit()
            w.textEdited.connect(lambda text: self.form.commit(spec.name, text))
        w.setObjectName(f"param_{spec.name}")
        return w

    def show(self, value: Any, present: bool) -> None:
        spec = self.spec
        shown = value if present else spec.default if spec.has_default else None
        w = self.widget
        w.blockSignals(True)
        try:
            if isinstance(w, QSpinBox):
                w.setValue(int(shown) if shown is not None else max(0, w.minimum()))
            elif isinstance(w, QDoubleSpinBox):
                w.setValue(float(shown) if shown is not None else max(0.0, w.minimum()))
            elif isinstance(w, QComboBox):
                w.setCurrentIndex(spec.choices.index(shown) if shown in spec.choices else -1)
            elif isinstance(w, QCheckBox):
                w.setChecked(bool(shown))
            elif isinstance(w, QLineEdit) and w.text() != (shown or ""):
                w.setText(shown or "")
        finally:
            w.blockSignals(False)
        if present:
            self.tag.setText("")
        elif spec.has_default:
            self.tag.setText("default")
        else:
            self.tag.setText("required" if spec.required else "not set")
        self.tag.setStyleSheet(
            "color: #c62828; font-style: italic;"
            if spec.required and not present
            else "color: #8a8a8a; font-style: italic;"
        )
        self.reset.setEnabled(present)
        self.reset.setVisible(spec.has_default or not spec.required)


class ParamForm(QScrollArea):
    """Edits the params of one node (``show_node``)."""

    message = Signal(str)
    renamed = Signal(str)

    def __init__(self, model, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.model = model
        self.node_id: str | None = None
        self._signature: tuple | None = None
        self._rows: dict[str, _Row] = {}
        self._raw: dict[str, QLineEdit] = {}
        self.id_edit: QLineEdit | None = None
        self.setWidgetResizable(True)
        self.setFrameShape(QFrame.Shape.NoFrame)
        self._refresh_timer = QTimer(self)
        self._refresh_timer.setSingleShot(True)
        self._refresh_timer.setInterval(0)
        self._refresh_timer.timeout.connect(self.refresh)
        model.parsed_changed.connect(self._refresh_timer.start)
        self.refresh()

    # ---------------------------------------------------------------- public

    def show_node(self, node_id: str | None) -> None:
        self.node_id = node_id or None
        self._refresh_timer.start()

    def row(self, name: str) -> QWidget:
        """The editor widget of a param (tests and keyboard focus)."""
        return self._rows[name].widget

    def raw_field(self, name: str) -> QLineEdit:
        return self._raw[name]

    # ---------------------------------------------------------------- building

    def refresh(self) -> None:
        self._refresh_timer.stop()
        manifest = self.model.manifest
        if manifest is None:
            if self.widget() is not None:
                self.widget().setEnabled(False)
            return
        node = edit.find_node(manifest, self.node_id) if self.node_id else None
        if node is None:
            self._set_placeholder("Select a node to edit its parameters.")
            return
        type_name = edit.node_type_name(node)
        spec = catalog.find_node(type_name) if type_name else None
        params = node.get("params") if isinstance(node.get("params"), dict) else {}
        known = set()
        shown: dict[str, tuple[Any, bool]] = {}
        if spec is not None:
            for p in spec.params:
                known.update((p.name, *p.aliases))
                key = edit.param_key(node, p.name)
                present = key in params
                shown[p.name] = (params.get(key), present)
        misfits = tuple(
            name for name, (value, present) in shown.items() if present and not _fits(spec.param(name), value)
        )
        extra = tuple(k for k in params if k not in known)
        signature = (self.node_id, type_name, misfits, extra, not isinstance(node.get("params", {}), dict))
        if signature != self._signature:
            self._build(node, spec, misfits, extra)
            self._signature = signature
        self.widget().setEnabled(True)
        for name, row in self._rows.items():
            value, present = shown[name]
            row.show(value, present)
        for name, field in self._raw.items():
            text = json.dumps(params.get(name), ensure_ascii=False)
            if field.text() != text:
                field.setText(text)
        if self.id_edit is not None and not self.id_edit.hasFocus():
            self.id_edit.setText(self.node_id or "")

    def _set_placeholder(self, text: str) -> None:
        self._signature = None
        self._rows = {}
        self._raw = {}
        self.id_edit = None
        label = PlainLabel(text)
        label.setAlignment(Qt.AlignmentFlag.AlignCenter)
        label.setStyleSheet("color: #8a8a8a;")
        label.setWordWrap(True)
        self.setWidget(label)

    def _build(self, node: dict, spec: catalog.NodeType | None, misfits: tuple, extra: tuple) -> None:
        self._rows = {}
        self._raw = {}
        page = QWidget()
        outer = QVBoxLayout(page)
        outer.setContentsMargins(6, 6, 6, 6)
        outer.setSpacing(6)
        type_name = edit.node_type_name(node) or "?"
        title = PlainLabel(type_name)
        font = QFont(title.font())
        font.setBold(True)
        font.setPointSizeF(font.pointSizeF() * 1.1)
        title.setFont(font)
        outer.addWidget(title)
        about = PlainLabel(
            spec.description if spec else f"Unknown node type '{type_name}': params are read-only."
        )
        about.setWordWrap(True)
        about.setStyleSheet("color: #555;" if spec else "color: #c62828;")
        outer.addWidget(about)

        form = QFormLayout()
        form.setFieldGrowthPolicy(QFormLayout.FieldGrowthPolicy.AllNonFixedFieldsGrow)
        form.setLabelAlignment(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
        form.setHorizontalSpacing(8)
        form.setVerticalSpacing(5)
        self.id_edit = QLineEdit(self.node_id or "")
        self.id_edit.setObjectName("node_id")
        self.id_edit.setValidator(QRegularExpressionValidator(QRegularExpression(r"[a-zA-Z0-9_-]+")))
        self.id_edit.setToolTip("The node's id; connections follow a rename")
        self.id_edit.editingFinished.connect(self._rename)
        form.addRow("id", self.id_edit)
        if spec is not None:
            for p in spec.params:
                if p.name in misfits:
                    self._add_raw(form, p.name, f"value does not fit: {param_tooltip(p)}", error=True)
                    continue
                row = _Row(self, p)
                label = PlainLabel(p.name + (" *" if p.required else ""))
                label.setToolTip(param_tooltip(p))
                form.addRow(label, row.container)
                self._rows[p.name] = row
            if not spec.params:
                none = PlainLabel("This node has no parameters.")
                none.setStyleSheet("color: #8a8a8a;")
                form.addRow("", none)
        for name in extra:
            tip = (
                f"{type_name} has no param '{name}'; it is kept in the file but ignored"
                if spec
                else "unknown node type: shown read-only"
            )
            self._add_raw(form, name, tip, error=False)
        outer.addLayout(form)
        outer.addStretch(1)
        self.setWidget(page)

    def _add_raw(self, form: QFormLayout, name: str, tip: str, error: bool) -> None:
        field = QLineEdit()
        field.setReadOnly(True)
        field.setObjectName(f"raw_{name}")
        field.setToolTip(tip)
        field.setStyleSheet(
            "QLineEdit { color: #c62828; background: #fff4f4; }"
            if error
            else "QLineEdit { color: #666; background: #f4f4f4; }"
        )
        label = PlainLabel(name)
        label.setToolTip(tip)
        label.setStyleSheet("color: #c62828;" if error else "color: #777;")
        form.addRow(label, field)
        self._raw[name] = field

    # ---------------------------------------------------------------- edits

    def commit(self, name: str, value: Any) -> None:
        if self.node_id is None:
            return
        try:
            self.model.set_param(self.node_id, name, value)
        except RMError as exc:
            self.message.emit(exc.describe())

    def reset_param(self, name: str) -> None:
        if self.node_id is None:
            return
        try:
            self.model.reset_param(self.node_id, name)
        except RMError as exc:
            self.message.emit(exc.describe())

    def _rename(self) -> None:
        if self.id_edit is None or self.node_id is None:
            return
        new_id = self.id_edit.text().strip()
        if not new_id or new_id == self.node_id:
            self.id_edit.setText(self.node_id)
            return
        old = self.node_id
        try:
            self.model.rename_node(old, new_id)
        except RMError as exc:
            self.message.emit(exc.describe())
            self.id_edit.setText(old)
            return
        self.node_id = new_id
        self.renamed.emit(new_id)

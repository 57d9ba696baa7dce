"""The connections editor: one row per connection (from -> to), editable in place.

A table view over a small model of the manifest's connections. Each end is drawn as a combo
box and becomes a real one only while it is edited (a click opens its list of node ids);
the last column removes the row (so does Delete). A new connection is made with the two
combo boxes under the table and "Connect". Each change is one undoable step via the document
model; cycles and other mistakes are left to validation to report, so the user sees the same
message the run would give.

Why a model and a delegate rather than a combo box widget per cell: with a few thousand
nodes, building (and rebuilding on every rename) two widgets per connection took seconds;
now a refresh costs a model reset and the view draws only the visible rows.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from PySide6.QtCore import (
    QAbstractTableModel,
    QModelIndex,
    QPersistentModelIndex,
    QStringListModel,
    Qt,
    QTimer,
    Signal,
)
from PySide6.QtGui import QColor, QKeySequence, QPalette, QShortcut
from PySide6.QtWidgets import (
    QAbstractItemView,
    QComboBox,
    QHBoxLayout,
    QHeaderView,
    QPushButton,
    QStyle,
    QStyledItemDelegate,
    QStyleOptionComboBox,
    QStyleOptionViewItem,
    QTableView,
    QVBoxLayout,
    QWidget,
)

from rmstudio.core.errors import RMError
from rmstudio.core.manifest import edit
from rmstudio.gui.document import DocumentModel
from rmstudio.gui.text import PlainLabel

DANGLING = QColor("#c62828")
FROM, TO, REMOVE = 0, 1, 2

AnyIndex = QModelIndex | QPersistentModelIndex


class ConnectionsModel(QAbstractTableModel):
    """The manifest's connections as (from, to) rows; an edit is handed to ``on_edit``."""

    def __init__(self, on_edit: Callable[[int, str, str], None], parent: QWidget) -> None:
        super().__init__(parent)
        self.on_edit = on_edit
        self.ends: list[tuple[Any, Any]] = []
        self.ids: set[str] = set()
        self._remove_icon = parent.style().standardIcon(QStyle.StandardPixmap.SP_DialogCloseButton)

    def load(self, ids: list[str], connections: list[Any]) -> None:
        self.beginResetModel()
        self.ids = set(ids)
        self.ends = [
            (c.get("from"), c.get("to")) if isinstance(c, dict) else (None, None) for c in connections
        ]
        self.endResetModel()

    def rowCount(self, parent: AnyIndex = QModelIndex()) -> int:  # noqa: B008 (Qt's signature)
        return 0 if parent.isValid() else len(self.ends)

    def columnCount(self, parent: AnyIndex = QModelIndex()) -> int:  # noqa: B008
        return 0 if parent.isValid() else 3

    def headerData(self, section: int, orientation: Qt.Orientation, role: int = Qt.ItemDataRole.DisplayRole):
        if orientation == Qt.Orientation.Horizontal and role == Qt.ItemDataRole.DisplayRole:
            return ("From", "To", "")[section]
        return None

    def is_dangling(self, index: AnyIndex) -> bool:
        value = self.ends[index.row()][index.column()]
        return not isinstance(value, str) or value not in self.ids

    def data(self, index: AnyIndex, role: int = Qt.ItemDataRole.DisplayRole):
        if not index.isValid():
            return None
        col = index.column()
        if col == REMOVE:
            if role == Qt.ItemDataRole.DecorationRole:
                return self._remove_icon
            if role == Qt.ItemDataRole.ToolTipRole:
                return "Remove this connection (Delete)"
            return None
        value = self.ends[index.row()][col]
        if role in (Qt.ItemDataRole.DisplayRole, Qt.ItemDataRole.EditRole):
            return value if isinstance(value, str) else ""
        if role == Qt.ItemDataRole.ForegroundRole and self.is_dangling(index):
            return DANGLING
        if role == Qt.ItemDataRole.ToolTipRole:
            if self.is_dangling(index):
                return "Not a node of this pipeline: choose one (validation explains the problem)"
            return "Click to connect a different node"
        return None

    def flags(self, index: AnyIndex) -> Qt.ItemFlag:
        base = Qt.ItemFlag.ItemIsEnabled | Qt.ItemFlag.ItemIsSelectable
        return base | Qt.ItemFlag.ItemIsEditable if index.column() in (FROM, TO) else base

    def setData(self, index: AnyIndex, value: Any, role: int = Qt.ItemDataRole.EditRole) -> bool:
        if role != Qt.ItemDataRole.EditRole or index.column() not in (FROM, TO):
            return False
        ends = list(self.ends[index.row()])
        if ends[index.column()] == value:
            return False
        ends[index.column()] = value
        src, dst = (e if isinstance(e, str) else "" for e in ends)
        self.on_edit(index.row(), src, dst)  # the document changes; a refresh reloads this model
        return True


class NodeIdDelegate(QStyledItemDelegate):
    """Draws an end as a combo box; edits it with a real one over the shared list of ids."""

    def __init__(self, ids: QStringListModel, parent: QWidget) -> None:
        super().__init__(parent)
        self.ids = ids

    def paint(self, painter, option: QStyleOptionViewItem, index: AnyIndex) -> None:
        widget = option.widget
        style = widget.style() if widget is not None else None
        if style is None:
            super().paint(painter, option, index)
            return
        box = QStyleOptionComboBox()
        box.initFrom(widget)
        box.rect = option.rect.adjusted(1, 1, -1, -1)
        box.currentText = index.data(Qt.ItemDataRole.DisplayRole) or ""
        box.state = option.state | QStyle.StateFlag.State_Enabled
        color = index.data(Qt.ItemDataRole.ForegroundRole)
        if color is not None:
            box.palette.setColor(QPalette.ColorRole.ButtonText, color)
        style.drawComplexControl(QStyle.ComplexControl.CC_ComboBox, box, painter, widget)
        style.drawControl(QStyle.ControlElement.CE_ComboBoxLabel, box, painter, widget)

    def createEditor(self, parent: QWidget, option: QStyleOptionViewItem, index: AnyIndex) -> QWidget:
        box = QComboBox(parent)
        box.setModel(self.ids)
        box.activated.connect(lambda _i, b=box: self._commit(b))
        return box

    def _commit(self, box: QComboBox) -> None:
        self.commitData.emit(box)
        self.closeEditor.emit(box)

    def setEditorData(self, editor: QWidget, index: AnyIndex) -> None:
        text = index.data(Qt.ItemDataRole.EditRole) or ""
        editor.setCurrentIndex(editor.findText(text, Qt.MatchFlag.MatchExactly))
        if editor.currentIndex() < 0:
            editor.setPlaceholderText(text or "(none)")  # a dangling end shows what it names

    def setModelData(self, editor: QWidget, model, index: AnyIndex) -> None:
        if editor.currentIndex() >= 0:
            model.setData(index, editor.currentText(), Qt.ItemDataRole.EditRole)


class ConnectionsEditor(QWidget):
    message = Signal(str)

    def __init__(self, model: DocumentModel, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.model = model
        self._ids = QStringListModel(self)  # one list of node ids for every combo box
        self.connections = ConnectionsModel(self._edit, self)
        self.table = QTableView()
        self.table.setModel(self.connections)
        self.table.setItemDelegateForColumn(FROM, NodeIdDelegate(self._ids, self.table))
        self.table.setItemDelegateForColumn(TO, NodeIdDelegate(self._ids, self.table))
        self.table.verticalHeader().setVisible(False)
        self.table.verticalHeader().setDefaultSectionSize(26)
        header = self.table.horizontalHeader()
        header.setSectionResizeMode(FROM, QHeaderView.ResizeMode.Stretch)
        header.setSectionResizeMode(TO, QHeaderView.ResizeMode.Stretch)
        header.setSectionResizeMode(REMOVE, QHeaderView.ResizeMode.Fixed)
        header.resizeSection(REMOVE, 28)
        self.table.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.table.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
        self.table.setEditTriggers(
            QAbstractItemView.EditTrigger.EditKeyPressed | QAbstractItemView.EditTrigger.DoubleClicked
        )
        self.table.clicked.connect(self._clicked)
        remove = QShortcut(QKeySequence(QKeySequence.StandardKey.Delete), self.table)
        remove.setContext(Qt.ShortcutContext.WidgetShortcut)
        remove.activated.connect(self._remove_current)
        self.new_from = QComboBox()
        self.new_to = QComboBox()
        self.new_from.setModel(self._ids)
        self.new_to.setModel(self._ids)
        self.new_from.setToolTip("Source node of the new connection")
        self.new_to.setToolTip("Target node of the new connection")
        self.connect_button = QPushButton("Connect")
        self.connect_button.setToolTip("Add the connection from -> to")
        self.connect_button.clicked.connect(self._add)

        adder = QHBoxLayout()
        adder.setContentsMargins(0, 0, 0, 0)
        adder.setSpacing(4)
        adder.addWidget(self.new_from, 1)
        arrow = PlainLabel("→")
        arrow.setAlignment(Qt.AlignmentFlag.AlignCenter)
        adder.addWidget(arrow)
        adder.addWidget(self.new_to, 1)
        adder.addWidget(self.connect_button)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.setSpacing(3)
        layout.addWidget(self.table)
        layout.addLayout(adder)

        self._shown: tuple | None = None
        self._timer = QTimer(self)
        self._timer.setSingleShot(True)
        self._timer.setInterval(0)
        self._timer.timeout.connect(self.refresh)
        model.parsed_changed.connect(self._timer.start)
        self.refresh()

    def refresh(self) -> None:
        self._timer.stop()
        manifest = self.model.manifest
        if manifest is None:
            self.setEnabled(False)
            return
        self.setEnabled(True)
        ids = edit.node_ids(manifest)
        conns = manifest.get("connections")
        conns = conns if isinstance(conns, list) else []
        shown = edit.structure_key(manifest)
        if shown == self._shown:
            return  # most edits (a param value) change neither the ids nor the connections
        self._shown = shown
        chosen = [box.currentText() for box in (self.new_from, self.new_to)]
        keep = self.table.currentIndex().row()
        self._ids.setStringList(ids)  # (resets every box that shows the list)
        self.connections.load(ids, conns)
        if 0 <= keep < len(conns):
            self.table.selectRow(keep)
        for box, current in zip((self.new_from, self.new_to), chosen, strict=True):
            if current in ids:
                box.setCurrentText(current)
        if self.new_to.currentIndex() == self.new_from.currentIndex() and len(ids) > 1:
            self.new_to.setCurrentIndex((self.new_from.currentIndex() + 1) % len(ids))
        self.connect_button.setEnabled(len(ids) > 1)

    def _clicked(self, index: QModelIndex) -> None:
        if index.column() == REMOVE:
            self.remove(index.row())
        elif index.column() in (FROM, TO):
            self.table.edit(index)
            editor = self.table.indexWidget(index)
            if isinstance(editor, QComboBox):
                editor.showPopup()  # one click opens the list, as a combo box does

    def _remove_current(self) -> None:
        row = self.table.currentIndex().row()
        if row >= 0:
            self.remove(row)

    def suggest_from(self, node_id: str) -> None:
        """Preset the new connection's source (the node selected in the list)."""
        if node_id:
            self.new_from.setCurrentText(node_id)

    def _edit(self, row: int, src: str, dst: str) -> None:
        self._run(lambda: self.model.set_connection(row, src, dst))

    def _add(self) -> None:
        src, dst = self.new_from.currentText(), self.new_to.currentText()
        self._run(lambda: self.model.add_connection(src, dst))

    def add(self, src: str, dst: str) -> None:
        self._run(lambda: self.model.add_connection(src, dst))

    def remove(self, row: int) -> None:
        self._run(lambda: self.model.remove_connection(row))

    def _run(self, action) -> None:
        try:
            action()
        except RMError as exc:
            self.message.emit(exc.describe())
            self._shown = None
            self._timer.start()  # show the connections as they are again

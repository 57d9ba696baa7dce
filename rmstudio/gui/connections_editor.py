"""The connections editor: one row per connection (from -> to), editable in place.

Existing connections are edited with the combo boxes in their row; a new one is made with
the two combo boxes under the table and "Connect". Each change is one undoable step via
the document model; cycles and other mistakes are left to validation to report, so the user
sees the same message the run would give.
"""

from __future__ import annotations

from PySide6.QtCore import QStringListModel, Qt, QTimer, Signal
from PySide6.QtWidgets import (
    QAbstractItemView,
    QComboBox,
    QHBoxLayout,
    QHeaderView,
    QPushButton,
    QStyle,
    QTableWidget,
    QToolButton,
    QVBoxLayout,
    QWidget,
)

from rmstudio.core.errors import RMError
from rmstudio.core.manifest import edit
from rmstudio.gui.document import DocumentModel
from rmstudio.gui.text import PlainLabel


class ConnectionsEditor(QWidget):
    message = Signal(str)

    def __init__(self, model: DocumentModel, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.model = model
        self.table = QTableWidget(0, 3)
        self.table.setHorizontalHeaderLabels(["From", "To", ""])
        self.table.verticalHeader().setVisible(False)
        header = self.table.horizontalHeader()
        header.setSectionResizeMode(0, QHeaderView.ResizeMode.Stretch)
        header.setSectionResizeMode(1, QHeaderView.ResizeMode.Stretch)
        header.setSectionResizeMode(2, QHeaderView.ResizeMode.Fixed)
        header.resizeSection(2, 28)
        self.table.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.table.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
        self.table.verticalHeader().setDefaultSectionSize(26)
        self.new_from = QComboBox()
        self.new_to = QComboBox()
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

        # Every row's combo boxes share one list of node ids: filling a box of its own per
        # cell made a keystroke cost seconds with a few hundred nodes (quadratic).
        self._ids = QStringListModel(self)
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
        shown = (tuple(ids), repr(conns))
        if shown == self._shown:
            return  # most edits (a param value) change neither the ids nor the connections
        self._shown = shown
        chosen = [box.currentText() for box in (self.new_from, self.new_to)]
        self._ids.setStringList(ids)  # (resets every box that shows the list)
        keep = self.table.currentRow()
        self.table.setRowCount(0)
        self.table.setRowCount(len(conns))
        for row, conn in enumerate(conns):
            ends = (conn.get("from"), conn.get("to")) if isinstance(conn, dict) else (None, None)
            for col, value in enumerate(ends):
                box = QComboBox()
                if isinstance(value, str) and value not in ids:
                    box.addItems([*ids, value])  # a dangling end stays visible (validation flags it)
                else:
                    box.setModel(self._ids)
                box.setCurrentText(value if isinstance(value, str) else "")
                if not isinstance(value, str) or value not in ids:
                    box.setStyleSheet("QComboBox { color: #c62828; }")
                box.activated.connect(lambda _i, r=row: self._changed(r))
                self.table.setCellWidget(row, col, box)
            remove = QToolButton()
            remove.setIcon(self.style().standardIcon(QStyle.StandardPixmap.SP_DialogCloseButton))
            remove.setAutoRaise(True)
            remove.setToolTip("Remove this connection")
            remove.setObjectName(f"remove_connection_{row}")
            remove.clicked.connect(lambda _=False, r=row: self.remove(r))
            self.table.setCellWidget(row, 2, remove)
        if 0 <= keep < len(conns):
            self.table.selectRow(keep)
        for box, current in zip((self.new_from, self.new_to), chosen, strict=True):
            if box.model() is not self._ids:
                box.setModel(self._ids)
            if current in ids:
                box.setCurrentText(current)
        if self.new_to.currentIndex() == self.new_from.currentIndex() and len(ids) > 1:
            self.new_to.setCurrentIndex((self.new_from.currentIndex() + 1) % len(ids))
        self.connect_button.setEnabled(len(ids) > 1)

    def suggest_from(self, node_id: str) -> None:
        """Preset the new connection's source (the node selected in the list)."""
        if node_id:
            self.new_from.setCurrentText(node_id)

    def _combo(self, row: int, col: int) -> QComboBox:
        return self.table.cellWidget(row, col)

    def _changed(self, row: int) -> None:
        src, dst = self._combo(row, 0).currentText(), self._combo(row, 1).currentText()
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
            self._timer.start()  # put the combo boxes back

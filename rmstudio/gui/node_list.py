"""The node list: every node of the pipeline with add / remove / move up / move down.

Selection is view state (never in the undo history). Adding a node inserts it after the
selected one and splices it into that node's outgoing connections (see
``core.manifest.edit.add_node``); removing a node reconnects its neighbours.
"""

from __future__ import annotations

from collections import defaultdict

from PySide6.QtCore import QSignalBlocker, QSize, Qt, Signal
from PySide6.QtGui import QAction, QColor, QIcon, QPainter, QPixmap
from PySide6.QtWidgets import (
    QHBoxLayout,
    QListWidget,
    QListWidgetItem,
    QMenu,
    QStyle,
    QToolButton,
    QVBoxLayout,
    QWidget,
)

from rmstudio.core.errors import RMError
from rmstudio.core.manifest import catalog, edit
from rmstudio.gui.document import DocumentModel

ID_ROLE = Qt.ItemDataRole.UserRole + 1
CATEGORY_COLORS = {
    "math": "#3d6fb6",
    "utility": "#8a8f98",
    "audio": "#2e8b57",
    "speech": "#7b4fb3",
    "io": "#b8860b",
}


def category_icon(category: str | None) -> QIcon:
    """A small coloured dot per node category (grey for unknown types)."""
    pix = QPixmap(14, 14)
    pix.fill(Qt.GlobalColor.transparent)
    painter = QPainter(pix)
    painter.setRenderHint(QPainter.RenderHint.Antialiasing)
    painter.setPen(Qt.PenStyle.NoPen)
    painter.setBrush(QColor(CATEGORY_COLORS.get(category or "", "#b0b0b0")))
    painter.drawEllipse(3, 3, 8, 8)
    painter.end()
    return QIcon(pix)


def node_type_menu(parent: QWidget, on_pick) -> QMenu:
    """A menu of the catalog's node types grouped by category; ``on_pick(type_name)``."""
    menu = QMenu(parent)
    groups: dict[str, list[catalog.NodeType]] = defaultdict(list)
    for node_type in catalog.all_nodes():
        groups[node_type.category].append(node_type)
    for category in sorted(groups):
        section = menu.addMenu(category.capitalize())
        section.setToolTipsVisible(True)
        for node_type in groups[category]:
            action = QAction(node_type.name, section)
            action.setToolTip(node_type.description)
            action.setStatusTip(node_type.description)
            action.triggered.connect(lambda _=False, name=node_type.name: on_pick(name))
            section.addAction(action)
    return menu


class NodeList(QWidget):
    """List of nodes plus the buttons that edit it. Emits ``selected(node_id or "")``."""

    selected = Signal(str)
    message = Signal(str)  # for the status bar

    def __init__(self, model: DocumentModel, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.model = model
        self.list = QListWidget()
        self.list.setAlternatingRowColors(True)
        self.list.setIconSize(QSize(14, 14))
        self.list.setStyleSheet("QListWidget::item { padding: 2px 2px; }")
        self.list.currentItemChanged.connect(self._current_changed)
        style = self.style()

        self.add_button = QToolButton()
        self.add_button.setText("Add")
        self.add_button.setToolTip("Add a node after the selected one")
        self.add_button.setIcon(style.standardIcon(QStyle.StandardPixmap.SP_FileDialogNewFolder))
        self.add_button.setToolButtonStyle(Qt.ToolButtonStyle.ToolButtonTextBesideIcon)
        self.add_button.setPopupMode(QToolButton.ToolButtonPopupMode.InstantPopup)
        self.add_button.setMenu(node_type_menu(self, self.add_node))
        self.remove_button = self._tool("Remove", QStyle.StandardPixmap.SP_TrashIcon, self.remove_selected)
        self.remove_button.setToolTip("Remove the selected node (its neighbours are reconnected)")
        self.up_button = self._tool("", QStyle.StandardPixmap.SP_ArrowUp, lambda: self.move_selected(-1))
        self.up_button.setToolTip("Move the selected node up (order breaks ties in execution)")
        self.down_button = self._tool("", QStyle.StandardPixmap.SP_ArrowDown, lambda: self.move_selected(1))
        self.down_button.setToolTip("Move the selected node down")

        buttons = QHBoxLayout()
        buttons.setContentsMargins(0, 0, 0, 0)
        buttons.setSpacing(2)
        for b in (self.add_button, self.remove_button):
            buttons.addWidget(b)
        buttons.addStretch(1)
        buttons.addWidget(self.up_button)
        buttons.addWidget(self.down_button)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.setSpacing(3)
        layout.addLayout(buttons)
        layout.addWidget(self.list)

        self._shown: tuple | None = None
        model.parsed_changed.connect(self.refresh)
        model.validation_changed.connect(self.refresh)
        self.refresh()

    def _tool(self, text: str, icon: QStyle.StandardPixmap, slot) -> QToolButton:
        b = QToolButton()
        b.setIcon(self.style().standardIcon(icon))
        if text:
            b.setText(text)
            b.setToolButtonStyle(Qt.ToolButtonStyle.ToolButtonTextBesideIcon)
        b.clicked.connect(slot)
        return b

    # ---------------------------------------------------------------- state

    def selected_id(self) -> str | None:
        item = self.list.currentItem()
        return item.data(ID_ROLE) if item is not None else None

    def select(self, node_id: str | None) -> None:
        for row in range(self.list.count()):
            item = self.list.item(row)
            if item.data(ID_ROLE) == node_id:
                self.list.setCurrentItem(item)
                return
        if node_id is None:
            self.list.setCurrentItem(None)

    def refresh(self) -> None:
        manifest = self.model.manifest
        if manifest is None:
            # The text is not JSON right now: keep showing the last good list, greyed out.
            self.list.setEnabled(False)
            self.add_button.setEnabled(False)
            self._update_buttons()
            self._shown = None
            return
        invalid = self.model.invalid_nodes
        shown = (edit.structure_key(manifest), repr(invalid))
        if shown == self._shown:
            return  # a param edit: the same list
        self._shown = shown
        keep = self.selected_id()
        keep_row = self.list.currentRow()
        blocker = QSignalBlocker(self.list)
        self.list.clear()
        warn_icon = self.style().standardIcon(QStyle.StandardPixmap.SP_MessageBoxWarning)
        nodes = manifest.get("nodes")
        for node in nodes if isinstance(nodes, list) else []:
            if not isinstance(node, dict) or not isinstance(node.get("id"), str):
                continue
            node_id = node["id"]
            type_name = edit.node_type_name(node) or "?"
            item = QListWidgetItem(f"{node_id}   ·   {type_name}")
            item.setData(ID_ROLE, node_id)
            spec = catalog.find_node(type_name)
            tip = spec.description if spec else f"unknown node type '{type_name}'"
            item.setIcon(category_icon(spec.category if spec else None))
            if node_id in invalid:
                item.setIcon(warn_icon)
                item.setForeground(QColor("#b71c1c"))
                tip += "\n\n" + "\n".join(invalid[node_id])
            item.setToolTip(tip)
            self.list.addItem(item)
        self.list.setEnabled(True)
        self.add_button.setEnabled(True)
        if keep is not None:
            self.select(keep)
        if self.list.currentItem() is None and self.list.count():
            # The node was renamed or removed: stay at the same place in the list.
            self.list.setCurrentRow(max(0, min(keep_row, self.list.count() - 1)))
        blocker.unblock()
        self._update_buttons()
        current = self.selected_id()
        if current != keep:
            self.selected.emit(current or "")

    def _current_changed(self, *_: object) -> None:
        self._update_buttons()
        self.selected.emit(self.selected_id() or "")

    def _update_buttons(self) -> None:
        row = self.list.currentRow()
        has = row >= 0 and self.model.manifest is not None
        self.remove_button.setEnabled(has)
        self.up_button.setEnabled(has and row > 0)
        self.down_button.setEnabled(has and row < self.list.count() - 1)

    # ---------------------------------------------------------------- edits

    def add_node(self, node_type: str) -> str | None:
        try:
            new_id = self.model.add_node(node_type, after=self.selected_id())
        except RMError as exc:
            self.message.emit(exc.describe())
            return None
        self.select(new_id)
        self.message.emit(f"Added node '{new_id}' ({node_type})")
        return new_id

    def remove_selected(self) -> None:
        node_id = self.selected_id()
        if node_id is None:
            return
        row = self.list.currentRow()
        try:
            self.model.remove_node(node_id)
        except RMError as exc:
            self.message.emit(exc.describe())
            return
        if self.list.count():
            self.list.setCurrentRow(min(row, self.list.count() - 1))
        self.message.emit(f"Removed node '{node_id}'")

    def move_selected(self, delta: int) -> None:
        node_id = self.selected_id()
        if node_id is None or self.model.manifest is None:
            return
        index = edit.node_index(self.model.manifest, node_id)
        try:
            self.model.move_node(node_id, index + delta)
        except RMError as exc:
            self.message.emit(exc.describe())
            return
        self.select(node_id)

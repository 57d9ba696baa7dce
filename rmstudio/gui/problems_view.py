"""The problems list: validation errors and warnings with line and JSON path; click to jump."""

from __future__ import annotations

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import QHeaderView, QStyle, QTreeWidget, QTreeWidgetItem, QWidget

from rmstudio.gui.document import DocumentModel

LINE_ROLE = Qt.ItemDataRole.UserRole + 1


class ProblemsView(QTreeWidget):
    """One row per finding: severity icon, line, JSON path, message (with the fix hint)."""

    line_activated = Signal(int)

    def __init__(self, model: DocumentModel, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.model = model
        self.setColumnCount(3)
        self.setHeaderLabels(["Line", "Path", "Message"])
        self.setRootIsDecorated(False)
        self.setUniformRowHeights(True)
        self.setAlternatingRowColors(True)
        self.setWordWrap(False)
        header = self.header()
        header.setSectionResizeMode(0, QHeaderView.ResizeMode.ResizeToContents)
        header.setSectionResizeMode(1, QHeaderView.ResizeMode.Interactive)
        header.setSectionResizeMode(2, QHeaderView.ResizeMode.Stretch)
        header.resizeSection(1, 150)
        style = self.style()
        self._icons = {
            "error": style.standardIcon(QStyle.StandardPixmap.SP_MessageBoxCritical),
            "warning": style.standardIcon(QStyle.StandardPixmap.SP_MessageBoxWarning),
            "ok": style.standardIcon(QStyle.StandardPixmap.SP_DialogApplyButton),
        }
        self.itemClicked.connect(self._jump)
        self.itemActivated.connect(self._jump)
        model.validation_changed.connect(self.refresh)
        self.refresh()

    def refresh(self) -> None:
        self.clear()
        for p in self.model.problems:
            item = QTreeWidgetItem([str(p.line) if p.line else "", p.path or "/", p.text])
            item.setIcon(0, self._icons[p.severity])
            item.setData(0, LINE_ROLE, p.line or 0)
            item.setToolTip(2, p.error.describe())
            item.setToolTip(1, p.path)
            self.addTopLevelItem(item)
        if not self.model.problems and self.model.text.strip():
            item = QTreeWidgetItem(["", "", "No problems: the manifest is valid."])
            item.setIcon(0, self._icons["ok"])
            item.setFlags(Qt.ItemFlag.ItemIsEnabled)
            self.addTopLevelItem(item)

    def _jump(self, item: QTreeWidgetItem, _column: int = 0) -> None:
        line = int(item.data(0, LINE_ROLE) or 0)
        if line:
            self.line_activated.emit(line)

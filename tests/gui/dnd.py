"""Drag-and-drop for tests (QTest has none): send real enter / move / drop events.

In the style of orange-canvas-core's ``dragDrop`` helper: build the events with a real
QMimeData, send them through QApplication (so event filters and parent propagation apply
exactly as for a user's drag) and report whether the target accepted.
"""

from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import QMimeData, QPoint, QPointF, Qt, QUrl
from PySide6.QtGui import QDragEnterEvent, QDragLeaveEvent, QDragMoveEvent, QDropEvent
from PySide6.QtWidgets import QApplication, QWidget


def file_mime(*paths: str | Path) -> QMimeData:
    mime = QMimeData()
    mime.setUrls([QUrl.fromLocalFile(str(Path(p).resolve())) for p in paths])
    return mime


def drag_drop(widget: QWidget, mime: QMimeData, pos: QPoint | None = None) -> bool:
    """Drag ``mime`` onto ``widget`` and drop it; True if the drop was accepted."""
    pos = pos or widget.rect().center()
    action = Qt.DropAction.CopyAction
    buttons = Qt.MouseButton.LeftButton
    mods = Qt.KeyboardModifier.NoModifier
    # Qt 6.11's bindings take integer points for enter/move and a float point for the drop.
    enter = QDragEnterEvent(QPoint(pos), action, mime, buttons, mods)
    QApplication.sendEvent(widget, enter)
    if not enter.isAccepted():
        return False
    move = QDragMoveEvent(QPoint(pos), action, mime, buttons, mods)
    QApplication.sendEvent(widget, move)
    if not move.isAccepted():
        QApplication.sendEvent(widget, QDragLeaveEvent())
        return False
    drop = QDropEvent(QPointF(pos), action, mime, buttons, mods)
    QApplication.sendEvent(widget, drop)
    return drop.isAccepted()


def drag_enter_refused(widget: QWidget, mime: QMimeData, pos: QPoint | None = None) -> bool:
    """True if ``widget`` refuses the drag at the enter event."""
    pos = pos or widget.rect().center()
    enter = QDragEnterEvent(
        QPoint(pos),
        Qt.DropAction.CopyAction,
        mime,
        Qt.MouseButton.LeftButton,
        Qt.KeyboardModifier.NoModifier,
    )
    QApplication.sendEvent(widget, enter)
    refused = not enter.isAccepted()
    QApplication.sendEvent(widget, QDragLeaveEvent())
    return refused

"""Text from files shown in the window, never interpreted as HTML.

QLabel and QMessageBox guess the format of their text, and anything that looks like a tag is
rendered as rich text. The window shows package metadata, member names, manifest ids and file
names, so a hostile package could draw its own "verified" banner. Every label is plain text;
message boxes get the text converted to HTML that shows it literally.
"""

from __future__ import annotations

from PySide6 import QtGui
from PySide6.QtCore import Qt
from PySide6.QtWidgets import QLabel, QWidget


class PlainLabel(QLabel):
    """A QLabel whose text is always shown as written."""

    def __init__(self, text: str = "", parent: QWidget | None = None) -> None:
        super().__init__(text, parent)
        self.setTextFormat(Qt.TextFormat.PlainText)


def literal_html(text: str) -> str:
    """``text`` as HTML that displays it literally (for QMessageBox, which guesses formats).

    Paragraphs and line breaks stay; spaces are ordinary spaces so long messages wrap (the
    default, WhiteSpacePre, makes every space non-breaking: one line as wide as the text)."""
    return QtGui.Qt.convertFromPlainText(text, Qt.WhiteSpaceMode.WhiteSpaceNormal)

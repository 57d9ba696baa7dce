"""The JSON text editor: line numbers, syntax colours, problem underlines, undo via the model.

``JsonEditor`` is a view of :class:`~rmstudio.gui.document.DocumentModel`: what the user
types is handed to ``model.user_edit`` (one undoable step per typing burst), and any change
the model makes (undo, a param edited in the form) is mirrored back by replacing only the
characters that differ, so the scroll position and cursor stay where the user left them.
The text widget's own undo is switched off; Ctrl+Z in the editor goes to the model's stack.

File drags are left to the main window (dropping a file opens it instead of pasting its
path into the text).
"""

from __future__ import annotations

from PySide6.QtCore import QRect, QRegularExpression, QSize, Qt, Signal
from PySide6.QtGui import (
    QColor,
    QFont,
    QFontDatabase,
    QKeySequence,
    QPainter,
    QPalette,
    QSyntaxHighlighter,
    QTextCharFormat,
    QTextCursor,
    QTextFormat,
)
from PySide6.QtWidgets import (
    QHBoxLayout,
    QMenu,
    QPlainTextEdit,
    QPushButton,
    QStackedWidget,
    QTextEdit,
    QVBoxLayout,
    QWidget,
)

from rmstudio.gui.document import DocumentModel
from rmstudio.gui.text import PlainLabel


def monospace_font(point_size: int = 10) -> QFont:
    font = QFontDatabase.systemFont(QFontDatabase.SystemFont.FixedFont)
    font.setStyleHint(QFont.StyleHint.Monospace)
    font.setPointSize(point_size)
    return font


def _fmt(color: str, bold: bool = False) -> QTextCharFormat:
    f = QTextCharFormat()
    f.setForeground(QColor(color))
    if bold:
        f.setFontWeight(QFont.Weight.DemiBold)
    return f


class JsonHighlighter(QSyntaxHighlighter):
    """Colours keys, strings, numbers and literals. JSON strings never span lines."""

    KEY = _fmt("#1a4d8f", bold=True)
    STRING = _fmt("#2e7d32")
    NUMBER = _fmt("#b35900")
    LITERAL = _fmt("#7b1fa2", bold=True)
    PUNCT = _fmt("#6b6b6b")

    _string = QRegularExpression(r'"(?:[^"\\]|\\.)*"?')
    _number = QRegularExpression(r"-?\b\d+(?:\.\d+)?(?:[eE][-+]?\d+)?\b")
    _literal = QRegularExpression(r"\b(?:true|false|null)\b")
    _punct = QRegularExpression(r"[{}\[\],:]")

    MAX_LINE = 4000  # longer lines (inline data) stay plain: colouring them would stall typing

    def highlightBlock(self, text: str) -> None:
        if len(text) > self.MAX_LINE:
            return
        for rx, fmt in (
            (self._punct, self.PUNCT),
            (self._number, self.NUMBER),
            (self._literal, self.LITERAL),
        ):
            it = rx.globalMatch(text)
            while it.hasNext():
                m = it.next()
                self.setFormat(m.capturedStart(), m.capturedLength(), fmt)
        it = self._string.globalMatch(text)
        while it.hasNext():
            m = it.next()
            start, length = m.capturedStart(), m.capturedLength()
            rest = text[start + length :].lstrip()
            self.setFormat(start, length, self.KEY if rest.startswith(":") else self.STRING)


class _LineNumberArea(QWidget):
    def __init__(self, editor: JsonEditor) -> None:
        super().__init__(editor)
        self.editor = editor

    def sizeHint(self) -> QSize:
        return QSize(self.editor.line_number_width(), 0)

    def paintEvent(self, event) -> None:
        self.editor.paint_line_numbers(event)


class JsonEditor(QPlainTextEdit):
    """A QPlainTextEdit bound to a DocumentModel."""

    cursor_moved = Signal(int, int)  # 1-based line, column

    def __init__(self, model: DocumentModel, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.model = model
        self._applying = False
        self.suspended = False
        self._problem_lines: dict[int, str] = {}
        self.setUndoRedoEnabled(False)
        self.setFont(monospace_font())
        self.setLineWrapMode(QPlainTextEdit.LineWrapMode.NoWrap)
        self.setTabChangesFocus(False)
        self.setTabStopDistance(self.fontMetrics().horizontalAdvance(" ") * 2)
        self.setPlaceholderText(
            "Open a manifest (Ctrl+O), pick File > New from Example, or drop a .json file here"
        )
        self.highlighter = JsonHighlighter(self.document())
        self._numbers = _LineNumberArea(self)
        self.blockCountChanged.connect(self._update_margin)
        self.updateRequest.connect(self._update_numbers)
        self.cursorPositionChanged.connect(self._cursor_changed)
        self.textChanged.connect(self._user_changed)
        model.text_changed.connect(self.show_text)
        model.validation_changed.connect(self._refresh_problems)
        self._update_margin()
        self.show_text(model.text)

    # ---------------------------------------------------------------- model sync

    def _user_changed(self) -> None:
        if not self._applying and not self.suspended:
            self.model.user_edit(self.toPlainText())

    def suspend(self, on: bool) -> None:
        """Stop (or resume) mirroring the model: used while the text is too large to show."""
        if on == self.suspended:
            return
        self.suspended = on
        self._applying = True
        try:
            self.clear()
        finally:
            self._applying = False
        if not on:
            self.show_text(self.model.text)

    def show_text(self, text: str) -> None:
        """Make the widget show ``text``, touching only the range that differs."""
        if self.suspended:
            return
        current = self.toPlainText()
        if current == text:
            return
        start = 0
        limit = min(len(current), len(text))
        while start < limit and current[start] == text[start]:
            start += 1
        end_cur, end_new = len(current), len(text)
        while end_cur > start and end_new > start and current[end_cur - 1] == text[end_new - 1]:
            end_cur -= 1
            end_new -= 1
        cursor = QTextCursor(self.document())
        self._applying = True
        try:
            if self.model.loading or (start == 0 and end_cur == len(current)):
                # Whole text differs (a file was opened): start at the top.
                self.setPlainText(text)
                self.moveCursor(QTextCursor.MoveOperation.Start)
            else:
                cursor.setPosition(_qt_pos(current, start))
                cursor.setPosition(_qt_pos(current, end_cur), QTextCursor.MoveMode.KeepAnchor)
                cursor.insertText(text[start:end_new])
                self.setTextCursor(cursor)
        finally:
            self._applying = False
        self._refresh_problems()

    def keyPressEvent(self, event) -> None:
        if event.matches(QKeySequence.StandardKey.Undo):
            self.model.undo_stack.undo()
            return
        if event.matches(QKeySequence.StandardKey.Redo):
            self.model.undo_stack.redo()
            return
        super().keyPressEvent(event)

    def contextMenuEvent(self, event) -> None:
        menu: QMenu = self.createStandardContextMenu()
        stack = self.model.undo_stack
        for action in menu.actions():
            # The widget's own undo is off; offer the document's history instead.
            if action.text().replace("&", "").startswith(("Undo", "Redo")):
                menu.removeAction(action)
        first = menu.actions()[0] if menu.actions() else None
        undo = stack.createUndoAction(menu)
        redo = stack.createRedoAction(menu)
        menu.insertAction(first, undo)
        menu.insertAction(first, redo)
        if first is not None:
            menu.insertSeparator(first)
        menu.exec(event.globalPos())

    # File drops belong to the main window.
    def dragEnterEvent(self, event) -> None:
        if event.mimeData().hasUrls():
            event.ignore()
            return
        super().dragEnterEvent(event)

    def dragMoveEvent(self, event) -> None:
        if event.mimeData().hasUrls():
            event.ignore()
            return
        super().dragMoveEvent(event)

    def dropEvent(self, event) -> None:
        if event.mimeData().hasUrls():
            event.ignore()
            return
        super().dropEvent(event)

    # ---------------------------------------------------------------- navigation

    def go_to_line(self, line: int, column: int = 1) -> None:
        """Put the cursor on ``line`` (1-based), scroll it into view and focus the editor."""
        block = self.document().findBlockByNumber(max(0, line - 1))
        if not block.isValid():
            block = self.document().lastBlock()
        cursor = QTextCursor(block)
        cursor.movePosition(
            QTextCursor.MoveOperation.Right,
            QTextCursor.MoveMode.MoveAnchor,
            max(0, min(column - 1, block.length() - 1)),
        )
        self.setTextCursor(cursor)
        self.centerCursor()
        self.setFocus(Qt.FocusReason.OtherFocusReason)

    def current_line(self) -> int:
        return self.textCursor().blockNumber() + 1

    def _cursor_changed(self) -> None:
        cursor = self.textCursor()
        self.cursor_moved.emit(cursor.blockNumber() + 1, cursor.positionInBlock() + 1)
        self._update_selections()

    # ---------------------------------------------------------------- problems

    def _refresh_problems(self) -> None:
        lines: dict[int, str] = {}
        for p in self.model.problems:
            if p.line and (p.severity == "error" or p.line not in lines):
                lines[p.line] = p.severity
        self._problem_lines = lines
        self._update_selections()
        self._numbers.update()

    def _update_selections(self) -> None:
        selections = []
        current = QTextEdit.ExtraSelection()
        current.format.setBackground(QColor("#f2f6fc"))
        current.format.setProperty(QTextFormat.Property.FullWidthSelection, True)
        current.cursor = self.textCursor()
        current.cursor.clearSelection()
        selections.append(current)
        doc = self.document()
        for line, severity in self._problem_lines.items():
            block = doc.findBlockByNumber(line - 1)
            if not block.isValid():
                continue
            sel = QTextEdit.ExtraSelection()
            sel.format.setUnderlineStyle(QTextCharFormat.UnderlineStyle.WaveUnderline)
            sel.format.setUnderlineColor(QColor("#d32f2f" if severity == "error" else "#e69500"))
            cursor = QTextCursor(block)
            text = block.text()
            indent = len(text) - len(text.lstrip())
            cursor.movePosition(QTextCursor.MoveOperation.Right, QTextCursor.MoveMode.MoveAnchor, indent)
            cursor.movePosition(QTextCursor.MoveOperation.EndOfBlock, QTextCursor.MoveMode.KeepAnchor)
            sel.cursor = cursor
            selections.append(sel)
        self.setExtraSelections(selections)

    # ---------------------------------------------------------------- line numbers

    def line_number_width(self) -> int:
        digits = max(3, len(str(self.blockCount())))
        return 14 + self.fontMetrics().horizontalAdvance("9") * digits

    def _update_margin(self, *_: object) -> None:
        self.setViewportMargins(self.line_number_width(), 0, 0, 0)

    def _update_numbers(self, rect: QRect, dy: int) -> None:
        if dy:
            self._numbers.scroll(0, dy)
        else:
            self._numbers.update(0, rect.y(), self._numbers.width(), rect.height())
        if rect.contains(self.viewport().rect()):
            self._update_margin()

    def resizeEvent(self, event) -> None:
        super().resizeEvent(event)
        cr = self.contentsRect()
        self._numbers.setGeometry(QRect(cr.left(), cr.top(), self.line_number_width(), cr.height()))

    def paint_line_numbers(self, event) -> None:
        painter = QPainter(self._numbers)
        painter.fillRect(event.rect(), self.palette().color(QPalette.ColorRole.Window).lighter(103))
        block = self.firstVisibleBlock()
        number = block.blockNumber()
        top = round(self.blockBoundingGeometry(block).translated(self.contentOffset()).top())
        bottom = top + round(self.blockBoundingRect(block).height())
        current = self.textCursor().blockNumber()
        width = self._numbers.width()
        height = self.fontMetrics().height()
        while block.isValid() and top <= event.rect().bottom():
            if block.isVisible() and bottom >= event.rect().top():
                severity = self._problem_lines.get(number + 1)
                if severity:
                    painter.fillRect(
                        0, top, 4, height, QColor("#d32f2f" if severity == "error" else "#e69500")
                    )
                painter.setPen(QColor("#202020" if number == current else "#9a9a9a"))
                painter.drawText(0, top, width - 6, height, Qt.AlignmentFlag.AlignRight, str(number + 1))
            block = block.next()
            top = bottom
            bottom = top + round(self.blockBoundingRect(block).height())
            number += 1
        painter.end()


def _qt_pos(text: str, index: int) -> int:
    """QTextDocument positions count UTF-16 code units; Python indexes code points."""
    return index + sum(1 for ch in text[:index] if ord(ch) > 0xFFFF)


LONG_LINE_CHARS = 50_000
LARGE_TEXT_CHARS = 5_000_000


def too_large_to_show(text: str) -> str | None:
    """Why ``text`` would stall a text widget (one enormous line, or megabytes), else None."""
    if len(text) > LARGE_TEXT_CHARS:
        return f"{len(text) / 1e6:.1f} million characters"
    longest = max(map(len, text.split("\n")), default=0)
    if longest > LONG_LINE_CHARS:
        return f"a line of {longest:,} characters (inline data)"
    return None


class EditorArea(QStackedWidget):
    """The editor, or - for a file too large to show as text - a notice with the ways forward.

    Typing into a text view with one multi-megabyte line (a run request with its audio
    inline, say) freezes any text widget, so such files open with the text view off. Every
    other panel works as usual (the model holds the exact text; forms, undo, save and run
    are unaffected). "Show the text anyway" turns it on for this document; "Lay out the
    JSON" reformats it into short lines (one undoable step).
    """

    def __init__(self, model: DocumentModel, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.model = model
        self.editor = JsonEditor(model)
        self.notice = QWidget()
        self.reason = PlainLabel()
        self.reason.setWordWrap(True)
        self.reason.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.reason.setStyleSheet("color: #444;")
        self.show_anyway = QPushButton("Show the text anyway")
        self.show_anyway.clicked.connect(self._force_show)
        self.layout_button = QPushButton("Lay out the JSON in short lines")
        self.layout_button.setToolTip("Reformat the file (undoable); long lists then span many short lines")
        self.layout_button.clicked.connect(self._reformat)
        buttons = QHBoxLayout()
        buttons.addStretch(1)
        buttons.addWidget(self.show_anyway)
        buttons.addWidget(self.layout_button)
        buttons.addStretch(1)
        box = QVBoxLayout(self.notice)
        box.addStretch(1)
        title = PlainLabel("This file is too large to edit as text")
        title.setAlignment(Qt.AlignmentFlag.AlignCenter)
        title.setStyleSheet("font-weight: bold; font-size: 12pt;")
        box.addWidget(title)
        box.addWidget(self.reason)
        box.addLayout(buttons)
        box.addStretch(2)
        self.addWidget(self.editor)
        self.addWidget(self.notice)
        self._forced = False
        model.text_changed.connect(self._check)
        model.source_changed.connect(self._new_document)
        self._check(model.text)

    @property
    def showing_text(self) -> bool:
        return self.currentWidget() is self.editor

    def _new_document(self) -> None:
        self._forced = False
        self._check(self.model.text)

    def _check(self, text: str) -> None:
        if self.model.loading:
            self._forced = False
        why = None if self._forced else too_large_to_show(text)
        if why:
            self.reason.setText(
                f"It has {why}. The pipeline panels, the run and Save work as usual; "
                "showing the text may make the window slow."
            )
            self.editor.suspend(True)
            self.setCurrentWidget(self.notice)
        else:
            self.setCurrentWidget(self.editor)
            self.editor.suspend(False)

    def _force_show(self) -> None:
        self._forced = True
        self._check(self.model.text)

    def _reformat(self) -> None:
        from rmstudio.core.errors import RMError

        try:
            self.model.reformat()
        except RMError:
            self._force_show()

"""The Transcript view: a Whisper run's text and segments; click to play, copy, export.

Shown in the Run panel as soon as a run's outputs contain transcripts (the Whisper node's
``{text, segments: [{start, end, text}], language, audio_duration}``). Segment times go
through ``core.export.segments`` (the same normalisation every export uses); Export writes
txt, srt, vtt or json through ``core.export.write_transcript``. Clicking a segment emits
``segment_activated(start, end)``; the main window seeks the Audio panel there and plays.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import (
    QApplication,
    QFileDialog,
    QHBoxLayout,
    QHeaderView,
    QPlainTextEdit,
    QPushButton,
    QSplitter,
    QTreeWidget,
    QTreeWidgetItem,
    QVBoxLayout,
    QWidget,
)

from rmstudio.core.errors import RMError
from rmstudio.core.export import FORMATS, render, segments, transcript_text, write_transcript
from rmstudio.gui.text import PlainLabel

START_ROLE = Qt.ItemDataRole.UserRole + 1


def find_transcripts(outputs: Any) -> list[dict[str, Any]]:
    """The outputs that are transcripts (objects with ``text`` and a ``segments`` list)."""
    items = outputs if isinstance(outputs, list) else [outputs]
    return [o for o in items if isinstance(o, dict) and isinstance(o.get("segments"), list) and "text" in o]


def _clock(seconds: float) -> str:
    minutes, rest = divmod(max(0.0, seconds), 60)
    return f"{int(minutes)}:{rest:06.3f}"


class TranscriptView(QWidget):
    segment_activated = Signal(float, float)
    message = Signal(str)

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.transcripts: list[dict[str, Any]] = []
        self.summary = PlainLabel()
        self.summary.setStyleSheet("color: #555;")
        self.text = QPlainTextEdit()
        self.text.setReadOnly(True)
        self.text.setObjectName("transcript_text")
        self.segments = QTreeWidget()
        self.segments.setHeaderLabels(["Start", "End", "Text"])
        self.segments.setRootIsDecorated(False)
        self.segments.setAlternatingRowColors(True)
        self.segments.setWordWrap(True)
        header = self.segments.header()
        header.setSectionResizeMode(0, QHeaderView.ResizeMode.ResizeToContents)
        header.setSectionResizeMode(1, QHeaderView.ResizeMode.ResizeToContents)
        header.setSectionResizeMode(2, QHeaderView.ResizeMode.Stretch)
        self.segments.itemActivated.connect(self._activated)
        self.segments.itemClicked.connect(self._activated)
        self.segments.setToolTip("Click a segment to play it from the Audio panel")
        self.copy_button = QPushButton("Copy text")
        self.copy_button.clicked.connect(self.copy_text)
        self.export_button = QPushButton("Export…")
        self.export_button.setToolTip("Save as " + ", ".join(f".{f} ({d})" for f, d in FORMATS.items()))
        self.export_button.clicked.connect(self.export_dialog)
        buttons = QHBoxLayout()
        buttons.addWidget(self.summary, 1)
        buttons.addWidget(self.copy_button)
        buttons.addWidget(self.export_button)
        split = QSplitter(Qt.Orientation.Vertical)
        split.addWidget(self.text)
        split.addWidget(self.segments)
        split.setStretchFactor(0, 1)
        split.setStretchFactor(1, 2)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 4, 0, 0)
        layout.setSpacing(4)
        layout.addLayout(buttons)
        layout.addWidget(split, 1)

    def show_outputs(self, outputs: Any) -> bool:
        """Show the transcripts among ``outputs``; False (and cleared) when there are none."""
        self.transcripts = find_transcripts(outputs)
        self.segments.clear()
        self.text.clear()
        if not self.transcripts:
            self.summary.setText("")
            return False
        try:
            segs = segments(self.transcripts)
            text = transcript_text(self.transcripts)
        except RMError as exc:
            self.summary.setText(exc.describe())
            return True
        self.text.setPlainText(text)
        for seg in segs:
            item = QTreeWidgetItem([_clock(seg.start), _clock(seg.end), seg.text])
            item.setData(0, START_ROLE, (seg.start, seg.end))
            item.setToolTip(2, seg.text)
            self.segments.addTopLevelItem(item)
        language = next((t.get("language") for t in self.transcripts if t.get("language")), None)
        duration = sum(float(t.get("audio_duration") or 0) for t in self.transcripts)
        bits = [f"{len(segs)} segment{'s' if len(segs) != 1 else ''}"]
        if language:
            bits.append(f"language {language}")
        if duration:
            bits.append(f"{duration:.1f} s of audio")
        self.summary.setText(" · ".join(bits))
        return True

    def _activated(self, item: QTreeWidgetItem, _column: int = 0) -> None:
        start, end = item.data(0, START_ROLE)
        self.segment_activated.emit(float(start), float(end))

    def copy_text(self) -> None:
        QApplication.clipboard().setText(self.text.toPlainText())
        self.message.emit("Transcript copied to the clipboard")

    def render(self, fmt: str) -> str:
        return render(self.transcripts, fmt)

    def export(self, path: str | Path) -> Path | None:
        try:
            written = write_transcript(self.transcripts, path)
        except RMError as exc:
            self.message.emit(exc.describe())
            return None
        self.message.emit(f"Exported the transcript to {written}")
        return written

    def export_dialog(self) -> None:
        if not self.transcripts:
            return
        filters = ";;".join(f"{desc} (*.{fmt})" for fmt, desc in FORMATS.items())
        path, chosen = QFileDialog.getSaveFileName(self, "Export transcript", "transcript.srt", filters)
        if not path:
            return
        if not Path(path).suffix and "(*." in chosen:
            path += "." + chosen.split("(*.", 1)[1].rstrip(")")
        self.export(path)

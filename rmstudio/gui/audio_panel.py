"""The Audio panel: dropped/opened audio files, a waveform of the selected one, playback.

Files arrive through ``MainWindow.register_file_handler(FileKind.AUDIO, ...)`` (drops
anywhere on the window, File > Open, the command line). The list shows each file's
duration, rate and channels from its header (``core.audio.audio_info``, no decoding). The
waveform is a min/max summary computed by ``core.audio.summarize_file`` on a thread-pool
worker - it streams the file, so hour-long recordings cost a few MB - and drawn as one
envelope polyline. Playback uses QtMultimedia (created on first use); a cursor follows
the position, and clicking the waveform seeks.

Extension point for the Transcript step: ``selected_path()`` and ``file_selected(str)``
tell a Transcribe action which file to send through core's Whisper request builder.
"""

from __future__ import annotations

from pathlib import Path

import pyqtgraph as pg
from PySide6.QtCore import Qt, QUrl, Signal
from PySide6.QtWidgets import (
    QHBoxLayout,
    QListWidget,
    QListWidgetItem,
    QPushButton,
    QSlider,
    QStyle,
    QToolButton,
    QVBoxLayout,
    QWidget,
)

from rmstudio.core.audio import WaveformSummary, audio_info, summarize_file
from rmstudio.core.errors import RMError
from rmstudio.gui.background import BackgroundJobs
from rmstudio.gui.text import PlainLabel

PATH_ROLE = Qt.ItemDataRole.UserRole + 1
WAVEFORM_BINS = 3000
WAVE_COLOR = "#2e6da4"


def format_time(seconds: float) -> str:
    seconds = max(0.0, seconds)
    minutes, rest = divmod(seconds, 60)
    hours, minutes = divmod(int(minutes), 60)
    if hours:
        return f"{hours}:{minutes:02d}:{rest:04.1f}"
    return f"{minutes}:{rest:04.1f}"


class AudioPanel(QWidget):
    message = Signal(str)
    file_selected = Signal(str)
    use_as_input = Signal(str, str)  # path, one-line description
    transcribe_requested = Signal(str)  # path

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.summaries: dict[str, WaveformSummary] = {}
        self.infos: dict[str, object] = {}
        self.jobs = BackgroundJobs(self, max_threads=2, error_code="audio_unreadable")
        self.jobs.succeeded.connect(self._summary_done)
        self.jobs.failed.connect(self._summary_failed)
        self.player = None
        self.audio_output = None
        self._player_path: str | None = None
        self._pending_seek = 0.0

        self.list = QListWidget()
        self.list.setAlternatingRowColors(True)
        self.list.currentItemChanged.connect(self._selected)
        self.list.setToolTip("Drop audio files anywhere on the window, or use File > Open")
        self.remove_button = QToolButton()
        self.remove_button.setIcon(self.style().standardIcon(QStyle.StandardPixmap.SP_TrashIcon))
        self.remove_button.setToolTip("Remove the selected file from the list (the file stays on disk)")
        self.remove_button.clicked.connect(self.remove_selected)
        self.info = PlainLabel("Drop audio files here (WAV, FLAC, OGG, MP3, AIFF, …)")
        self.info.setWordWrap(True)
        self.info.setStyleSheet("color: #555;")

        self.plot = pg.PlotWidget()
        self.plot.setMenuEnabled(False)
        self.plot.setMouseEnabled(x=True, y=False)
        self.plot.hideButtons()
        self.plot.setMinimumHeight(110)
        item = self.plot.getPlotItem()
        item.setLabel("bottom", "time", units="s", **{"font-size": "8pt"})
        item.getAxis("left").setWidth(34)
        item.getAxis("left").setPen(pg.mkPen("#dedede"))
        item.getAxis("left").setTextPen(pg.mkPen("#3a3a3a"))
        item.getAxis("bottom").setPen(pg.mkPen("#dedede"))
        item.getAxis("bottom").setTextPen(pg.mkPen("#3a3a3a"))
        self.plot.setYRange(-1, 1, padding=0.05)
        self.wave = self.plot.plot(pen=pg.mkPen(WAVE_COLOR, width=1))
        self.wave.setClipToView(True)
        self.cursor = pg.InfiniteLine(pos=0, angle=90, pen=pg.mkPen("#c62828", width=1.5))
        self.cursor.setVisible(False)
        self.plot.addItem(self.cursor, ignoreBounds=True)
        self.plot.scene().sigMouseClicked.connect(self._plot_clicked)

        self.play_button = QPushButton(self.style().standardIcon(QStyle.StandardPixmap.SP_MediaPlay), "Play")
        self.play_button.setToolTip("Play / pause the selected file (Space in this panel)")
        self.play_button.clicked.connect(self.toggle_play)
        self.position = QSlider(Qt.Orientation.Horizontal)
        self.position.setRange(0, 0)
        self.position.sliderMoved.connect(self._seek_ms)
        self.time_label = PlainLabel("0:00.0 / 0:00.0")
        self.time_label.setMinimumWidth(110)
        self.input_button = QPushButton("Use as run input")
        self.input_button.setToolTip(
            "The next run gets this file as one audio item {data, sample_rate, channels}"
        )
        self.input_button.clicked.connect(self.use_selected_as_input)
        self.transcribe_button = QPushButton("Transcribe")
        self.transcribe_button.setToolTip("Speech to text with Whisper in the sandbox (Ctrl+T)")
        self.transcribe_button.clicked.connect(self._transcribe)

        header = QHBoxLayout()
        header.addWidget(PlainLabel("Files"))
        header.addStretch(1)
        header.addWidget(self.transcribe_button)
        header.addWidget(self.input_button)
        header.addWidget(self.remove_button)
        transport = QHBoxLayout()
        transport.addWidget(self.play_button)
        transport.addWidget(self.position, 1)
        transport.addWidget(self.time_label)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(6, 6, 6, 6)
        layout.setSpacing(4)
        layout.addLayout(header)
        layout.addWidget(self.list, 1)
        layout.addWidget(self.info)
        layout.addWidget(self.plot, 3)
        layout.addLayout(transport)
        self._update_enabled()

    # ---------------------------------------------------------------- files

    def add_file(self, path: str | Path) -> bool:
        """Add a file to the list (header read only); False with a message if it is not audio."""
        p = str(Path(path).resolve())
        for row in range(self.list.count()):
            if self.list.item(row).data(PATH_ROLE) == p:
                self.list.setCurrentRow(row)
                return True
        try:
            info = audio_info(p)
        except RMError as exc:
            self.message.emit(exc.describe())
            return False
        self.infos[p] = info
        channels = {1: "mono", 2: "stereo"}.get(info.channels, f"{info.channels} ch")
        item = QListWidgetItem(
            f"{Path(p).name}   {format_time(info.duration)} · {info.sample_rate / 1000:g} kHz · {channels}"
        )
        item.setData(PATH_ROLE, p)
        item.setToolTip(p)
        self.list.addItem(item)
        self.list.setCurrentItem(item)
        self.message.emit(f"Added {Path(p).name} ({format_time(info.duration)})")
        return True

    def describe(self, path: str) -> str:
        info = self.infos.get(path)
        if info is None:
            return Path(path).name
        channels = {1: "mono", 2: "stereo"}.get(info.channels, f"{info.channels} channels")
        return f"{Path(path).name}, {format_time(info.duration)}, {info.sample_rate / 1000:g} kHz {channels}"

    def use_selected_as_input(self) -> None:
        """Offer the selected file as the next run's input (nothing when none is selected)."""
        path = self.selected_path()
        if path:
            self.use_as_input.emit(path, self.describe(path))

    def _transcribe(self) -> None:
        path = self.selected_path()
        if path:
            self.transcribe_requested.emit(path)

    def selected_path(self) -> str | None:
        item = self.list.currentItem()
        return item.data(PATH_ROLE) if item is not None else None

    def remove_selected(self) -> None:
        row = self.list.currentRow()
        if row < 0:
            return
        path = self.list.item(row).data(PATH_ROLE)
        if self.player is not None and self._player_path == path:
            self.player.stop()
            self.player.setSource(QUrl())
            self._player_path = None
        self.list.takeItem(row)
        self.summaries.pop(path, None)
        if self.list.count() == 0:
            self._show(None)

    def _selected(self, *_: object) -> None:
        path = self.selected_path()
        self._show(path)
        self._update_enabled()
        if path:
            self.file_selected.emit(path)

    def _show(self, path: str | None) -> None:
        if path is None:
            self.wave.setData([], [])
            self.cursor.setVisible(False)
            self.info.setText("Drop audio files here (WAV, FLAC, OGG, MP3, AIFF, …)")
            return
        info = self.infos.get(path)
        if info is not None:
            size = info.size_bytes
            size_text = f"{size / 1e6:.1f} MB" if size >= 1e6 else f"{size / 1e3:.0f} KB"
            self.info.setText(
                f"{info.format_info} · {info.subtype_info} · {info.sample_rate} Hz · "
                f"{info.channels} channel{'s' if info.channels != 1 else ''} · "
                f"{format_time(info.duration)} · {size_text}"
            )
            self.plot.setXRange(0, max(info.duration, 0.01), padding=0)
            if self._player_path != path:
                self.time_label.setText(f"0:00.0 / {format_time(info.duration)}")
                self.position.setValue(0)
        summary = self.summaries.get(path)
        if summary is not None:
            x, y = summary.polyline(0)
            self.wave.setData(x, y)
        else:
            self.wave.setData([], [])
            self._summarize(path)
        self.cursor.setVisible(True)
        self.cursor.setValue(0)
        self._pending_seek = 0.0

    def _summarize(self, path: str) -> None:
        if path in self.jobs.pending:
            return
        self.jobs.submit(path, lambda: summarize_file(path, WAVEFORM_BINS, "peak"), source=path)

    def _summary_done(self, path: str, summary: WaveformSummary) -> None:
        self.summaries[path] = summary
        if path == self.selected_path():
            self._show(path)

    def _summary_failed(self, path: str, error: RMError) -> None:
        self.message.emit(error.describe())

    def wait_for_summaries(self, msecs: int = 30_000) -> bool:
        return self.jobs.wait(msecs)

    # ---------------------------------------------------------------- playback

    def _ensure_player(self) -> None:
        if self.player is not None:
            return
        from PySide6.QtMultimedia import QAudioOutput, QMediaPlayer

        self.player = QMediaPlayer(self)
        self.audio_output = QAudioOutput(self)
        self.player.setAudioOutput(self.audio_output)
        self.player.positionChanged.connect(self._position_changed)
        self.player.durationChanged.connect(lambda ms: self.position.setRange(0, int(ms)))
        self.player.playbackStateChanged.connect(self._state_changed)
        self.player.errorOccurred.connect(lambda _e, text: self.message.emit(f"Playback: {text}"))

    def can_play(self) -> bool:
        """Whether there is an audio output device (headless machines and CI have none)."""
        from PySide6.QtMultimedia import QMediaDevices

        if QMediaDevices.audioOutputs():
            return True
        self.message.emit("No audio output device: playback is off (the waveform and seeking still work)")
        return False

    def toggle_play(self) -> None:
        path = self.selected_path()
        if path is None or not self.can_play():
            return
        self._ensure_player()
        from PySide6.QtMultimedia import QMediaPlayer

        if self._player_path != path:
            self.player.setSource(QUrl.fromLocalFile(path))
            self._player_path = path
            self.player.setPosition(int(self._pending_seek * 1000))
        if self.player.playbackState() == QMediaPlayer.PlaybackState.PlayingState:
            self.player.pause()
        else:
            self.player.play()

    def play(self) -> None:
        """Start (or continue) playing the selected file."""
        path = self.selected_path()
        if path is None or not self.can_play():
            return
        self._ensure_player()
        if self._player_path != path:
            self.player.setSource(QUrl.fromLocalFile(path))
            self._player_path = path
            self.player.setPosition(int(self._pending_seek * 1000))
        self.player.play()

    def seek(self, seconds: float) -> None:
        path = self.selected_path()
        if path is None:
            return
        self._pending_seek = seconds
        if self.player is None or self._player_path != path:
            self.cursor.setValue(seconds)  # applied when playback of this file starts
            return
        if self._player_path != path:
            self.player.setSource(QUrl.fromLocalFile(path))
            self._player_path = path
        self._seek_ms(int(seconds * 1000))

    def _seek_ms(self, ms: int) -> None:
        if self.player is not None:
            self.player.setPosition(ms)
        self.cursor.setValue(ms / 1000)

    def _position_changed(self, ms: int) -> None:
        if not self.position.isSliderDown():
            self.position.setValue(int(ms))
        self.cursor.setValue(ms / 1000)
        info = self.infos.get(self._player_path or "")
        total = info.duration if info is not None else 0.0
        self.time_label.setText(f"{format_time(ms / 1000)} / {format_time(total)}")

    def _state_changed(self, state) -> None:
        from PySide6.QtMultimedia import QMediaPlayer

        playing = state == QMediaPlayer.PlaybackState.PlayingState
        icon = QStyle.StandardPixmap.SP_MediaPause if playing else QStyle.StandardPixmap.SP_MediaPlay
        self.play_button.setIcon(self.style().standardIcon(icon))
        self.play_button.setText("Pause" if playing else "Play")

    def _plot_clicked(self, event) -> None:
        if self.selected_path() is None:
            return
        point = self.plot.getPlotItem().vb.mapSceneToView(event.scenePos())
        info = self.infos.get(self.selected_path())
        duration = info.duration if info is not None else 0.0
        self.seek(min(max(0.0, point.x()), duration))

    def keyPressEvent(self, event) -> None:
        if event.key() == Qt.Key.Key_Space:
            self.toggle_play()
            return
        super().keyPressEvent(event)

    def _update_enabled(self) -> None:
        has = self.selected_path() is not None
        self.play_button.setEnabled(has)
        self.position.setEnabled(has)
        self.remove_button.setEnabled(has)
        self.input_button.setEnabled(has)
        self.transcribe_button.setEnabled(has)

    def shutdown(self) -> None:
        if self.player is not None:
            self.player.stop()
        self.jobs.shutdown()

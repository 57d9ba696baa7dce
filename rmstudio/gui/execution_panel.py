"""The Run panel: run controls, limits, input items, live plots, event log and results.

Run builds a ``RunRequest`` from the open document (its manifest, the input box, the
limits) and hands it to :class:`~rmstudio.gui.run_worker.RunController`; nothing here
executes anything itself. Events are drained in batches into
:class:`~rmstudio.gui.telemetry.RunTelemetry` and a pending-lines list; a 100 ms timer
redraws the plots and appends the log lines, so the cost per event is an append.

Results: the output JSON (pretty, read-only; very large outputs are cut for display), a
one-line summary (engine, wall time, peak memory, output count) and, on failure, the
error's ``describe()`` paragraph in an inline box - never a traceback.

Extension point: a Transcript view (next step) subscribes to ``run_finished(RunResult)``
and shows ``outputs`` that are transcripts; ``run_request(request, engine)`` is the entry
point a one-click Transcribe button uses with a request built by core.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path
from typing import Any

from PySide6.QtCore import Qt, QTimer, Signal
from PySide6.QtGui import QKeySequence
from PySide6.QtWidgets import (
    QComboBox,
    QDoubleSpinBox,
    QFormLayout,
    QFrame,
    QHBoxLayout,
    QLabel,
    QPlainTextEdit,
    QPushButton,
    QSizePolicy,
    QSpinBox,
    QSplitter,
    QStyle,
    QTabWidget,
    QVBoxLayout,
    QWidget,
)

from rmstudio.core.errors import RMError
from rmstudio.core.inputs import parse_input
from rmstudio.core.manifest.document import parse_json
from rmstudio.core.manifest.edit import format_manifest
from rmstudio.core.prepare import wants_audio_input
from rmstudio.core.runs import NO_INPUT, Limits, RunRequest, RunResult
from rmstudio.core.transcribe import WhisperOptions, default_manifest, transcribe_file
from rmstudio.gui.document import DocumentModel
from rmstudio.gui.json_editor import monospace_font
from rmstudio.gui.plots import LivePlots
from rmstudio.gui.run_worker import Prepare, RunController, Runner
from rmstudio.gui.telemetry import MIB, RunTelemetry, format_event
from rmstudio.gui.text import PlainLabel
from rmstudio.gui.transcript_view import TranscriptView

ENGINE_LABELS = {"wasm": "WASM sandbox", "native": "Native reference (numpy)"}
REFRESH_MS = 150
LOG_MAX_LINES = 5000
OUTPUT_PREVIEW_CHARS = 60_000


def output_preview(outputs: Any) -> str:
    """The outputs as JSON for display: laid out like the examples when small, else compact and cut.

    Runs on the worker thread; large outputs never go through the per-item pretty printer
    (a list of a million numbers would hold the GIL for seconds).
    """
    compact = json.dumps(outputs, ensure_ascii=False, allow_nan=True, separators=(", ", ": "))
    if len(compact) <= OUTPUT_PREVIEW_CHARS // 4:
        return format_manifest(outputs)
    text = compact[:OUTPUT_PREVIEW_CHARS]  # one long line: the view wraps it after the commas
    if len(compact) > OUTPUT_PREVIEW_CHARS:
        text += (
            f"\n\n… cut for display: {OUTPUT_PREVIEW_CHARS:,} of {len(compact):,} characters shown"
            " (the full outputs are in the run result)"
        )
    return text


INPUT_INLINE_CHARS = 20_000


class PackageRun:
    """Running an .rmpkg: verified and extracted (``core.package.prepare_run``) on the worker
    thread, then run in the package's own runtime with only its own directories visible."""

    def __init__(self, path: str, audio_path: str | None = None) -> None:
        self.path = path
        self.audio_path = audio_path
        self.package = None

    def prepare(self, request: RunRequest) -> tuple[RunRequest, Callable[[], None] | None]:
        from rmstudio.core.manifest import validate
        from rmstudio.core.package import prepare_run
        from rmstudio.core.prepare import prepare_run as prepare_request

        self.package = prepare_run(self.path)
        validate(self.package.document).raise_first()
        options = dict(self.package.document.request_extra.get("options") or {})
        options.update(request.options)
        if self.audio_path is None:
            return replace(request, manifest=self.package.manifest, options=options), None
        # The audio file becomes a read-only /input directory; the package maps its own models.
        prepared = prepare_request(
            self.package.document,
            audio_path=self.audio_path,
            limits=request.limits,
            options=options,
            mount=False,
        )
        return replace(prepared.request, manifest=self.package.manifest), prepared.cleanup

    def run(self, request: RunRequest, on_event, control) -> RunResult:
        assert self.package is not None
        return self.package.run(request, on_event, control)


def audio_input(path: str | None, engine: str) -> Prepare:
    """A worker-thread step that completes the request with core.prepare: the audio file (if
    any) decoded into a read-only input directory, and every model the manifest names mounted
    read-only for the guest. Temporary files go when the run ends."""

    def prepare(request: RunRequest) -> tuple[RunRequest, Callable[[], None]]:
        from rmstudio.core.manifest.document import ManifestDocument
        from rmstudio.core.prepare import prepare_run

        prepared = prepare_run(
            ManifestDocument(request.manifest),
            audio_path=path,
            engine=engine,
            limits=request.limits,
            options=request.options,
        )
        if path is None:
            prepared.request.input_data = request.input_data
        return prepared.request, prepared.cleanup

    return prepare


def format_ms(ms: float) -> str:
    if ms >= 10_000:
        return f"{ms / 1000:.1f} s"
    if ms >= 1000:
        return f"{ms / 1000:.2f} s"
    return f"{ms:.0f} ms" if ms >= 10 else f"{ms:.1f} ms"


def run_details(result: RunResult, telemetry: RunTelemetry) -> str:
    """The summary's tooltip: host timings, module cache, memory, graph."""
    host = result.host
    lines = [f"engine: {ENGINE_LABELS.get(result.engine, result.engine)}"]
    for key, label in (
        ("wall_ms", "wall time"),
        ("module_load_ms", "module load"),
        ("instantiate_ms", "instantiate"),
    ):
        if isinstance(host.get(key), (int, float)):
            lines.append(f"{label}: {format_ms(host[key])}")
    if host.get("module_cache"):
        lines.append(f"compiled-module cache: {host['module_cache']}")
    peak = host.get("peak_memory_bytes") or result.metrics.get("peak_memory_bytes")
    if peak:
        lines.append(f"peak guest memory: {peak / MIB:.1f} MiB")
    rss = host.get("peak_rss_bytes") or telemetry.peak_rss
    if rss:
        lines.append(f"peak process RSS: {rss / MIB:.0f} MiB")
    order = result.graph_info.get("execution_order") if result.graph_info else None
    if order:
        shown = " → ".join(order[:8]) + (" → …" if len(order) > 8 else "")
        lines.append(f"order: {shown}")
    lines.append(f"events: {telemetry.event_count}")
    return "\n".join(lines)


def describe_value(value: Any) -> str:
    """A few words about a JSON value: ``a list of 3 items``, ``an object``."""
    if isinstance(value, list):
        return f"a list of {len(value):,} item{'s' if len(value) != 1 else ''}"
    if isinstance(value, dict):
        return f"an object with {len(value)} field{'s' if len(value) != 1 else ''}"
    return f"a {type(value).__name__}"


class ExecutionPanel(QWidget):
    run_started = Signal()
    run_finished = Signal(object)  # RunResult
    message = Signal(str)

    def __init__(self, model: DocumentModel, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.model = model
        self.controller = RunController(self)
        self.controller.events.connect(self._on_events)
        self.controller.finished.connect(self._on_finished)
        self.telemetry = RunTelemetry()
        self.last_result: RunResult | None = None
        self._document_input: tuple[str, Any] | None = None
        self._audio_input: tuple[str, str] | None = None  # (stand-in line, audio file path)
        # Set by the window: fills the input with the selected audio file (Audio panel), if any.
        self.audio_fallback: Callable[[], None] | None = None
        self._pending_log: list[str] = []
        self._run_started_at = 0.0
        self._engine_running = "wasm"
        style = self.style()

        self.run_button = QPushButton(style.standardIcon(QStyle.StandardPixmap.SP_MediaPlay), "Run")
        self.run_button.setToolTip("Run the pipeline (F5 / Ctrl+R)")
        self.run_button.setDefault(True)
        self.run_button.clicked.connect(self.run)
        self.cancel_button = QPushButton(style.standardIcon(QStyle.StandardPixmap.SP_MediaStop), "Cancel")
        self.cancel_button.setToolTip("Stop the running pipeline (Esc)")
        self.cancel_button.setEnabled(False)
        self.cancel_button.clicked.connect(self.cancel)
        self.engine_combo = QComboBox()
        for key, label in ENGINE_LABELS.items():
            self.engine_combo.addItem(label, key)
        self.engine_combo.setToolTip(
            "WASM sandbox: the pipeline runs inside wasmtime with memory and time limits.\n"
            "Native reference: the numpy executor with the same semantics (for comparison)."
        )
        self.memory_spin = QSpinBox()
        self.memory_spin.setRange(16, 4096)
        self.memory_spin.setSingleStep(64)
        self.memory_spin.setSuffix(" MiB")
        self.memory_spin.setToolTip("Cap on the guest's linear memory (WASM sandbox only)")
        self.timeout_spin = QDoubleSpinBox()
        self.timeout_spin.setRange(0, 86400)
        self.timeout_spin.setDecimals(1)
        self.timeout_spin.setSingleStep(5)
        self.timeout_spin.setSuffix(" s")
        self.timeout_spin.setSpecialValueText("none")
        self.timeout_spin.setToolTip("Stop the run after this many seconds (WASM sandbox only; 0 = no limit)")
        self.input_edit = QPlainTextEdit()
        self.input_edit.setFont(monospace_font(9))
        self.input_edit.setPlaceholderText("e.g. [5, 7, 3]  (empty: the pipeline gets no items)")
        self.input_edit.setToolTip(
            "input_data for the run, as JSON (a list is a list of items),\n"
            "@file.json or a path to a .json file"
        )
        self.input_edit.setFixedHeight(self.input_edit.fontMetrics().lineSpacing() * 3 + 12)
        self.input_edit.setTabChangesFocus(True)

        self.summary = PlainLabel("Ready.")
        self.summary.setObjectName("run_summary")
        self.summary.setWordWrap(True)
        self.summary.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.error_box = PlainLabel()
        self.error_box.setObjectName("run_error")
        self.error_box.setWordWrap(True)
        self.error_box.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.error_box.setStyleSheet(
            "QLabel { background: #fdecea; color: #8e1b1b; border: 1px solid #f1b0ab;"
            " border-radius: 4px; padding: 6px; }"
        )
        self.error_box.setVisible(False)
        self.error_box.setSizePolicy(QSizePolicy.Policy.Preferred, QSizePolicy.Policy.Maximum)

        self.plots = LivePlots(self.telemetry)
        self.output_view = QPlainTextEdit()
        self.output_view.setReadOnly(True)
        self.output_view.setFont(monospace_font(9))
        self.output_view.setPlaceholderText("The outputs of the last run appear here.")
        self.output_view.setObjectName("run_output")
        self.log_view = QPlainTextEdit()
        self.log_view.setReadOnly(True)
        self.log_view.setFont(monospace_font(9))
        self.log_view.setMaximumBlockCount(LOG_MAX_LINES)
        self.log_view.setLineWrapMode(QPlainTextEdit.LineWrapMode.NoWrap)
        self.log_view.setPlaceholderText(
            "Events of the running pipeline (node start/finish, progress, logs)."
        )
        self.tabs = QTabWidget()
        self.tabs.setDocumentMode(True)
        self.transcript = TranscriptView()
        self.tabs.addTab(self.output_view, "Output")
        self.tabs.addTab(self.transcript, "Transcript")
        self.tabs.addTab(self.log_view, "Event log")
        self.tabs.setTabVisible(1, False)  # shown when a run returns a transcript

        buttons = QHBoxLayout()
        buttons.setSpacing(6)
        buttons.addWidget(self.run_button)
        buttons.addWidget(self.cancel_button)
        buttons.addSpacing(8)
        buttons.addWidget(PlainLabel("Engine"))
        buttons.addWidget(self.engine_combo, 1)
        limits = QHBoxLayout()
        limits.setSpacing(6)
        limits.addWidget(PlainLabel("Memory cap"))
        limits.addWidget(self.memory_spin, 1)
        limits.addSpacing(8)
        limits.addWidget(PlainLabel("Timeout"))
        limits.addWidget(self.timeout_spin, 1)
        form = QFormLayout()
        form.setContentsMargins(0, 0, 0, 0)
        form.addRow(self._caption("Input items (input_data, JSON)"))
        form.addRow(self.input_edit)

        top = QWidget()
        top_layout = QVBoxLayout(top)
        top_layout.setContentsMargins(0, 0, 0, 0)
        top_layout.setSpacing(6)
        top_layout.addLayout(buttons)
        top_layout.addLayout(limits)
        top_layout.addLayout(form)
        top_layout.addWidget(self.summary)
        top_layout.addWidget(self.error_box)
        line = QFrame()
        line.setFrameShape(QFrame.Shape.HLine)
        line.setFrameShadow(QFrame.Shadow.Sunken)
        top_layout.addWidget(line)

        self.splitter = QSplitter(Qt.Orientation.Vertical)
        self.splitter.setChildrenCollapsible(False)
        self.splitter.addWidget(self.plots)
        self.splitter.addWidget(self.tabs)
        self.splitter.setStretchFactor(0, 3)
        self.splitter.setStretchFactor(1, 2)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(6, 6, 6, 6)
        layout.setSpacing(6)
        layout.addWidget(top)
        layout.addWidget(self.splitter, 1)

        self.timer = QTimer(self)
        self.timer.setInterval(REFRESH_MS)
        self.timer.timeout.connect(self._tick)

    @staticmethod
    def _caption(text: str) -> QLabel:
        label = PlainLabel(text)
        label.setStyleSheet("color: #555;")
        return label

    # ---------------------------------------------------------------- settings

    @property
    def engine(self) -> str:
        return self.engine_combo.currentData()

    def set_engine(self, engine: str) -> None:
        index = self.engine_combo.findData(engine)
        if index >= 0:
            self.engine_combo.setCurrentIndex(index)

    def limits(self) -> Limits:
        timeout = self.timeout_spin.value()
        return Limits(memory_bytes=self.memory_spin.value() * MIB, timeout_s=timeout if timeout > 0 else None)

    def set_input_from_document(self) -> None:
        """Prefill the input box from a run-request file's input_data.

        Large inputs are not pasted into the box: it shows a one-line stand-in, and the
        items from the file are used for as long as that line is left unchanged.
        """
        self._document_input = None
        if not self.model.has_input:
            return
        data = self.model.input_data
        text = json.dumps(data, ensure_ascii=False)
        if len(text) > INPUT_INLINE_CHARS:
            what = f"{describe_value(data)}, {len(text):,} characters"
            text = f"<input_data of {self.model.display_name}: {what}>"
            self._document_input = (text, data)
        self.input_edit.setPlainText(text)

    # ---------------------------------------------------------------- running

    @property
    def running(self) -> bool:
        return self.controller.running

    def build_request(self) -> RunRequest:
        """The request for the open document; RMError says what is in the way."""
        model = self.model
        model.validate_now()
        if model.manifest is None:
            err = model.parse_error or RMError("invalid_manifest", "there is no manifest to run")
            raise RMError(
                err.code, err.message, line=err.line, hint="Fix the JSON in the editor, then run again"
            )
        if model.errors:
            first = model.errors[0].error
            n = len(model.errors)
            raise RMError(
                first.code,
                f"the manifest has {n} error{'s' if n != 1 else ''}; the first: {first.message}",
                path=first.path,
                line=first.line,
                node_id=first.node_id,
                hint="See the Problems list; click an entry to jump to its line",
            )
        input_data = self.input_items()
        return RunRequest(model.manifest, input_data, dict(model.options), self.limits())

    def set_audio_input(self, path: str, description: str) -> None:
        """Use an audio file as the run's input (decoded on the worker thread at Run)."""
        text = f"<audio: {description}>"
        self._audio_input = (text, path)
        self.input_edit.setPlainText(text)
        self.message.emit(f"The next run gets {Path(path).name} as its input")

    def _audio_path(self) -> str | None:
        if self._audio_input is not None and self.input_edit.toPlainText().strip() == self._audio_input[0]:
            return self._audio_input[1]
        return None

    def input_text_to_remember(self) -> str:
        """The input box for the settings: not the stand-in line for a large document input."""
        text = self.input_edit.toPlainText()
        if self._document_input is not None and text.strip() == self._document_input[0]:
            return ""
        if self._audio_path() is not None:
            return ""
        return text

    def input_items(self) -> Any:
        """The input box as input_data: JSON text, ``@file.json`` or a path (like ``--input``)."""
        text = self.input_edit.toPlainText().strip()
        if not text or self._audio_path() is not None:
            return NO_INPUT  # audio input is filled in on the worker thread (audio_input)
        if self._document_input is not None and text == self._document_input[0]:
            return self._document_input[1]
        if text[0] in '[{"-0123456789' or text in ("true", "false", "null"):
            # Clearly meant as JSON: report JSON syntax errors with their position.
            try:
                return parse_json(text, "input items")
            except RMError as exc:
                raise RMError(
                    exc.code, exc.message, source="input items", hint="Fix the JSON in the Input box"
                ) from None
        return parse_input(text)

    def run(self) -> bool:
        """Start a run of the open document; False (with the reason shown) if it cannot start."""
        if self.running:
            return False
        try:
            request = self.build_request()
        except RMError as exc:
            self._show_error(exc, "Not run")
            return False
        engine = self.engine
        if (
            self.audio_fallback is not None
            and not self.input_edit.toPlainText().strip()
            and wants_audio_input(request.manifest)
        ):
            self.audio_fallback()  # the Audio panel's selected file becomes the input, if any
        return self.run_request(request, engine, audio_input(self._audio_path(), engine))

    def transcribe(self, path: str, options: WhisperOptions) -> bool:
        """One-click Transcribe: the default Whisper pipeline on ``path`` in the sandbox, through
        ``core.transcribe`` like the CLI (long audio in windows, ``options.threads`` at once)."""
        request = RunRequest(default_manifest(options), NO_INPUT, {}, self.limits())

        def runner(req: RunRequest, on_event, control) -> RunResult:
            job = transcribe_file(
                path, options, engine="wasm", limits=req.limits, on_event=on_event, control=control
            )
            return job.result

        return self.run_request(request, "wasm", None, runner, label=None)

    def run_package(self, path: str) -> bool:
        """Run an .rmpkg with the input box's items (WASM sandbox, the package's own runtime)."""
        if self.running:
            return False
        try:
            items = self.input_items()
        except RMError as exc:
            self._show_error(exc, "Not run")
            return False
        job = PackageRun(path, self._audio_path())
        request = RunRequest({}, items, {}, self.limits())
        return self.run_request(request, "wasm", job.prepare, job.run, label=Path(path).name)

    def run_request(
        self,
        request: RunRequest,
        engine: str,
        prepare: Prepare | None = None,
        runner: Runner | None = None,
        label: str | None = None,
    ) -> bool:
        if self.running:  # Transcribe, a package's Run: say why nothing happens
            self.message.emit("A run is in progress: wait for it to finish, or cancel it (Esc)")
            return False
        self.telemetry.reset()
        self.plots.reset()
        self.log_view.clear()
        self.output_view.clear()
        self.error_box.setVisible(False)
        self._pending_log.clear()
        self._engine_running = engine
        self._run_started_at = time.monotonic()
        where = f"package {label}" if label else f"the {ENGINE_LABELS.get(engine, engine)}"
        self.summary.setText(f"Running {where}…" if label else f"Running in {where}…")
        self.summary.setStyleSheet("")
        self._set_running(True)
        self.controller.start(request, engine, output_preview, prepare, runner)
        self.timer.start()
        self.run_started.emit()
        self.message.emit(f"Running in the {ENGINE_LABELS.get(engine, engine)}…")
        return True

    def cancel(self) -> None:
        if self.running:
            self.controller.cancel()
            self.summary.setText("Cancelling…")
            self.cancel_button.setEnabled(False)

    def shutdown(self) -> bool:
        """Cancel and wait (closing the window); True when no run is left."""
        self.timer.stop()
        return self.controller.shutdown()

    def _set_running(self, on: bool) -> None:
        self.run_button.setEnabled(not on)
        self.cancel_button.setEnabled(on)
        for w in (self.engine_combo, self.memory_spin, self.timeout_spin, self.input_edit):
            w.setEnabled(not on)

    def _on_events(self, batch: list) -> None:
        for event in batch:
            self.telemetry.feed(event)
            if not (event.get("event") == "memory" and event.get("source") == "host"):
                self._pending_log.append(format_event(event))
        if len(self._pending_log) > LOG_MAX_LINES:
            del self._pending_log[:-LOG_MAX_LINES]

    def _tick(self) -> None:
        self.plots.refresh()
        if self._pending_log:
            self.log_view.appendPlainText("\n".join(self._pending_log))
            self._pending_log.clear()
        if self.running and not self.controller.cancel_requested:
            tel = self.telemetry
            parts = [f"Running in the {ENGINE_LABELS.get(self._engine_running)}…"]
            parts.append(f"{time.monotonic() - self._run_started_at:.1f} s")
            if tel.is_audio and tel.rtf_now:
                parts.append(f"{tel.audio_done_s:.1f} s of audio, RTF {tel.rtf_now:.2f}")
            elif tel.percent is not None:
                parts.append(f"{tel.percent:.0f} %")
            if tel.peak_memory:
                parts.append(f"{tel.peak_memory / MIB:.1f} MiB")
            self.summary.setText(" · ".join(parts))

    def _on_finished(self, result: RunResult, output_text: str) -> None:
        self.timer.stop()
        self._tick()
        self.plots.refresh(force=True)
        self._set_running(False)
        self.last_result = result
        engine = ENGINE_LABELS.get(result.engine, result.engine)
        wall = result.host.get("wall_ms")
        peak = result.metrics.get("peak_memory_bytes") or result.host.get("peak_memory_bytes")
        peak = peak or self.telemetry.peak_memory
        bits = []
        if isinstance(wall, (int, float)):
            bits.append(format_ms(wall))
        bits.append(engine)
        if peak:
            bits.append(f"peak guest memory {peak / MIB:.1f} MiB")
        self.summary.setToolTip(run_details(result, self.telemetry))
        if result.ok:
            outputs = result.outputs or []
            bits.append(f"{len(outputs)} output{'s' if len(outputs) != 1 else ''}")
            self.summary.setText("✔ " + " · ".join(bits))
            self.summary.setStyleSheet("color: #1b5e20;")
            self.output_view.setPlainText(output_text)
            for w in result.warnings:
                self._pending_log.append("warning: " + RMError.from_json(w).describe())
            has_transcript = self.transcript.show_outputs(outputs)
            self.tabs.setTabVisible(self.tabs.indexOf(self.transcript), has_transcript)
            self.tabs.setCurrentWidget(self.transcript if has_transcript else self.output_view)
            self.message.emit(f"Run finished in the {engine}")
        else:
            assert result.error is not None
            cancelled = result.error.code == "cancelled"
            head = "Cancelled" if cancelled else "Failed"
            self.summary.setText(f"✘ {head} · " + " · ".join(bits))
            self.summary.setStyleSheet("color: #8e1b1b;")
            self._show_error(result.error, None)
            self.message.emit("Run cancelled" if cancelled else "Run failed: " + result.error.message)
        if self.controller.cancel_requested and result.ok:
            self.message.emit("The run finished before the cancel took effect")
        self._tick()
        self.run_finished.emit(result)

    def _show_error(self, error: RMError, summary: str | None) -> None:
        text = error.describe()
        self.error_box.setText(text[:1].upper() + text[1:])
        self.error_box.setToolTip(f"error code: {error.code}")
        self.error_box.setVisible(True)
        if summary:
            self.summary.setText(f"✘ {summary}")
            self.summary.setStyleSheet("color: #8e1b1b;")

    def keyPressEvent(self, event) -> None:
        if event.matches(QKeySequence.StandardKey.Cancel) and self.running:
            self.cancel()
            return
        super().keyPressEvent(event)

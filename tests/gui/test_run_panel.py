"""The Run panel against the real sandboxed guest: results, responsiveness, cancel, timeout, close."""

from __future__ import annotations

import os
import threading
import time

import pytest
from PySide6.QtCore import QTimer

from rmstudio.core.runs import Limits, RunRequest

RUN_TIMEOUT_MS = 120_000


class GapMeter:
    """A 10 ms QTimer on the GUI thread; records the longest gap between two ticks."""

    def __init__(self, interval_ms: int = 10) -> None:
        self.timer = QTimer()
        self.timer.setInterval(interval_ms)
        self.timer.timeout.connect(self._tick)
        self.last: float | None = None
        self.max_gap = 0.0
        self.ticks = 0

    def _tick(self) -> None:
        now = time.perf_counter()
        if self.last is not None:
            self.max_gap = max(self.max_gap, now - self.last)
        self.last = now
        self.ticks += 1

    def start(self) -> None:
        self.timer.start()

    def stop(self) -> None:
        self.timer.stop()


def long_request(nodes: int, size: int, limits: Limits | None = None) -> RunRequest:
    """A pipeline of ``nodes`` AddNodes over one list of ``size`` numbers (seconds in the guest)."""
    manifest = {
        "version": "v1",
        "metadata": {"name": "long chain"},
        "nodes": [{"id": f"n{i}", "node_type": "AddNode", "params": {"addend": 1}} for i in range(nodes)],
        "connections": [{"from": f"n{i}", "to": f"n{i + 1}"} for i in range(nodes - 1)],
    }
    return RunRequest(manifest, [list(range(size))], limits=limits or Limits())


def test_calculator_runs_in_the_wasm_guest_and_the_window_stays_responsive(window, request_file, qtbot):
    window.open_manifest(request_file)
    panel = window.execution
    assert panel.input_edit.toPlainText() == "[5, 7, 3]"  # prefilled from the run request
    panel.set_engine("wasm")
    meter = GapMeter()
    meter.start()
    qtbot.wait(50)  # ticks before, during and after the run
    with qtbot.waitSignal(panel.run_finished, timeout=RUN_TIMEOUT_MS) as blocker:
        assert panel.run()
        assert window.cancel_action.isEnabled() and not window.run_action.isEnabled()
    qtbot.wait(50)
    meter.stop()
    result = blocker.args[0]
    assert result.ok, result.error and result.error.describe()
    assert result.engine == "wasm"
    assert result.outputs == [20, 24, 16]
    assert panel.output_view.toPlainText().strip() == "[20, 24, 16]"
    summary = panel.summary.text()
    assert summary.startswith("✔") and "WASM sandbox" in summary and "3 outputs" in summary
    assert "peak guest memory" in summary and "module" in panel.summary.toolTip()
    assert panel.telemetry.peak_memory > 0 and len(panel.telemetry.memory) > 0
    assert "node_finish" in panel.log_view.toPlainText()
    assert not panel.running and window.run_action.isEnabled()
    wall = result.host.get("wall_ms", 0)
    print(
        f"\n[benchmark] calculator (wasm): run {wall:.1f} ms, "
        f"longest event-loop gap {meter.max_gap * 1000:.1f} ms over {meter.ticks} ticks of 10 ms"
    )


def test_event_loop_gap_during_a_multi_second_wasm_run(window, qtbot):
    """A benchmark figure (printed, not asserted tightly): GUI ticks during ~2 s of guest work."""
    panel = window.execution
    meter = GapMeter()
    meter.start()
    t0 = time.perf_counter()
    with qtbot.waitSignal(panel.run_finished, timeout=RUN_TIMEOUT_MS) as blocker:
        panel.run_request(long_request(40, 400_000), "wasm")
    elapsed = time.perf_counter() - t0
    meter.stop()
    result = blocker.args[0]
    assert result.ok, result.error and result.error.describe()
    assert result.outputs[0][:3] == [40, 41, 42]
    tel = panel.telemetry
    assert len(tel.memory) >= 5  # host samples every 100 ms plus guest events
    assert tel.percent == pytest.approx(100.0)
    assert panel.plots.redraws >= 3
    print(
        f"\n[benchmark] 40 nodes x 400k numbers (wasm): run {elapsed:.2f} s, {meter.ticks} ticks of 10 ms, "
        f"longest event-loop gap {meter.max_gap * 1000:.1f} ms, {panel.plots.redraws} plot redraws"
    )
    assert meter.max_gap < 2.0  # a frozen window would show a gap as long as the run


def test_worker_runs_off_the_gui_thread(window, request_file, qtbot):
    window.open_manifest(request_file)
    panel = window.execution
    with qtbot.waitSignal(panel.run_finished, timeout=RUN_TIMEOUT_MS):
        panel.run()
        worker = panel.controller.worker
    assert worker.thread_id is not None and worker.thread_id != threading.get_ident()


def test_cancel_stops_a_long_run(window, qtbot):
    panel = window.execution
    with qtbot.waitSignal(panel.run_started, timeout=5000):
        panel.run_request(long_request(100, 1_000_000), "wasm")
    qtbot.waitUntil(lambda: panel.telemetry.event_count >= 3, timeout=30_000)
    # A second run (Transcribe, a package's Run) while this one works: refused, and it says so.
    with qtbot.waitSignal(panel.message, timeout=1000, check_params_cb=lambda m: "in progress" in m):
        assert not panel.run_request(long_request(2, 10), "wasm")
    t0 = time.perf_counter()
    with qtbot.waitSignal(panel.run_finished, timeout=10_000) as blocker:
        window.cancel_action.trigger()
    latency = time.perf_counter() - t0
    result = blocker.args[0]
    assert not result.ok and result.error.code == "cancelled"
    assert panel.summary.text().startswith("✘ Cancelled")
    assert panel.error_box.isVisible() and "cancelled" in panel.error_box.text()
    assert "Traceback" not in panel.error_box.text()
    assert not panel.running and window.run_action.isEnabled()
    print(f"\n[benchmark] cancel latency (wasm): {latency * 1000:.0f} ms")
    # The panel is ready for the next run.
    with qtbot.waitSignal(panel.run_finished, timeout=RUN_TIMEOUT_MS) as again:
        panel.run_request(long_request(2, 10), "wasm")
    assert again.args[0].ok


def test_timeout_limit_ends_the_run_with_a_clear_message(window, qtbot):
    panel = window.execution
    panel.timeout_spin.setValue(0.3)
    request = long_request(100, 1_000_000, panel.limits())
    assert request.limits.timeout_s == pytest.approx(0.3)
    with qtbot.waitSignal(panel.run_finished, timeout=30_000) as blocker:
        panel.run_request(request, "wasm")
    result = blocker.args[0]
    assert result.error.code == "timeout"
    assert "time limit" in panel.error_box.text()


def test_invalid_manifest_is_not_run(window, calc_file, qtbot):
    window.open_manifest(calc_file)
    window.model.apply(window.model.text.replace('"AddNode"', '"AdNode"'), "typo")
    assert not window.execution.run()
    assert not window.execution.running
    assert "unknown node type" in window.execution.error_box.text().lower()
    window.execution.input_edit.setPlainText("[1, 2,")
    window.model.undo_stack.undo()
    assert not window.execution.run()
    assert "Not valid JSON: Expecting value at line 1 column 7" in window.execution.error_box.text()


def test_native_engine_gives_the_same_answer(window, request_file, qtbot):
    window.open_manifest(request_file)
    window.execution.set_engine("native")
    with qtbot.waitSignal(window.execution.run_finished, timeout=RUN_TIMEOUT_MS) as blocker:
        window.run_action.trigger()
    assert blocker.args[0].engine == "native"
    assert blocker.args[0].outputs == [20, 24, 16]
    assert "Native reference" in window.execution.summary.text()


def test_closing_the_window_during_a_run_cancels_it_cleanly(window, qtbot):
    panel = window.execution
    panel.run_request(long_request(100, 1_000_000), "wasm")
    qtbot.waitUntil(lambda: panel.telemetry.event_count >= 2, timeout=30_000)
    t0 = time.perf_counter()
    with qtbot.waitSignal(panel.run_finished, timeout=10_000) as blocker:
        window.close()
    qtbot.waitUntil(lambda: not window.isVisible(), timeout=5000)
    assert blocker.args[0].error.code == "cancelled"
    assert not panel.running
    print(f"\n[benchmark] close during a run: window gone after {(time.perf_counter() - t0) * 1000:.0f} ms")


def test_start_cancel_cycles_leave_no_threads_behind(window, qtbot):
    panel = window.execution
    with qtbot.waitSignal(panel.run_finished, timeout=RUN_TIMEOUT_MS):  # warm: module loaded, ticker up
        panel.run_request(long_request(2, 10), "wasm")

    def os_threads() -> int:  # every native thread of the process, QThreads included
        try:
            return len(os.listdir("/proc/self/task"))
        except OSError:
            return threading.active_count()

    qtbot.wait(100)
    baseline = os_threads()
    for _ in range(20):
        with qtbot.waitSignal(panel.run_finished, timeout=30_000) as blocker:
            panel.run_request(long_request(100, 300_000), "wasm")
            panel.cancel()
        assert blocker.args[0].error.code == "cancelled"
    qtbot.wait(200)
    assert os_threads() <= baseline
    assert not panel.running


AUDIO_MANIFEST = {
    "version": "v1",
    "metadata": {"name": "gain"},
    "nodes": [{"id": "gain", "node_type": "AudioGain", "params": {"gain_db": -6}}],
    "connections": [],
}


def test_an_audio_file_from_the_audio_panel_is_a_runs_input(window, tmp_path, qtbot):
    import json

    import numpy as np
    import soundfile as sf

    from rmstudio.core import typed_arrays

    wav = tmp_path / "tone.wav"
    sf.write(str(wav), (0.5 * np.sin(np.arange(8000) / 8)).astype(np.float32), 8000)
    window.model.apply(json.dumps(AUDIO_MANIFEST, indent=2) + "\n", "audio manifest")
    assert window.open_audio(wav)
    window.audio_panel.input_button.click()
    panel = window.execution
    assert panel.input_edit.toPlainText() == "<audio: tone.wav, 0:01.0, 8 kHz mono>"
    panel.set_engine("native")  # the reference executor runs the audio nodes today
    with qtbot.waitSignal(panel.run_finished, timeout=RUN_TIMEOUT_MS) as blocker:
        assert panel.run()
    result = blocker.args[0]
    assert result.ok, result.error and result.error.describe()
    out = result.outputs[0]
    assert out["sample_rate"] == 8000 and out["channels"] == 1
    samples = typed_arrays.decode(out["data"])
    assert float(np.abs(samples).max()) == pytest.approx(0.5 * 10 ** (-6 / 20), rel=1e-3)
    # Editing the input box replaces the audio input with what was typed.
    panel.input_edit.setPlainText("[1]")
    assert panel.input_items() == [1]


def test_a_missing_audio_input_fails_with_a_readable_error(window, tmp_path, qtbot):
    import json

    import numpy as np
    import soundfile as sf

    wav = tmp_path / "gone.wav"
    sf.write(str(wav), np.zeros(800, dtype=np.float32), 8000)
    window.model.apply(json.dumps(AUDIO_MANIFEST, indent=2) + "\n", "audio manifest")
    window.open_audio(wav)
    window.audio_panel.input_button.click()
    wav.unlink()
    with qtbot.waitSignal(window.execution.run_finished, timeout=RUN_TIMEOUT_MS) as blocker:
        window.execution.run()
    assert not blocker.args[0].ok
    text = window.execution.error_box.text()
    assert "gone.wav" in text and "Traceback" not in text


JFK_TRANSCRIPT = {
    "text": " And so my fellow Americans, ask not what your country can do for you, "
    "ask what you can do for your country.",
    "segments": [
        {
            "start": 0.0,
            "end": 7.6,
            "text": " And so my fellow Americans, ask not what your country can do for you,",
        },
        {"start": 7.6, "end": 11.0, "text": " ask what you can do for your country."},
    ],
    "language": "en",
    "audio_duration": 11.0,
}


def test_a_transcript_result_shows_segments_plays_and_exports(window, tmp_path, dialogs, qtbot):
    import numpy as np
    import soundfile as sf

    from rmstudio.core.export import render
    from rmstudio.core.runs import RunResult

    wav = tmp_path / "speech.wav"
    sf.write(str(wav), np.zeros(16000 * 11, dtype=np.float32), 16000)
    window.open_audio(wav)
    panel = window.execution
    result = RunResult(ok=True, engine="wasm", outputs=[JFK_TRANSCRIPT], host={"wall_ms": 1234.0})
    panel._on_finished(result, "[…]")
    view = panel.transcript
    assert panel.tabs.isTabVisible(panel.tabs.indexOf(view)) and panel.tabs.currentWidget() is view
    assert view.segments.topLevelItemCount() == 2
    assert view.segments.topLevelItem(1).text(0) == "0:07.600"
    assert "ask not what your country" in view.text.toPlainText()
    assert "2 segments" in view.summary.text() and "language en" in view.summary.text()
    # Clicking a segment seeks the audio there.
    view._activated(view.segments.topLevelItem(1))
    assert window.audio_panel.cursor.value() == pytest.approx(7.6)
    # Export through core.export: what the file holds is exactly core's rendering.
    dialogs.save_path = str(tmp_path / "jfk.srt")
    view.export_button.click()
    assert (tmp_path / "jfk.srt").read_text() == render([JFK_TRANSCRIPT], "srt")
    view.copy_button.click()
    # A run without transcripts hides the tab again.
    panel._on_finished(RunResult(ok=True, engine="wasm", outputs=[1, 2]), "[1, 2]")
    assert not panel.tabs.isTabVisible(panel.tabs.indexOf(view))


def test_one_click_transcribe_of_jfk_in_the_sandbox(window, jfk_wav, qtbot):
    """Drop jfk.wav on the Audio panel, press Transcribe: the real guest and the real default
    model produce the known sentence while the window keeps ticking."""
    import re

    assert window.audio_panel.add_file(jfk_wav)
    panel = window.execution
    meter = GapMeter()
    meter.start()
    t0 = time.perf_counter()
    with qtbot.waitSignal(panel.run_finished, timeout=600_000) as blocker:
        window.audio_panel.transcribe_button.click()
    elapsed = time.perf_counter() - t0
    meter.stop()
    result = blocker.args[0]
    assert result.ok, result.error and result.error.describe()
    text = result.outputs[0]["text"]
    norm = " ".join(re.sub(r"[^a-z ]+", " ", text.lower()).split())
    assert norm == (
        "and so my fellow americans ask not what your country can do for you "
        "ask what you can do for your country"
    )
    assert panel.telemetry.peak_memory > 0
    print(
        f"\n[benchmark] Transcribe jfk.wav (wasm): {elapsed:.1f} s, longest event-loop gap "
        f"{meter.max_gap * 1000:.1f} ms over {meter.ticks} ticks of 10 ms"
    )


def test_run_of_a_reader_pipeline_takes_the_selected_audio_file(window, tmp_path, qtbot):
    """A pipeline that starts at an audio reader with no file of its own, run with an empty
    input box, reads the file selected in the Audio panel rather than running on nothing."""
    import json

    import numpy as np
    import soundfile as sf

    from rmstudio.core import typed_arrays

    manifest = {
        "version": "v1",
        "nodes": [
            {"id": "audio", "node_type": "MediaReaderNode"},
            {"id": "gain", "node_type": "AudioGain", "params": {"gain_db": -6}},
        ],
        "connections": [{"from": "audio", "to": "gain"}],
    }
    wav = tmp_path / "tone.wav"
    sf.write(str(wav), (0.5 * np.sin(np.arange(8000) / 8)).astype(np.float32), 8000)
    window.model.apply(json.dumps(manifest, indent=2) + "\n", "reader manifest")
    assert window.open_audio(wav)
    panel = window.execution
    panel.input_edit.setPlainText("")
    with qtbot.waitSignal(panel.run_finished, timeout=RUN_TIMEOUT_MS) as blocker:
        assert panel.run()
    result = blocker.args[0]
    assert result.ok, result.error and result.error.describe()
    assert panel.input_edit.toPlainText().startswith("<audio: tone.wav")
    samples = typed_arrays.decode(result.outputs[0]["data"])
    assert float(np.abs(samples).max()) == pytest.approx(0.5 * 10 ** (-6 / 20), rel=1e-3)

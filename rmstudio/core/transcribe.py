"""Speech to text through the same executor as every pipeline: the default Whisper pipeline.

``rmstudio transcribe`` and the GUI's Transcribe button both call :func:`transcribe_file`,
which builds the pipeline of :func:`default_manifest` (read audio -> 16 kHz mono ->
WhisperTranscriber), prepares the request with :mod:`rmstudio.core.prepare` and runs it on the
chosen engine. Nothing here is specific to the CLI or to Qt.
"""

from __future__ import annotations

import threading
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import numpy as np

from rmstudio.core.audio.item import MAX_CHANNELS
from rmstudio.core.audio.load import Audio, load_audio
from rmstudio.core.audio.windows import DEFAULT_MAX_WINDOW_S, Window, plan_windows
from rmstudio.core.errors import RMError
from rmstudio.core.execute import execute
from rmstudio.core.manifest.document import ManifestDocument
from rmstudio.core.prepare import prepare_run
from rmstudio.core.runs import EventCallback, Limits, RunResult

# Below this the audio cannot hold speech Whisper could hear (telephone audio is 8 kHz); a
# rate this low is usually a wrong header, and resampling it to 16 kHz would take hours.
MIN_SPEECH_RATE = 4000


@dataclass
class WhisperOptions:
    """The knobs people change; the rest of the node's params keep their catalog defaults."""

    model: str = "default"
    language: str = "auto"
    translate: bool = False
    threads: int = 1
    beam_size: int = 1
    initial_prompt: str = ""

    def params(self) -> dict[str, Any]:
        out: dict[str, Any] = {"model": self.model, "language": self.language, "n_threads": self.threads}
        if self.translate:
            out["translate"] = True
        if self.beam_size > 1:
            out["beam_size"] = self.beam_size
        if self.initial_prompt:
            out["initial_prompt"] = self.initial_prompt
        return out


def default_manifest(options: WhisperOptions | None = None) -> dict[str, Any]:
    """The pipeline behind Transcribe: decode, convert to 16 kHz mono, transcribe."""
    opts = options or WhisperOptions()
    return {
        "version": "v1",
        "metadata": {"name": "transcribe", "description": "Speech to text with Whisper in the sandbox."},
        "nodes": [
            {"id": "audio", "node_type": "MediaReaderNode"},
            {
                "id": "to16k",
                "node_type": "AudioTransform",
                "params": {"output_sample_rate": 16000, "output_channels": 1},
            },
            {"id": "whisper", "node_type": "WhisperTranscriber", "params": opts.params()},
        ],
        "connections": [{"from": "audio", "to": "to16k"}, {"from": "to16k", "to": "whisper"}],
    }


@dataclass
class Transcription:
    """A transcript with the run that produced it and its real-time factor."""

    path: Path
    transcript: dict[str, Any] | None
    result: RunResult
    audio_duration: float
    wall_s: float

    @property
    def rtf(self) -> float | None:
        """Processing time / audio duration (below 1 is faster than real time)."""
        return self.wall_s / self.audio_duration if self.audio_duration else None


def transcribe_file(
    path: str | Path,
    options: WhisperOptions | None = None,
    *,
    engine: str = "wasm",
    limits: Limits | None = None,
    on_event: EventCallback | None = None,
    control: object | None = None,
    parallel: int | None = None,
    max_window_s: float = DEFAULT_MAX_WINDOW_S,
    warm: bool = True,
) -> Transcription:
    """Transcribe one audio file. Failures come back in ``result`` (``transcript`` is None).

    Audio longer than ``max_window_s`` is cut at quiet moments into windows (see
    :mod:`rmstudio.core.audio.windows`), each a run of its own whose timestamps are offset by
    where the window starts. In the sandbox up to ``parallel`` windows run at once, each in its
    own store on its own host thread (default: ``options.threads``, since the guest itself has
    one thread); the reference executor runs them one after another with ``threads`` threads.
    Both executors cut at the same places, so their transcripts stay comparable.

    ``warm`` (the default) runs the sandbox's windows in warm guests, so the model is loaded
    once per host thread and process rather than once per window and file; ``warm=False``
    gives every window a fresh instance (what the benchmark's cold rows measure).
    """
    opts = options or WhisperOptions()
    workers = max(1, parallel if parallel is not None else opts.threads)
    doc = ManifestDocument(default_manifest(opts))
    started = time.perf_counter()
    audio_warnings: list[str] = []
    try:
        audio = load_audio(path)
        audio_warnings = audio.warnings
        if audio.frames == 0:
            raise RMError("audio_empty", "the audio file holds no samples", source=str(path))
        if audio.sample_rate < MIN_SPEECH_RATE:
            raise RMError(
                "audio_unsuitable",
                f"the audio's sample rate is {audio.sample_rate} Hz, too low to carry speech "
                f"(Whisper hears 16 kHz; at least {MIN_SPEECH_RATE} Hz is needed)",
                source=str(path),
                hint="Is the rate in the file's header wrong? Fix it, or record at 8 kHz or more",
            )
        if audio.channels > MAX_CHANNELS:  # Whisper hears one channel anyway: mix on the host
            audio = replace(audio, samples=audio.samples.mean(axis=1, keepdims=True, dtype=np.float32))
        windows = plan_windows(audio.samples, audio.sample_rate, max_window_s)
        if len(windows) == 1:
            result = _run_window(doc, audio, 0.0, engine, limits, on_event, control, warm)
            clamp_segments(transcript_in(result), 0.0, audio.duration)
        else:
            concurrent = workers if engine == "wasm" else 1
            result = _run_windows(doc, audio, windows, concurrent, engine, limits, on_event, control, warm)
        duration = audio.duration
    except RMError as exc:  # unreadable audio, unknown model: same shape as a failed run
        result = RunResult(ok=False, engine=engine, error=exc)
        duration = 0.0
    wall = time.perf_counter() - started
    if result.host.get("windows", 1) > 1 or not result.ok:
        # The merged result carries the first (or the failed) window's host facts: the time
        # is the whole transcription's, as the GUI's summary line shows it.
        result.host["wall_ms"] = round(wall * 1000, 3)
    result.warnings = [{"code": "audio_warning", "message": w} for w in audio_warnings] + result.warnings
    transcript = None
    if result.ok:
        transcript = transcript_in(result)
        if transcript is None:
            result.ok = False
            result.error = RMError("internal_error", "the pipeline finished without a transcript")
    if result.error is not None and result.error.source in (None, "request"):
        result.error.source = str(path)
    return Transcription(Path(path), transcript, result, duration, wall)


def clamp_segments(transcript: dict[str, Any] | None, start: float, end: float) -> None:
    """Keep segment times inside the audio they came from (``start``..``end`` seconds).

    Whisper times a window's last segment against its 30-s frame, so it can end past the
    window (or the file): a cue beyond the audio, or overlapping the next window's first."""
    if not transcript:
        return
    for seg in transcript.get("segments") or []:
        for key in ("start", "end"):
            t = seg.get(key)
            if isinstance(t, (int, float)) and not isinstance(t, bool):
                seg[key] = round(min(max(float(t), start), end), 6)


def transcript_in(result: RunResult) -> dict[str, Any] | None:
    """The first output that is a Whisper transcript (an object with ``segments``)."""
    return next((o for o in result.outputs or [] if isinstance(o, dict) and "segments" in o), None)


def _run_window(
    doc: ManifestDocument,
    audio: Audio,
    start_time: float,
    engine: str,
    limits: Limits | None,
    on_event: EventCallback | None,
    control: object | None,
    warm: bool,
) -> RunResult:
    with prepare_run(doc, audio=audio, start_time=start_time, engine=engine, limits=limits) as prepared:
        return execute(prepared.request, engine, on_event, control, warm=warm)


def _window_control(parent: object | None) -> Any:
    """A RunControl that is cancelled when the caller cancels or another window has failed
    (wasmtime is imported here, not when the CLI builds its parser)."""
    from rmstudio.core.engine.host import RunControl

    class WindowControl(RunControl):
        @property
        def cancelled(self) -> bool:
            return self._cancelled.is_set() or bool(getattr(parent, "cancelled", False))

    return WindowControl()


def _run_windows(
    doc: ManifestDocument,
    audio: Audio,
    windows: list[Window],
    concurrent: int,
    engine: str,
    limits: Limits | None,
    on_event: EventCallback | None,
    control: object | None,
    warm: bool,
) -> RunResult:
    """Run every window (``concurrent`` at a time) and merge them into one result."""
    rate = audio.sample_rate
    lengths = [(w.end - w.start) / rate for w in windows]
    done = [0.0] * len(windows)
    lock = threading.Lock()
    stop = _window_control(control)
    started = time.perf_counter()

    def listener(index: int) -> EventCallback | None:
        if on_event is None:
            return None

        def relay(event: dict[str, Any]) -> None:
            event = {**event, "window": index}
            with lock:
                # Each window's guest counts t_ms from its own start; listeners plot one timeline.
                event["t_ms"] = (time.perf_counter() - started) * 1000
                if event.get("event") == "progress" and event.get("unit") == "s":
                    done[index] = min(float(event.get("done") or 0.0), lengths[index])
                    event["done"], event["total"] = sum(done), audio.duration
                on_event(event)

        return relay

    def run(index: int) -> RunResult:
        if stop.cancelled:
            return RunResult(ok=False, engine=engine, error=RMError("cancelled", "the run was cancelled"))
        w = windows[index]
        part = Audio(audio.samples[w.start : w.end], rate, path=audio.path)
        result = _run_window(doc, part, w.start_time(rate), engine, limits, listener(index), stop, warm)
        if not result.ok:
            stop.cancel()  # no point finishing the other windows
        return result

    with ThreadPoolExecutor(max_workers=concurrent, thread_name_prefix="rmstudio-window") as pool:
        results = list(pool.map(run, range(len(windows))))
    return merge_window_results(results, windows, rate, engine)


def merge_window_results(
    results: list[RunResult], windows: list[Window], rate: int, engine: str
) -> RunResult:
    """One result for a windowed transcription: the first real failure, or the transcripts
    joined in order (segment times are already absolute: each window's run knew its start)."""
    failed = [r for r in results if not r.ok]
    if failed:
        real = [r for r in failed if r.error is None or r.error.code != "cancelled"]
        return (real or failed)[0]
    transcripts = []
    for r, w in zip(results, windows, strict=True):
        transcript = transcript_in(r)
        if transcript is None:
            return RunResult(
                ok=False,
                engine=engine,
                error=RMError("internal_error", "a window finished without a transcript"),
            )
        clamp_segments(transcript, w.start / rate, w.end / rate)
        transcripts.append(transcript)
    merged = dict(transcripts[0])
    merged["segments"] = [s for t in transcripts for s in t.get("segments") or []]
    merged["text"] = " ".join(t["text"].strip() for t in transcripts if t.get("text", "").strip())
    merged["audio_duration"] = round(sum(float(t.get("audio_duration") or 0.0) for t in transcripts), 6)
    merged["windows"] = [{"start": round(w.start / rate, 3), "end": round(w.end / rate, 3)} for w in windows]
    metrics = dict(results[0].metrics)
    peaks = [r.metrics.get("peak_memory_bytes") for r in results if r.metrics.get("peak_memory_bytes")]
    if peaks:
        metrics["peak_memory_bytes"] = max(peaks)  # per store: each window has its own memory
    host = dict(results[0].host)
    host["windows"] = len(windows)
    host_peaks = [int(r.host["peak_memory_bytes"]) for r in results if r.host.get("peak_memory_bytes")]
    if host_peaks:
        host["peak_memory_bytes"] = max(host_peaks)  # the largest guest, not the first window's
    return RunResult(
        ok=True,
        engine=engine,
        outputs=[merged],
        graph_info=results[0].graph_info,
        metrics=metrics,
        warnings=[w for r in results for w in r.warnings],
        host=host,
    )

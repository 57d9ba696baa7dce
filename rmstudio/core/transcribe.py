"""Speech to text through the same executor as every pipeline: the default Whisper pipeline.

``rmstudio transcribe`` and the GUI's Transcribe button both call :func:`transcribe_file`,
which builds the pipeline of :func:`default_manifest` (read audio -> 16 kHz mono ->
WhisperTranscriber), prepares the request with :mod:`rmstudio.core.prepare` and runs it on the
chosen engine. Nothing here is specific to the CLI or to Qt.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from rmstudio.core.errors import RMError
from rmstudio.core.execute import execute
from rmstudio.core.manifest.document import ManifestDocument
from rmstudio.core.prepare import prepare_run
from rmstudio.core.runs import EventCallback, Limits, RunResult


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
) -> Transcription:
    """Transcribe one audio file. Failures come back in ``result`` (``transcript`` is None)."""
    doc = ManifestDocument(default_manifest(options))
    started = time.perf_counter()
    duration = 0.0
    try:
        with prepare_run(doc, audio_path=Path(path), engine=engine, limits=limits) as prepared:
            duration = prepared.audio_duration or 0.0
            result = execute(prepared.request, engine, on_event, control)
    except RMError as exc:  # unreadable audio, unknown model: same shape as a failed run
        result = RunResult(ok=False, engine=engine, error=exc)
    wall = time.perf_counter() - started
    transcript = None
    if result.ok:
        found = [o for o in result.outputs or [] if isinstance(o, dict) and "segments" in o]
        if not found:
            result.ok = False
            result.error = RMError("internal_error", "the pipeline finished without a transcript")
        else:
            transcript = found[0]
    if result.error is not None and result.error.source in (None, "request"):
        result.error.source = str(path)
    return Transcription(Path(path), transcript, result, duration, wall)

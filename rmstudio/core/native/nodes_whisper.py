"""The reference WhisperTranscriber: native whisper.cpp (the pywhispercpp wheel, same 1.8.5
source as the guest) on the same model file, so the sandbox can be compared word for word and
timed against native code.

It follows the guest's node contract (docs/CONTRACT.md, "Whisper"): audio is converted to
16 kHz mono with the contract's resampler, ``start_time`` shifts the timestamps, and the output
item has the same fields.
"""

from __future__ import annotations

import threading
import time
from pathlib import Path
from typing import Any

import numpy as np

from rmstudio.core.audio.resample import transform
from rmstudio.core.errors import RMError
from rmstudio.core.native.audio_items import check_transform_size, parse_audio
from rmstudio.core.native.base import Context, Node, register

WHISPER_RATE = 16000
_models: dict[str, Any] = {}  # one loaded model per file, kept for the process (like a warm app)
# One whisper context is shared, and it must not run two transcriptions at once.
_lock = threading.RLock()


def model_path(value: str, options: dict[str, Any]) -> Path | None:
    """The file a ``model`` param names: the host's mapping first, then a plain path."""
    mapped = (options.get("models") or {}).get(value) if isinstance(options.get("models"), dict) else None
    candidate = Path(mapped or value)
    return candidate if candidate.is_file() else None


def _load(path: Path, strategy: int) -> Any:
    from pywhispercpp.model import Model

    key = f"{path}|{strategy}"
    with _lock:
        if key not in _models:
            _models.clear()  # keep one model in memory at a time
            _models[key] = Model(
                str(path), params_sampling_strategy=strategy, redirect_whispercpp_logs_to=None
            )
        return _models[key]


# The guest's wording too (runtime/src/nodes_whisper.cpp, kLanguageHint).
LANGUAGE_HINT = "Use a Whisper language code (en, de, fr, ...), its English name (german), or auto"


@register("WhisperTranscriber")
class WhisperTranscriber(Node):
    def process(self, items: list[Any], ctx: Context) -> list[Any]:
        audios = [parse_audio(item, i, ctx, remotemedia=True) for i, item in enumerate(items)]
        for i, a in enumerate(audios):
            check_transform_size(a, WHISPER_RATE, 1, i, ctx)
        if not audios:
            return []
        try:
            import pywhispercpp.model  # noqa: F401
        except ImportError:
            raise ctx.failed(
                "the reference Whisper needs the pywhispercpp package (pip install pywhispercpp==1.5.1)"
            ) from None
        p = self.params
        if p["language"] != "auto":
            from _pywhispercpp import whisper_lang_id

            if whisper_lang_id(p["language"]) < 0:  # whisper.cpp would take it silently
                raise RMError(
                    "invalid_param",
                    f"node '{ctx.node_id}' ({ctx.node_type}): unknown language '{p['language']}'",
                    node_id=ctx.node_id,
                    hint=LANGUAGE_HINT,
                )
        path = model_path(p["model"], ctx.options)
        if path is None:
            raise ctx.failed(f"model '{p['model']}' is not a file and the host mapped no file for it")
        beam = int(p["beam_size"]) > 1
        model = _load(path, 1 if beam else 0)
        groups = [audios] if p["accumulate_chunks"] else [[a] for a in audios]
        outputs = []
        for group in groups:
            parts = []
            for a in group:
                if a.sample_rate != WHISPER_RATE or a.channels != 1:
                    ctx.emit(
                        {
                            "event": "log",
                            "level": "warning",
                            "node_id": ctx.node_id,
                            "message": f"converting {a.sample_rate} Hz x {a.channels} to 16 kHz mono",
                        }
                    )
                parts.append(transform(a.samples, a.sample_rate, WHISPER_RATE, 1)[:, 0])
            audio = np.concatenate(parts).astype(np.float32) if parts else np.zeros(0, np.float32)
            offset = group[0].start_time
            duration = audio.size / WHISPER_RATE
            started = time.perf_counter()

            def on_segment(seg: Any, offset: float = offset, duration: float = duration) -> None:
                end = seg.t1 / 100.0
                ctx.emit(
                    {
                        "event": "segment",
                        "node_id": ctx.node_id,
                        "start": offset + seg.t0 / 100.0,
                        "end": offset + end,
                        "text": seg.text,
                    }
                )
                ctx.emit(
                    {
                        "event": "progress",
                        "node_id": ctx.node_id,
                        "done": min(end, duration),
                        "total": duration,
                        "unit": "s",
                    }
                )

            language = p["language"]
            if language == "auto" and not _multilingual(model):
                language = "en"  # English-only weights: nothing to detect
            params: dict[str, Any] = {
                "language": "" if language == "auto" else language,
                "detect_language": False,
                "translate": bool(p["translate"]),
                "n_threads": int(p["n_threads"]),
                "no_timestamps": not p["timestamps"],
                "initial_prompt": p["initial_prompt"],
                "print_progress": False,
                "print_realtime": False,
            }
            if beam:
                params["beam_search"] = {"beam_size": int(p["beam_size"]), "patience": -1.0}
            else:
                params["greedy"] = {"best_of": int(p["best_of"])}
            with _lock:
                segments = (
                    model.transcribe(audio, new_segment_callback=on_segment, **params) if audio.size else []
                )
            segs = [
                {"start": offset + s.t0 / 100.0, "end": offset + s.t1 / 100.0, "text": s.text.strip()}
                for s in segments
            ]
            outputs.append(
                {
                    "text": " ".join(s["text"] for s in segs if s["text"]).strip(),
                    "segments": segs,
                    "language": _detected_language(model, language),
                    "audio_duration": duration,
                    "model": p["model"],
                    "effective_threads": int(p["n_threads"]),
                }
            )
            ctx.emit(
                {
                    "event": "log",
                    "level": "info",
                    "node_id": ctx.node_id,
                    "message": f"transcribed {duration:.1f} s in {time.perf_counter() - started:.2f} s",
                }
            )
        return outputs


def _detected_language(model: Any, requested: str) -> str:
    if requested != "auto":
        return requested
    try:
        import _pywhispercpp as pw

        return str(pw.whisper_lang_str(pw.whisper_full_lang_id(model._ctx)))
    except Exception:  # an older binding: the language is unknown, say so plainly
        return "auto"


def _multilingual(model: Any) -> bool:
    try:
        import _pywhispercpp as pw

        return bool(pw.whisper_is_multilingual(model._ctx))
    except Exception:
        return True

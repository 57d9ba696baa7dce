"""JSON (.json): the transcript with normalised segments, pretty-printed UTF-8.

``{"text", "language", "audio_duration", ..., "segments": [{"id", "start", "end", "start_ms",
"end_ms", "text"}]}``: times in seconds (three decimals) and in whole milliseconds, the same
rounded values the subtitle formats use. Other top-level fields of the transcript (``model``,
``effective_threads``, ...) are kept; values that JSON cannot hold (NaN, infinity) become
``null``. Non-ASCII text is written as is, not as ``\\u`` escapes.
"""

from __future__ import annotations

import json
import math
from typing import Any

from rmstudio.core.export.segments import as_transcripts, segments, transcript_text


def _plain(value: Any) -> Any:
    """JSON-safe copy: non-finite floats to None, tuples to lists, numpy scalars to Python."""
    if isinstance(value, dict):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    if hasattr(value, "item") and callable(value.item) and not isinstance(value, (str, bytes)):
        try:
            value = value.item()
        except (TypeError, ValueError):
            return str(value)
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if value is None or isinstance(value, (str, int, float, bool)):
        return value
    return str(value)


def to_json(transcript: Any) -> str:
    """The transcript as pretty JSON text ending in a newline."""
    items = as_transcripts(transcript)
    head: dict[str, Any] = {"text": transcript_text(transcript)}
    first = items[0] if items else {}
    head["language"] = first.get("language")
    durations = [item.get("audio_duration") for item in items]
    if all(isinstance(d, (int, float)) and not isinstance(d, bool) for d in durations) and durations:
        head["audio_duration"] = max(float(d) for d in durations)
    else:
        head["audio_duration"] = first.get("audio_duration")
    for key, value in first.items():
        if key not in head and key != "segments":
            head[key] = value
    head["segments"] = [
        {
            "id": i,
            "start": round(s.start_ms / 1000.0, 3),
            "end": round(s.end_ms / 1000.0, 3),
            "start_ms": s.start_ms,
            "end_ms": s.end_ms,
            "text": s.text,
        }
        for i, s in enumerate(segments(transcript))
    ]
    return json.dumps(_plain(head), indent=2, ensure_ascii=False, allow_nan=False) + "\n"

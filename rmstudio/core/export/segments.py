"""Transcript normalisation shared by every export format.

A transcript is the Whisper node's output item (docs/CONTRACT.md, "Whisper"):
``{"text", "segments": [{"start", "end", "text"}, ...], "language", "audio_duration", ...}``
with times in seconds. Several transcripts (one per chunk when ``accumulate_chunks`` is
false) may be given as a list; their segments already carry absolute times and are joined.

Normalisation, applied identically for every format:

* times that are missing, not numbers or not finite fall back to the previous segment's end
  (start) or to the segment's start (end); negative times become 0; ``end < start`` is
  clamped to ``end = start``;
* text is stripped; a transcript with text but no segments becomes one segment from 0 to
  ``audio_duration`` (or 0);
* times are rounded once to whole milliseconds (half up), which all formats then share.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from rmstudio.core.errors import RMError


@dataclass(frozen=True)
class Segment:
    start_ms: int
    end_ms: int
    text: str

    @property
    def start(self) -> float:
        return self.start_ms / 1000.0

    @property
    def end(self) -> float:
        return self.end_ms / 1000.0


def _number(value: Any) -> float | None:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return None
    x = float(value)
    return x if math.isfinite(x) else None


def to_ms(seconds: float) -> int:
    """Seconds to whole milliseconds, rounding half up (never negative)."""
    return max(0, math.floor(seconds * 1000.0 + 0.5))


def as_transcripts(transcript: Any) -> list[Mapping[str, Any]]:
    """One transcript dict, or a list of them, as a list; RMError for anything else."""
    items = list(transcript) if isinstance(transcript, (list, tuple)) else [transcript]
    for i, item in enumerate(items):
        if not isinstance(item, Mapping):
            raise RMError(
                "invalid_transcript",
                f"a transcript must be an object with text and segments, not {type(item).__name__}",
                path=f"/{i}" if isinstance(transcript, (list, tuple)) else None,
            )
        segs = item.get("segments")
        if segs is not None and not isinstance(segs, (list, tuple)):
            raise RMError("invalid_transcript", "transcript segments must be a list", path="/segments")
    return items


def segments(transcript: Any) -> list[Segment]:
    """The normalised segments of a transcript (or of a list of transcripts, in order)."""
    out: list[Segment] = []
    for item in as_transcripts(transcript):
        raw = item.get("segments") or []
        if not raw and str(item.get("text") or "").strip():
            duration = _number(item.get("audio_duration")) or 0.0
            raw = [{"start": 0.0, "end": duration, "text": item.get("text")}]
        prev_end = 0.0
        for seg in raw:
            if not isinstance(seg, Mapping):
                raise RMError("invalid_transcript", "every segment must be an object {start, end, text}")
            start = _number(seg.get("start"))
            start = prev_end if start is None else max(0.0, start)
            end = _number(seg.get("end"))
            end = start if end is None else max(start, end)
            text = seg.get("text")
            text = "" if text is None else str(text).strip()
            start_ms = to_ms(start)
            out.append(Segment(start_ms, max(start_ms, to_ms(end)), text))
            prev_end = end
    return out


def transcript_text(transcript: Any) -> str:
    """The full text: the ``text`` fields, or the segments' text when a transcript has none."""
    parts = []
    for item in as_transcripts(transcript):
        text = item.get("text")
        if isinstance(text, str) and text.strip():
            parts.append(text.strip())
        else:
            joined = " ".join(s.text for s in segments(item) if s.text)
            if joined:
                parts.append(joined)
    return " ".join(parts)


_CONTROL = dict.fromkeys([*range(0, 9), 11, 12, *range(14, 32), 127])


def cue_lines(text: str) -> list[str]:
    """Text as the non-empty, stripped lines of one subtitle cue (a blank line would end it).

    Control characters other than tab and line breaks are dropped (subtitle players choke on
    NUL and friends); CR LF and lone CR count as line breaks.
    """
    text = text.replace("\r\n", "\n").replace("\r", "\n").translate(_CONTROL)
    return [line.strip() for line in text.split("\n") if line.strip()]

"""Plain text (.txt): the segments' text joined with spaces, in paragraphs.

A new paragraph (a blank line) starts when the silence between one segment's end and the
next one's start is at least ``paragraph_gap`` seconds (2 s by default, as Buzz does).
"""

from __future__ import annotations

from typing import Any

from rmstudio.core.export.segments import segments, transcript_text

DEFAULT_PARAGRAPH_GAP = 2.0


def to_txt(transcript: Any, paragraph_gap: float | None = DEFAULT_PARAGRAPH_GAP) -> str:
    """The transcript as text; ``paragraph_gap=None`` puts everything in one paragraph."""
    segs = [s for s in segments(transcript) if s.text]
    if not segs:
        text = transcript_text(transcript)
        return text + "\n" if text else ""
    gap_ms = None if paragraph_gap is None else round(paragraph_gap * 1000)
    paragraphs: list[list[str]] = [[]]
    prev_end = None
    for seg in segs:
        if (
            paragraphs[-1]
            and gap_ms is not None
            and prev_end is not None
            and seg.start_ms - prev_end >= gap_ms
        ):
            paragraphs.append([])
        paragraphs[-1].append(" ".join(seg.text.split()))
        prev_end = seg.end_ms
    return "\n\n".join(" ".join(p) for p in paragraphs) + "\n"

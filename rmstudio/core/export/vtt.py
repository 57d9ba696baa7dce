"""WebVTT (.vtt): ``WEBVTT`` header, cues ``hh:mm:ss.mmm --> hh:mm:ss.mmm``, escaped text.

Cue text escapes ``&``, ``<`` and ``>`` as ``&amp;``, ``&lt;`` and ``&gt;`` (the W3C WebVTT
spec requires the first two in cue text and the escaped ``>`` also keeps ``-->`` out of it).
Segments without text are skipped; blank lines inside a segment are dropped (a blank line
ends a cue). Hours always have at least two digits. WebVTT requires a cue's end to be
greater than its start, so a zero-length cue ends 1 ms after it starts.
"""

from __future__ import annotations

from typing import Any

from rmstudio.core.export.segments import cue_lines, segments


def timestamp(ms: int) -> str:
    hours, rest = divmod(ms, 3_600_000)
    minutes, rest = divmod(rest, 60_000)
    seconds, millis = divmod(rest, 1000)
    return f"{hours:02d}:{minutes:02d}:{seconds:02d}.{millis:03d}"


def escape(text: str) -> str:
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def to_vtt(transcript: Any) -> str:
    """The transcript as WebVTT text (just the header when there is nothing to show)."""
    blocks = ["WEBVTT\n"]
    for seg in segments(transcript):
        lines = [escape(line) for line in cue_lines(seg.text)]
        if lines:
            blocks.append(
                f"{timestamp(seg.start_ms)} --> {timestamp(max(seg.end_ms, seg.start_ms + 1))}\n"
                + "\n".join(lines)
                + "\n"
            )
    return "\n".join(blocks)

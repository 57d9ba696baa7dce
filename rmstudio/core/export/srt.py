"""SubRip (.srt): numbered cues, ``hh:mm:ss,mmm --> hh:mm:ss,mmm``, a blank line between cues.

Cues are numbered from 1 in order; segments without text are skipped (an empty cue would
end at its own blank line). Hours take as many digits as they need (``100:00:00,000``),
which SRT readers accept. ``-->`` inside the text would be read as a timing line and is
written as ``->``. A cue of zero length (Whisper emits some; clamped ``end < start``) ends
1 ms after it starts, so that players show it.
"""

from __future__ import annotations

from typing import Any

from rmstudio.core.export.segments import cue_lines, segments


def timestamp(ms: int) -> str:
    hours, rest = divmod(ms, 3_600_000)
    minutes, rest = divmod(rest, 60_000)
    seconds, millis = divmod(rest, 1000)
    return f"{hours:02d}:{minutes:02d}:{seconds:02d},{millis:03d}"


def _clean(line: str) -> str:
    while "-->" in line:
        line = line.replace("-->", "->")
    return line


def to_srt(transcript: Any) -> str:
    """The transcript as SRT text ("" when there is nothing to show)."""
    cues = []
    for seg in segments(transcript):
        lines = [_clean(line) for line in cue_lines(seg.text)]
        if not lines:
            continue
        number = len(cues) + 1
        cues.append(
            f"{number}\n{timestamp(seg.start_ms)} --> {timestamp(max(seg.end_ms, seg.start_ms + 1))}\n"
            + "\n".join(lines)
            + "\n"
        )
    return "\n".join(cues)

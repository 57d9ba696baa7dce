"""Transcript exports: txt, srt, vtt and json, as pure functions plus an atomic writer.

``render(transcript, fmt)`` returns the text; ``write_transcript(transcript, path, fmt)``
writes it (UTF-8, ``\\n`` line ends, atomically: readers see the old file or the new one).
The transcript is the Whisper node's output item, or a list of them.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from rmstudio.core.errors import RMError
from rmstudio.core.export.json_format import to_json
from rmstudio.core.export.segments import Segment, segments, transcript_text
from rmstudio.core.export.srt import to_srt
from rmstudio.core.export.txt import DEFAULT_PARAGRAPH_GAP, to_txt
from rmstudio.core.export.vtt import to_vtt
from rmstudio.core.manifest.document import write_text_atomic

FORMATS: dict[str, str] = {
    "txt": "plain text, paragraphs split at pauses",
    "srt": "SubRip subtitles",
    "vtt": "WebVTT subtitles",
    "json": "JSON with segments (seconds and milliseconds)",
}


def render(transcript: Any, fmt: str, *, paragraph_gap: float | None = DEFAULT_PARAGRAPH_GAP) -> str:
    """The transcript in format ``fmt`` (one of :data:`FORMATS`)."""
    fmt = fmt.lower().lstrip(".")
    if fmt == "txt":
        return to_txt(transcript, paragraph_gap)
    if fmt == "srt":
        return to_srt(transcript)
    if fmt == "vtt":
        return to_vtt(transcript)
    if fmt == "json":
        return to_json(transcript)
    raise RMError(
        "unsupported_export_format",
        f"unknown transcript format {fmt!r}",
        hint=f"Use one of: {', '.join(FORMATS)}",
    )


def format_for_path(path: str | os.PathLike[str]) -> str:
    """The export format a file name's extension names; RMError when it names none."""
    suffix = Path(path).suffix.lower().lstrip(".")
    if suffix not in FORMATS:
        raise RMError(
            "unsupported_export_format",
            f"cannot tell the transcript format from the file name {Path(path).name!r}",
            hint=f"Give a name ending in .{', .'.join(FORMATS)} or pass the format explicitly",
        )
    return suffix


def write_transcript(
    transcript: Any,
    path: str | os.PathLike[str],
    fmt: str | None = None,
    *,
    paragraph_gap: float | None = DEFAULT_PARAGRAPH_GAP,
) -> Path:
    """Write the transcript to ``path`` atomically; ``fmt`` defaults to the file's extension."""
    target = Path(path)
    text = render(transcript, fmt or format_for_path(target), paragraph_gap=paragraph_gap)
    try:
        write_text_atomic(target, text)
    except OSError as exc:
        raise RMError(
            "export_failed",
            f"cannot write {target.name}: {exc.strerror or exc}",
            source=str(target),
            hint="Check that the folder exists and is writable",
        ) from None
    return target


__all__ = [
    "DEFAULT_PARAGRAPH_GAP",
    "FORMATS",
    "Segment",
    "format_for_path",
    "render",
    "segments",
    "to_json",
    "to_srt",
    "to_txt",
    "to_vtt",
    "transcript_text",
    "write_transcript",
]

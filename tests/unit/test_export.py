"""Transcript exports, checked against the formats' own rules with small parsers written here.

The parsers follow the format definitions (SubRip's de facto layout; the W3C WebVTT syntax:
header, timings ``[hh:]mm:ss.ttt``, escaped ``& < >``), not the writer's code, so a writer
bug that produces a well-formed-looking but wrong file is still caught.
"""

from __future__ import annotations

import json
import math
import os
import re

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from rmstudio.core.errors import RMError
from rmstudio.core.export import FORMATS, render, to_json, to_srt, to_txt, to_vtt, write_transcript

JFK_TEXT = (
    "And so my fellow Americans, ask not what your country can do for you, "
    "ask what you can do for your country."
)
JFK = {
    "text": " " + JFK_TEXT,
    "segments": [{"start": 0.0, "end": 11.0, "text": " " + JFK_TEXT}],
    "language": "en",
    "audio_duration": 11.0,
    "model": "tiny.en",
    "effective_threads": 1,
}

# ------------------------------------------------------------------ independent parsers

SRT_TIME = r"(\d{2,}):([0-5]\d):([0-5]\d),(\d{3})"
SRT_TIMING = re.compile(rf"^{SRT_TIME} --> {SRT_TIME}$")
VTT_TIME = r"(?:(\d{2,}):)?([0-5]\d):([0-5]\d)\.(\d{3})"
VTT_TIMING = re.compile(rf"^{VTT_TIME}[ \t]+-->[ \t]+{VTT_TIME}(?:[ \t].*)?$")


def _ms(h, m, s, ms) -> int:
    return ((int(h or 0) * 60 + int(m)) * 60 + int(s)) * 1000 + int(ms)


def parse_srt(text: str) -> list[tuple[int, int, int, list[str]]]:
    """(number, start_ms, end_ms, lines) per cue; AssertionError on any violation."""
    assert "\r" not in text
    if text == "":
        return []
    assert text.endswith("\n") and not text.endswith("\n\n\n")
    cues = []
    for block in text.rstrip("\n").split("\n\n"):
        lines = block.split("\n")
        assert len(lines) >= 3, f"cue without text: {block!r}"
        assert re.fullmatch(r"\d+", lines[0]), f"bad counter {lines[0]!r}"
        timing = SRT_TIMING.match(lines[1])
        assert timing, f"bad timing line {lines[1]!r}"
        g = timing.groups()
        start, end = _ms(*g[:4]), _ms(*g[4:])
        assert start <= end
        for line in lines[2:]:
            assert line.strip() and line == line.strip() and "-->" not in line
        cues.append((int(lines[0]), start, end, lines[2:]))
    assert [c[0] for c in cues] == list(range(1, len(cues) + 1))
    return cues


def unescape_vtt(line: str) -> str:
    # Cue text may contain no raw '<' (it would open a tag) and every '&' must start one of
    # the character references this writer is allowed to use.
    assert "<" not in line and ">" not in line
    assert re.fullmatch(r"(?:[^&]|&amp;|&lt;|&gt;)*", line), line
    return line.replace("&lt;", "<").replace("&gt;", ">").replace("&amp;", "&")


def parse_vtt(text: str) -> list[tuple[int, int, list[str]]]:
    assert text.startswith("WEBVTT") and text[6:7] in ("\n", " ", "\t")
    assert "\r" not in text and "\0" not in text
    blocks = text.rstrip("\n").split("\n\n")
    assert blocks[0].split("\n")[0].startswith("WEBVTT")
    cues = []
    for block in blocks[1:]:
        lines = block.split("\n")
        if "-->" not in lines[0]:  # an optional cue identifier
            lines = lines[1:]
        timing = VTT_TIMING.match(lines[0])
        assert timing, f"bad timing line {lines[0]!r}"
        g = timing.groups()
        start, end = _ms(*g[:4]), _ms(*g[4:])
        assert end > start, "WebVTT requires the end to be after the start"
        assert lines[1:], "cue without text"
        for line in lines[1:]:
            assert line.strip() and "-->" not in line
        cues.append((start, end, [unescape_vtt(line) for line in lines[1:]]))
    return cues


# ------------------------------------------------------------------------- jfk golden


def test_jfk_srt():
    cues = parse_srt(to_srt(JFK))
    assert cues == [(1, 0, 11000, [JFK_TEXT])]
    assert to_srt(JFK).startswith("1\n00:00:00,000 --> 00:00:11,000\nAnd so my fellow Americans")


def test_jfk_vtt():
    assert parse_vtt(to_vtt(JFK)) == [(0, 11000, [JFK_TEXT])]
    assert to_vtt(JFK).startswith("WEBVTT\n\n00:00:00.000 --> 00:00:11.000\n")


def test_jfk_txt_and_json():
    assert to_txt(JFK) == JFK_TEXT + "\n"
    data = json.loads(to_json(JFK))
    assert data["text"] == JFK_TEXT and data["language"] == "en" and data["audio_duration"] == 11.0
    assert data["model"] == "tiny.en" and data["effective_threads"] == 1
    assert data["segments"] == [
        {"id": 0, "start": 0.0, "end": 11.0, "start_ms": 0, "end_ms": 11000, "text": JFK_TEXT}
    ]


# ------------------------------------------------------------------------------ rules


def _t(*segments, **extra):
    return {"segments": [{"start": s, "end": e, "text": t} for s, e, t in segments], **extra}


def test_srt_numbering_and_hours_beyond_99():
    tr = _t((1, 2, "one"), (3.5, 4.25, "two"), (100 * 3600 + 61.0005, 100 * 3600 + 62, "late"))
    cues = parse_srt(to_srt(tr))
    assert [c[0] for c in cues] == [1, 2, 3]
    assert cues[2][1] == (100 * 3600 + 61) * 1000 + 1  # 0.5 ms rounds up
    assert "100:01:01,001 --> 100:01:02,000" in to_srt(tr)
    assert "100:01:01.001 --> 100:01:02.000" in to_vtt(tr)


def test_arrows_and_markup_in_text():
    tr = _t((0, 1, "a --> b"), (1, 2, "Tom & <b>Jerry</b> 5 > 3 &amp;"))
    srt = parse_srt(to_srt(tr))
    assert srt[0][3] == ["a -> b"] and srt[1][3] == ["Tom & <b>Jerry</b> 5 > 3 &amp;"]
    vtt = parse_vtt(to_vtt(tr))
    assert vtt[0][2] == ["a --> b"] and vtt[1][2] == ["Tom & <b>Jerry</b> 5 > 3 &amp;"]
    assert "Tom &amp; &lt;b&gt;Jerry&lt;/b&gt; 5 &gt; 3 &amp;amp;" in to_vtt(tr)


def test_multiline_and_blank_lines_inside_a_segment():
    tr = _t((0, 1, "first line\n\n\nsecond line\r\nthird"))
    assert parse_srt(to_srt(tr))[0][3] == ["first line", "second line", "third"]
    assert parse_vtt(to_vtt(tr))[0][2] == ["first line", "second line", "third"]


def test_end_before_start_is_clamped():
    tr = _t((5.0, 4.0, "backwards"), (-3, 1, "negative start"))
    srt = parse_srt(to_srt(tr))
    assert srt[0][1:3] == (5000, 5001)  # clamped, then made visible for 1 ms
    assert srt[1][1:3] == (0, 1000)
    data = json.loads(to_json(tr))
    assert (data["segments"][0]["start_ms"], data["segments"][0]["end_ms"]) == (5000, 5000)
    assert parse_vtt(to_vtt(tr))[0][:2] == (5000, 5001)


def test_missing_and_non_finite_times():
    tr = {"segments": [{"start": 1, "end": 2, "text": "a"}, {"start": None, "end": math.nan, "text": "b"}]}
    data = json.loads(to_json(tr))
    assert data["segments"][1]["start_ms"] == 2000 and data["segments"][1]["end_ms"] == 2000


def test_empty_transcripts():
    for empty in (
        {},
        {"text": "", "segments": []},
        {"text": "  ", "segments": [{"start": 0, "end": 1, "text": " "}]},
    ):
        assert to_srt(empty) == ""
        assert parse_vtt(to_vtt(empty)) == []
        assert to_txt(empty) == ""
        data = json.loads(to_json(empty))
        assert data["text"] == ""
    assert json.loads(to_json({}))["segments"] == []


def test_text_without_segments_becomes_one_cue():
    tr = {"text": "hello there", "segments": [], "audio_duration": 2.5}
    assert parse_srt(to_srt(tr)) == [(1, 0, 2500, ["hello there"])]


def test_txt_paragraphs_split_at_pauses():
    tr = _t(
        (0, 1, "One."), (1.5, 2.0, "Two."), (4.0, 5.0, "Three."), (6.9, 7.0, "Four."), (9.0, 9.5, "Five.")
    )
    assert to_txt(tr) == "One. Two.\n\nThree. Four.\n\nFive.\n"  # gaps: 0.5, 2.0 (>= 2 s), 1.9, 2.0
    assert to_txt(tr, paragraph_gap=1.0) == "One. Two.\n\nThree.\n\nFour.\n\nFive.\n"
    assert to_txt(tr, paragraph_gap=None) == "One. Two. Three. Four. Five.\n"


def test_non_ascii_text_is_written_as_utf8(tmp_path):
    tr = _t((0, 1.5, "Grüße, 世界! Ça va? 🎙️"), language="de")
    for fmt in FORMATS:
        path = write_transcript(tr, tmp_path / f"out.{fmt}")
        text = path.read_bytes().decode("utf-8")
        assert "Grüße, 世界! Ça va? 🎙️" in text
        assert not text.startswith("\ufeff")
    assert "\\u" not in (tmp_path / "out.json").read_text(encoding="utf-8")


def test_several_transcripts_are_joined():
    a = _t((0, 1, "first"), language="en", audio_duration=30.0)
    b = _t((30, 31, "second"), language="en", audio_duration=30.0)
    assert [c[3] for c in parse_srt(to_srt([a, b]))] == [["first"], ["second"]]
    assert json.loads(to_json([a, b]))["text"] == "first second"


def test_write_transcript_format_from_extension_and_errors(tmp_path):
    assert write_transcript(JFK, tmp_path / "a.SRT").read_text(encoding="utf-8") == to_srt(JFK)
    assert write_transcript(JFK, tmp_path / "b.out", "vtt").read_text(encoding="utf-8") == to_vtt(JFK)
    assert write_transcript(JFK, tmp_path / "deep" / "c.txt").exists()
    with pytest.raises(RMError) as info:
        write_transcript(JFK, tmp_path / "c.docx")
    assert info.value.code == "unsupported_export_format" and info.value.hint
    with pytest.raises(RMError):
        render(JFK, "pdf")
    with pytest.raises(RMError) as info:
        render("just text", "srt")
    assert info.value.code == "invalid_transcript"
    # Atomic: no temporary files are left behind.
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a.SRT", "b.out", "deep"]


def test_write_failure_is_an_rmerror(tmp_path):
    blocker = tmp_path / "file"
    blocker.write_text("x")
    with pytest.raises(RMError) as info:
        write_transcript(JFK, blocker / "out.srt")
    assert info.value.code == "export_failed"


# ------------------------------------------------------------------------- properties

_text = st.text(alphabet=st.characters(blacklist_categories=("Cs",)), max_size=40) | st.sampled_from(
    ["-->", "a-->b", "<i>x</i>", "&amp;", "x\n\ny", " \r\n ", "--->", "&lt;"]
)
_time = st.floats(-5, 400000) | st.just(math.nan) | st.just(math.inf) | st.none()


@given(st.lists(st.tuples(_time, _time, _text), max_size=12))
@settings(max_examples=150, deadline=None)
def test_subtitles_are_always_well_formed(raw):
    tr = {"segments": [{"start": s, "end": e, "text": t} for s, e, t in raw]}

    def lines_of(t):
        t = "".join(ch for ch in t if ch in "\t\n\r" or not (ord(ch) < 32 or ord(ch) == 127))
        return [x.strip() for x in t.replace("\r\n", "\n").replace("\r", "\n").split("\n") if x.strip()]

    expected = [lines_of(t) for _, _, t in raw if lines_of(t)]
    srt = parse_srt(to_srt(tr))
    vtt = parse_vtt(to_vtt(tr))
    # SRT text differs only where an arrow had to go (parse_srt checks that none is left).
    assert [[x.replace("-", "") for x in c[3]] for c in srt] == [
        [x.replace("-", "") for x in lines] for lines in expected
    ]
    assert [len(c[3]) for c in srt] == [len(lines) for lines in expected]
    assert [c[2] for c in vtt] == expected
    assert [c[1:3] for c in srt] == [c[:2] for c in vtt]
    segs = json.loads(to_json(tr))["segments"]
    assert len(segs) == len(raw)
    for seg in segs:
        assert 0 <= seg["start_ms"] <= seg["end_ms"]
        assert seg["start"] == round(seg["start_ms"] / 1000, 3)


def test_written_files_get_ordinary_permissions_and_keep_their_own(tmp_path):
    import stat

    umask = os.umask(0o022)
    os.umask(umask)
    new = write_transcript(JFK, tmp_path / "new.srt")
    assert stat.S_IMODE(new.stat().st_mode) == 0o666 & ~umask  # not mkstemp's 0600
    kept = tmp_path / "kept.srt"
    kept.write_text("old")
    kept.chmod(0o640)
    write_transcript(JFK, kept)
    assert stat.S_IMODE(kept.stat().st_mode) == 0o640

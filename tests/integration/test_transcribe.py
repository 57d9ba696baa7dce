"""Transcription end to end: real speech (jfk.wav), the real default model, both executors.

The expected sentence is whisper.cpp's published reference for samples/jfk.wav; it is
compared after normalising case, punctuation and whitespace.
"""

from __future__ import annotations

import json
import re
import subprocess
import sys

import numpy as np
import pytest
import soundfile as sf

from rmstudio.core.metrics.wer import wer
from rmstudio.core.transcribe import WhisperOptions, transcribe_file
from tests.conftest import REPO

JFK_TEXT = (
    "And so my fellow Americans, ask not what your country can do for you, "
    "ask what you can do for your country."
)


def normalise(text: str) -> str:
    return " ".join(re.sub(r"[^a-z0-9' ]+", " ", text.lower()).split())


@pytest.fixture(scope="module")
def jfk_variants(jfk_wav, tmp_path_factory):
    """jfk.wav as FLAC, as 44.1 kHz stereo and as 8-bit unsigned WAV (made with soundfile and a
    plain linear interpolation, independent of our resampler)."""
    out = tmp_path_factory.mktemp("jfk")
    data, rate = sf.read(jfk_wav, dtype="float64")
    sf.write(out / "jfk.flac", data, rate, subtype="PCM_16")
    t_new = np.arange(int(len(data) * 44100 / rate)) / 44100
    up = np.interp(t_new, np.arange(len(data)) / rate, data)
    sf.write(out / "jfk-44k-stereo.wav", np.stack([up, up * 0.8], axis=1), 44100, subtype="PCM_16")
    sf.write(out / "jfk-u8.wav", data, rate, subtype="PCM_U8")
    return {"flac": out / "jfk.flac", "stereo44k": out / "jfk-44k-stereo.wav", "u8": out / "jfk-u8.wav"}


@pytest.mark.parametrize("engine", ["wasm", "native"])
def test_jfk_transcript(jfk_wav, engine):
    events: list[dict] = []
    job = transcribe_file(jfk_wav, engine=engine, on_event=events.append)
    assert job.transcript is not None, job.result.error
    assert normalise(job.transcript["text"]) == normalise(JFK_TEXT)
    segments = job.transcript["segments"]
    assert segments and all(0 <= s["start"] <= s["end"] <= 11.1 for s in segments)
    assert [s["start"] for s in segments] == sorted(s["start"] for s in segments)
    assert abs(job.audio_duration - 11.0) < 0.01
    progress = [e for e in events if e["event"] == "progress" and e.get("unit") == "s"]
    assert progress, "no audio progress events"
    print(f"{engine}: jfk in {job.wall_s:.2f} s, RTF {job.rtf:.3f}")


@pytest.mark.parametrize("variant", ["flac", "stereo44k", "u8"])
def test_the_audio_path_handles_other_formats(jfk_variants, variant):
    job = transcribe_file(jfk_variants[variant], engine="wasm")
    assert job.transcript is not None, job.result.error
    if variant == "u8":
        # 8-bit samples carry audible quantisation noise: tiny.en then hears "my fellow America"
        # (native whisper.cpp too, with either weight format), so allow that one word.
        assert wer(JFK_TEXT, job.transcript["text"]).rate <= 0.05, job.transcript["text"]
    else:
        assert normalise(job.transcript["text"]) == normalise(JFK_TEXT)


def test_cli_writes_every_export_format(jfk_wav, tmp_path):
    for fmt in ("txt", "srt", "vtt", "json"):
        proc = subprocess.run(
            [
                sys.executable,
                "-m",
                "rmstudio",
                "transcribe",
                str(jfk_wav),
                "-f",
                fmt,
                "-o",
                str(tmp_path) + "/",
            ],
            capture_output=True,
            text=True,
            cwd=REPO,
            timeout=600,
        )
        assert proc.returncode == 0, proc.stderr
        out = (tmp_path / f"jfk.{fmt}").read_text()
        if fmt == "json":
            assert normalise(json.loads(out)["text"]) == normalise(JFK_TEXT)
        elif fmt == "vtt":
            assert out.startswith("WEBVTT") and "-->" in out
        elif fmt == "srt":
            assert out.startswith("1\n00:00:00,000 --> ")
        else:
            assert normalise(out) == normalise(JFK_TEXT)


def test_run_the_whisper_example_with_audio_input(jfk_wav):
    proc = subprocess.run(
        [
            sys.executable,
            "-m",
            "rmstudio",
            "run",
            str(REPO / "resources/examples/whisper.json"),
            "--input",
            str(jfk_wav),
            "--json",
        ],
        capture_output=True,
        text=True,
        cwd=REPO,
        timeout=600,
    )
    assert proc.returncode == 0, proc.stderr
    result = json.loads(proc.stdout)
    assert normalise(result["outputs"][0]["text"]) == normalise(JFK_TEXT)


def test_unreadable_audio_is_a_clear_error(tmp_path):
    bad = tmp_path / "notes.wav"
    bad.write_text("this is not audio")
    proc = subprocess.run(
        [sys.executable, "-m", "rmstudio", "transcribe", str(bad)],
        capture_output=True,
        text=True,
        cwd=REPO,
        timeout=120,
    )
    assert proc.returncode == 1
    assert proc.stderr.startswith("error: ") and "notes.wav" in proc.stderr and "Traceback" not in proc.stderr


def test_transcribe_checks_its_outputs_before_any_work(jfk_wav, tmp_path):
    audio = tmp_path / "talk.wav"
    audio.write_bytes(jfk_wav.read_bytes())
    (tmp_path / "a").mkdir()
    (tmp_path / "b").mkdir()
    twin_a, twin_b = tmp_path / "a" / "x.wav", tmp_path / "b" / "x.wav"
    twin_a.write_bytes(b"never decoded")  # the check comes first: no audio is read
    twin_b.write_bytes(b"never decoded")
    blocker = tmp_path / "plainfile"
    blocker.write_text("keep")
    cases = [
        ([str(audio), "-o", str(audio)], "is the input audio file itself"),
        ([str(twin_a), str(twin_b), "-o", str(tmp_path / "out")], "would both be transcribed to"),
        ([str(twin_a), str(audio), "-o", str(blocker)], "is a file, but 2 inputs need a directory"),
        ([str(audio), "-o", str(blocker / "x.srt")], "it is a file, not a folder"),
    ]
    for args, message in cases:
        proc = subprocess.run(
            [sys.executable, "-m", "rmstudio", "transcribe", *args],
            capture_output=True,
            text=True,
            cwd=REPO,
            timeout=120,
        )
        assert proc.returncode == 1 and message in proc.stderr, (args, proc.stderr)
        assert "whisper [" not in proc.stderr  # refused before transcribing
    assert audio.read_bytes() == jfk_wav.read_bytes() and blocker.read_text() == "keep"
    assert not (tmp_path / "out").exists()


def test_an_upper_case_extension_picks_the_format(jfk_wav, tmp_path):
    out = tmp_path / "JFK.SRT"
    proc = subprocess.run(
        [sys.executable, "-m", "rmstudio", "transcribe", str(jfk_wav), "-o", str(out)],
        capture_output=True,
        text=True,
        cwd=REPO,
        timeout=300,
    )
    assert proc.returncode == 0, proc.stderr
    assert out.read_text(encoding="utf-8").startswith("1\n00:00:00,000 --> ")


def test_a_sample_rate_too_low_for_speech_is_refused(jfk_wav, tmp_path):
    data, _rate = sf.read(jfk_wav)
    mislabelled = tmp_path / "one-hertz.wav"
    sf.write(mislabelled, data, 1)  # the header says 1 Hz: 176000 samples would be 49 hours
    job = transcribe_file(mislabelled)
    assert job.transcript is None and job.result.error.code == "audio_unsuitable"
    assert "1 Hz" in job.result.error.message and job.result.error.hint


def test_unknown_model_names_the_store(jfk_wav):
    job = transcribe_file(jfk_wav, WhisperOptions(model="no-such-model"), engine="wasm")
    assert job.transcript is None
    assert job.result.error.code in {"model_not_found", "file_not_found"}


@pytest.fixture(scope="module")
def jfk_six_times(jfk_wav, tmp_path_factory):
    """75 s of speech: jfk.wav six times with 1.5 s pauses, long enough for three windows."""
    data, rate = sf.read(jfk_wav, dtype="float32")
    pause = np.zeros(int(1.5 * rate), np.float32)
    path = tmp_path_factory.mktemp("long") / "jfk6.wav"
    sf.write(path, np.concatenate([np.concatenate([data, pause])] * 6), rate, subtype="FLOAT")
    return path


@pytest.mark.parametrize("engine", ["wasm", "native"])
def test_long_audio_in_parallel_windows_loses_and_repeats_nothing(jfk_six_times, engine):
    events: list[dict] = []
    job = transcribe_file(jfk_six_times, engine=engine, parallel=2, on_event=events.append)
    assert job.transcript is not None, job.result.error
    windows = job.transcript["windows"]
    # Three windows of at most 30 s (one Whisper chunk each), every cut in a pause (each
    # repetition is 11 s of speech then 1.5 s of silence).
    assert len(windows) == 3 and windows[0]["start"] == 0 and windows[-1]["end"] == pytest.approx(75.0)
    assert all(w["end"] - w["start"] <= 30.0 for w in windows), windows
    assert all((w["end"] % 12.5) >= 11.0 for w in windows[:-1]), windows
    words = normalise(job.transcript["text"]).split()
    # Every repetition is there once: the sentence's 22 words six times, give or take a word
    # tiny.en mishears; nothing doubled or dropped at the join.
    assert normalise(job.transcript["text"]).count("and so my fellow americans") == 6
    assert abs(len(words) - 6 * len(normalise(JFK_TEXT).split())) <= 2
    starts = [s["start"] for s in job.transcript["segments"]]
    assert starts == sorted(starts) and starts[-1] < 75.0
    for w in windows:
        assert any(w["start"] <= s["start"] < w["end"] for s in job.transcript["segments"]), w
    # Every cue stays inside the window it came from (Whisper's last segment of a window can
    # run past it: a subtitle after the end of the file, or over the next window's first).
    for s in job.transcript["segments"]:
        assert any(w["start"] <= s["start"] <= s["end"] <= w["end"] for w in windows), s
    times = [e["t_ms"] for e in events]
    assert times == sorted(times)  # one timeline, though each window's guest has its own clock
    assert job.result.host["wall_ms"] == pytest.approx(job.wall_s * 1000, rel=0.05)  # the whole job
    progress = [e for e in events if e["event"] == "progress" and e.get("unit") == "s"]
    assert {e["window"] for e in progress} == {0, 1, 2}
    assert max(e["done"] for e in progress) == pytest.approx(75.0, abs=1.0)
    assert all(e["total"] == pytest.approx(75.0) for e in progress)
    if engine == "wasm":
        # One window at a time gives the very same transcript: the cuts never depend on the
        # number of threads, and each window's guest is deterministic.
        single = transcribe_file(jfk_six_times, engine=engine, parallel=1)
        assert single.transcript is not None, single.result.error
        assert single.transcript["windows"] == windows
        assert single.transcript["segments"] == job.transcript["segments"]


def test_more_channels_than_an_audio_item_holds(jfk_wav, tmp_path):
    data, rate = sf.read(jfk_wav)
    wide = tmp_path / "ch33.wav"
    sf.write(wide, np.stack([data * 0.3] * 33, axis=1), rate)
    job = transcribe_file(wide)  # mixed to mono on the host: Whisper hears one channel anyway
    assert job.transcript is not None, job.result.error
    assert "fellow americans" in normalise(job.transcript["text"])
    proc = subprocess.run(  # a pipeline gets the file as it is: a clear refusal, about the file
        [
            sys.executable,
            "-m",
            "rmstudio",
            "run",
            str(REPO / "resources/examples/whisper.json"),
            "-i",
            str(wide),
        ],
        capture_output=True,
        text=True,
        cwd=REPO,
        timeout=120,
    )
    assert proc.returncode == 1
    assert "ch33.wav has 33 channels" in proc.stderr and "ffmpeg" in proc.stderr


@pytest.mark.parametrize("engine", ["wasm", "native"])
def test_an_unknown_language_is_refused_by_both_executors(jfk_wav, engine):
    # whisper.cpp itself takes it silently and decodes with a made-up language token.
    job = transcribe_file(jfk_wav, WhisperOptions(language="xx"), engine=engine)
    assert job.transcript is None and job.result.error.code == "invalid_param"
    assert "unknown language 'xx'" in job.result.error.message and "auto" in job.result.error.hint
    named = transcribe_file(jfk_wav, WhisperOptions(language="english"), engine=engine)
    assert named.transcript is not None and "fellow americans" in normalise(named.transcript["text"])

"""`rmstudio bench whisper` without running Whisper: planning, clips and references, the table,
the worker protocol's failure path, and clean errors for bad command lines and bad files."""

from __future__ import annotations

import numpy as np
import pytest
import soundfile as sf

from rmstudio.cli import main
from rmstudio.cli.bench_cmd import DASH, Table
from rmstudio.core.bench import whisper as bench
from rmstudio.core.errors import RMError


def _tone(path, seconds=1.0, rate=16000):
    t = np.arange(int(seconds * rate)) / rate
    sf.write(path, 0.1 * np.sin(2 * np.pi * 440 * t), rate, subtype="PCM_16")
    return path


def test_plan_orders_rows_so_native_1t_comes_first():
    ggml = {"q8_0": "/m/q8.bin", "f16": "/m/f16.bin"}
    configs = bench.plan_configs(
        ["sandbox", "faster-whisper", "native"], ["f16", "q8_0", "f16"], [2, 1, 2], ggml, "/ct2"
    )
    got = [(c.engine, c.fmt, c.threads) for c in configs]
    assert got == [
        ("native", "f16", 1),
        ("native", "f16", 2),
        ("sandbox", "f16", 1),
        ("sandbox", "f16", 2),
        ("native", "q8_0", 1),
        ("native", "q8_0", 2),
        ("sandbox", "q8_0", 1),
        ("sandbox", "q8_0", 2),
        ("faster-whisper", "int8", 1),
        ("faster-whisper", "int8", 2),
    ]
    assert configs[0].model == "/m/f16.bin" and configs[-1].model == "/ct2"


def test_threads_column_says_what_parallelism_means_per_engine():
    assert bench.Config("native", "q8_0", 1, "m").how() == "1 thread"
    assert bench.Config("faster-whisper", "int8", 2, "d").how() == "2 threads"
    sandbox = bench.Config("sandbox", "q8_0", 2, "m")
    assert sandbox.how(1) == "2 at once (1 window)"
    assert sandbox.how(3) == "2 at once (3 windows)"
    assert bench.Config("sandbox", "q8_0", 1, "m").how(1) == "1 at a time (1 window)"


def test_row_figures():
    clip = bench.Clip(bench.Path("a.wav"), 10.0, "ask not what your country can do")
    native = bench.Config("native", "q8_0", 1, "m")
    row = bench.Row(
        clip,
        native,
        times=[3.0, 1.0, 2.0],
        text="ask not what your country can do",
        rss_growth_bytes=100 * 2**20,
        peak_memory_bytes=None,
    )
    row.native_1t_s = 2.0
    assert row.median_s == 2.0 and row.rtf == pytest.approx(0.2) and row.vs_native == 1.0
    assert row.wer is not None and row.wer.rate == 0 and row.peak_bytes == 100 * 2**20
    sandbox = bench.Row(
        clip,
        bench.Config("sandbox", "q8_0", 1, "m"),
        times=[4.0],
        text="ask what",
        peak_memory_bytes=150 * 2**20,
        rss_growth_bytes=400 * 2**20,
    )
    assert sandbox.peak_bytes == 150 * 2**20  # the guest's linear memory, not the host process
    no_ref = bench.Row(bench.Clip(bench.Path("b.wav"), 10.0), native, times=[1.0], text="words")
    assert no_ref.wer is None and no_ref.to_json()["wer"] is None


def test_table_rows_line_up_and_mark_what_is_missing():
    clip = bench.Clip(bench.Path("talk.wav"), 10.0)
    fw = bench.Config("faster-whisper", "int8", 1, "d")
    sandbox = bench.Config("sandbox", "q8_0", 2, "m")
    table = Table([clip], [fw, sandbox])
    ok = table.row(
        bench.Row(clip, fw, times=[1.234], cpu_times=[2.5], text="x", rss_growth_bytes=200 * 2**20)
    )
    failed = table.row(bench.Row(clip, sandbox, error="the run was cancelled"))
    header, rule = table.header()
    assert len({len(header), len(rule), len(ok), len(failed)}) == 1
    cells = [c.strip() for c in ok.strip("|").split("|")]
    assert cells == [
        "talk.wav",
        "faster-whisper int8",
        "1 thread",
        "1.23",
        "2.50",
        "0.123",
        DASH,
        DASH,
        "200",
        DASH,
    ]
    assert "failed" in failed


def test_sidecar_and_given_references(tmp_path):
    a = _tone(tmp_path / "a.wav")
    b = _tone(tmp_path / "b.flac")
    c = _tone(tmp_path / "c.wav")
    (tmp_path / "a.txt").write_text("words of a\n")
    (tmp_path / "b.flac.txt").write_text("words of b")
    clips = bench.user_clips([a, b, c])
    assert [(x.reference, x.reference_source) for x in clips] == [
        ("words of a\n", "sidecar a.txt"),
        ("words of b", "sidecar b.flac.txt"),
        (None, "none"),
    ]
    assert clips[0].duration == pytest.approx(1.0)
    given = bench.user_clips([a, c], references=["first", "second"])
    assert [x.reference for x in given] == ["first", "second"]  # a given text beats the sidecar
    ref = tmp_path / "ref.txt"
    ref.write_text("from a file")
    assert bench.user_clips([c], reference_files=[ref])[0].reference == "from a file"
    with pytest.raises(RMError, match="2 reference transcript"):
        bench.user_clips([a], references=["one", "two"])


def test_repeated_clip_has_the_reference_once_per_repetition(tmp_path):
    source = _tone(tmp_path / "s.wav", seconds=1.0)
    clip = bench.repeated_clip(source, "hello there", 0.1, tmp_path)  # 6 s of (1 s + 1.5 s pause)
    assert clip.reference == "hello there hello there"
    assert sf.info(clip.path).duration == pytest.approx(clip.duration) == pytest.approx(5.0)


def test_engines_explicitly_asked_for_must_be_installed(monkeypatch):
    monkeypatch.setattr(bench, "installed", lambda engine: engine != "faster-whisper")
    with pytest.raises(RMError, match="needs faster-whisper") as err:
        bench.check_engines(["sandbox", "faster-whisper"])
    assert "rmstudio[bench]" in (err.value.hint or "")
    engines, notes = bench.check_engines(None)  # by default: left out, with a note
    assert engines == ["native", "sandbox"] and "faster-whisper" in notes[0]


def test_a_failing_worker_becomes_a_failed_row(tmp_path):
    clip = bench.Clip(_tone(tmp_path / "a.wav"), 1.0)
    row = bench.run_config(clip, bench.Config("nonsense", "q8_0", 1, "m"), repeat=1, warmup=0)
    assert row.error is not None and "unknown benchmark engine" in row.error and not row.times


@pytest.mark.parametrize("kind", ["missing", "text", "empty", "folder"])
def test_bad_files_fail_cleanly_before_anything_runs(tmp_path, capsys, kind):
    path = {
        "missing": tmp_path / "missing.wav",
        "text": tmp_path / "notes.wav",
        "empty": tmp_path / "empty.wav",
        "folder": tmp_path,
    }[kind]
    if kind == "text":
        path.write_text("not audio at all\n")
    if kind == "empty":
        path.write_bytes(b"")
    code = main(["bench", "whisper", str(path), "--engines", "native"])
    err = capsys.readouterr().err
    assert code == 1
    assert err.startswith("error: ") and "Traceback" not in err and path.name in err


def test_bad_command_lines(tmp_path, capsys):
    a = _tone(tmp_path / "a.wav")
    assert main(["bench", "whisper", str(a), "--reference", "x", "--reference", "y"]) == 1
    assert "2 reference transcript(s) for 1 file(s)" in capsys.readouterr().err
    assert main(["bench", "whisper", "--reference", "x"]) == 1  # the default clips have their own
    assert "go with FILE arguments" in capsys.readouterr().err
    assert main(["bench", "whisper", str(a), "--json", str(tmp_path / "no" / "such" / "out.json")]) == 1
    assert "folder for the JSON report" in capsys.readouterr().err
    for argv in (["--engines", "native,whisperx"], ["--threads", "0"], ["--repeat", "0"]):
        with pytest.raises(SystemExit) as exit_:
            main(["bench", "whisper", str(a), *argv])
        assert exit_.value.code == 2
        assert "Traceback" not in capsys.readouterr().err

"""`rmstudio bench whisper` end to end on jfk.wav, kept short (one timed run, no warm-up,
one thread count). It checks the table's structure and the WER, never timings: a shared
machine makes wall-clock figures meaningless as assertions."""

from __future__ import annotations

import importlib.util
import json
import shutil
import subprocess
import sys

from rmstudio.core.bench.whisper import JFK_TEXT
from tests.conftest import REPO

SHORT = ["--repeat", "1", "--warmup", "0", "--threads", "1"]


def bench(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "rmstudio", "bench", "whisper", *args],
        capture_output=True,
        text=True,
        cwd=REPO,
        timeout=300,
    )


def table(stdout: str) -> list[dict[str, str]]:
    """The table's body rows as {column heading: cell}."""
    lines = [line for line in stdout.splitlines() if line.startswith("| ")]
    assert len(lines) >= 2 and lines[0].split("|")[1].strip() == "clip", stdout
    cells = [[cell.strip() for cell in line.strip().strip("|").split("|")] for line in lines]
    return [dict(zip(cells[0], row, strict=True)) for row in cells[2:]]


def test_default_clip_in_the_sandbox_and_natively(tmp_path):
    report = tmp_path / "bench.json"
    proc = bench(
        "--minutes", "0", "--engines", "sandbox,native", "--formats", "q8_0", *SHORT, "--json", str(report)
    )
    assert proc.returncode == 0, proc.stderr
    out = proc.stdout
    for heading in ("machine:", "versions:", "command:  rmstudio bench whisper", "wasmtime", "pywhispercpp"):
        assert heading in out
    rows = table(out)
    assert [(r["clip"], r["engine"], r["threads/windows"]) for r in rows] == [
        ("jfk.wav", "whisper.cpp native q8_0", "1 thread"),
        ("jfk.wav", "sandbox (wasm) q8_0", "1 at a time (1 window)"),
    ]
    for row in rows:
        assert row["WER"] == "0.0%", row  # whisper.cpp's own reference sentence, word for word
        assert row["time s"] != "failed" and float(row["time s"]) > 0 and float(row["peak MiB"]) > 0
        assert float(row["CPU s"]) > 0
    assert rows[0]["vs native 1t"] == "1.00x" and rows[1]["vs native 1t"].endswith("x")
    # The sandbox says how long it took from the call to whisper.cpp starting on the audio.
    assert rows[0]["start ms"] == "–" and float(rows[1]["start ms"]) > 0
    data = json.loads(report.read_text())
    assert [r["engine"] for r in data["rows"]] == ["native", "sandbox"]
    assert all(r["ok"] and r["wer"]["rate"] == 0 and len(r["times_s"]) == 1 for r in data["rows"])
    assert data["clips"][0]["reference_source"] == "whisper.cpp's reference sentence"
    assert data["rows"][1]["guest_peak_memory_bytes"] > 0  # the column's sandbox figure


def test_user_files_take_a_sidecar_transcript_or_show_no_wer(jfk_wav, tmp_path):
    with_text = shutil.copy(jfk_wav, tmp_path / "speech.wav")
    (tmp_path / "speech.txt").write_text(JFK_TEXT + "\n")
    without = shutil.copy(jfk_wav, tmp_path / "other.wav")
    proc = bench(str(with_text), str(without), "--engines", "native", *SHORT)
    assert proc.returncode == 0, proc.stderr
    rows = table(proc.stdout)
    assert [(r["clip"], r["WER"]) for r in rows] == [("speech.wav", "0.0%"), ("other.wav", "–")]
    assert "reference: sidecar speech.txt" in proc.stdout and "reference: none" in proc.stdout


def test_faster_whisper_reads_the_same_weights_offline():
    """Where the optional `bench` extra is installed, faster-whisper's row is measured; where it
    is not (the default install), asking for it is a clear one-line error, not a skip."""
    proc = bench("--minutes", "0", "--engines", "faster-whisper", *SHORT)
    if importlib.util.find_spec("faster_whisper") is None:
        assert proc.returncode != 0 and "Traceback" not in proc.stderr
        assert "faster-whisper" in proc.stderr and "not installed" in proc.stderr, proc.stderr
        assert "rmstudio[bench]" in proc.stderr or ".[bench]" in proc.stderr, proc.stderr
        return
    assert proc.returncode == 0, proc.stderr
    rows = table(proc.stdout)
    assert [(r["engine"], r["threads/windows"], r["WER"]) for r in rows] == [
        ("faster-whisper int8", "1 thread", "0.0%")
    ]

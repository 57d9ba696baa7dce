"""Whisper benchmark: the sandbox against native whisper.cpp (and faster-whisper if installed),
same clips, same model files, measured side by side in one run and printed as one table.

    .venv/bin/python benchmarks/bench_whisper.py                  # jfk.wav + a 2-minute clip
    .venv/bin/python benchmarks/bench_whisper.py --minutes 10 --formats q8_0 f16 --repeat 3
    .venv/bin/python benchmarks/bench_whisper.py FILE.wav --reference "the words spoken"

Every configuration runs in a fresh subprocess so its peak memory is its own. Columns:
time (median), RTF = processing time / audio duration, the ratio to native whisper.cpp on one
thread with the same weights, peak memory (the guest's linear memory for the sandbox, process
RSS growth for native engines) and WER against the reference transcript.

The long clip is jfk.wav repeated with 1.5 s pauses: real speech with a known transcript, so
words lost or duplicated at window joins show up in the WER.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
sys.path.insert(0, str(REPO / "runtime"))

JFK_TEXT = (
    "And so my fellow Americans, ask not what your country can do for you, "
    "ask what you can do for your country."
)


def peak_rss() -> int:
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) * 1024
    return 0


def worker(config: dict) -> dict:
    """Run one configuration in this (fresh) process and report what it measured."""
    import soundfile as sf

    clip = Path(config["clip"])
    engine = config["engine"]
    base_rss = peak_rss()
    times: list[float] = []
    text = ""
    extra: dict = {}
    if engine in ("native", "sandbox"):
        from rmstudio.core.transcribe import WhisperOptions, transcribe_file

        options = WhisperOptions(model=config["model"], language="en", threads=config["threads"])
        kind = "wasm" if engine == "sandbox" else "native"
        for n in range(config["repeat"] + 1):  # the first run warms caches and loads the model
            job = transcribe_file(clip, options, engine=kind)
            if job.transcript is None:
                return {"error": job.result.error.describe()}
            if n == 0:
                extra["first_run_s"] = job.wall_s
                extra["module_cache"] = job.result.host.get("module_cache")
                continue
            times.append(job.wall_s)
            text = job.transcript["text"]
            if kind == "wasm":
                extra["peak_memory"] = max(
                    extra.get("peak_memory", 0), job.result.host.get("peak_memory_bytes", 0)
                )
    elif engine == "faster-whisper":
        from faster_whisper import WhisperModel

        from rmstudio.core.models.store import default_ct2_dir

        model = WhisperModel(
            str(default_ct2_dir()), device="cpu", compute_type="int8", cpu_threads=config["threads"]
        )
        audio, _ = sf.read(clip, dtype="float32")
        for n in range(config["repeat"] + 1):
            t0 = time.perf_counter()
            segments, _ = model.transcribe(audio, language="en", beam_size=1)
            text = " ".join(s.text.strip() for s in segments)
            if n:
                times.append(time.perf_counter() - t0)
    if "peak_memory" not in extra:
        extra["peak_memory"] = peak_rss() - base_rss
    return {"times": times, "text": text, **extra}


def run_config(config: dict) -> dict:
    proc = subprocess.run(
        [sys.executable, __file__, "--worker", json.dumps(config)], capture_output=True, text=True, cwd=REPO
    )
    if proc.returncode != 0:
        return {"error": (proc.stderr.strip().splitlines() or ["failed"])[-1]}
    return json.loads(proc.stdout.strip().splitlines()[-1])


def long_clip(jfk: Path, minutes: float, out_dir: Path) -> tuple[Path, str]:
    import numpy as np
    import soundfile as sf

    data, rate = sf.read(jfk, dtype="float32")
    pause = np.zeros(int(1.5 * rate), np.float32)
    unit = np.concatenate([data, pause])
    n = max(1, round(minutes * 60 * rate / unit.size))
    path = out_dir / f"jfk-x{n}.wav"
    sf.write(path, np.tile(unit, n), rate, subtype="PCM_16")
    return path, " ".join([JFK_TEXT] * n)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--worker", help=argparse.SUPPRESS)
    ap.add_argument("files", nargs="*", help="extra clips (need --reference for WER)")
    ap.add_argument("--reference", help="transcript of the extra clip")
    ap.add_argument("--minutes", type=float, default=2.0, help="length of the repeated-jfk clip (0: none)")
    ap.add_argument("--formats", nargs="+", default=["q8_0"], choices=["q8_0", "f16"])
    ap.add_argument("--threads", nargs="+", type=int, default=[1, 2])
    ap.add_argument("--repeat", type=int, default=2)
    args = ap.parse_args()
    if args.worker:
        print(json.dumps(worker(json.loads(args.worker))))
        return 0

    import sources

    from rmstudio.core import models
    from rmstudio.core.metrics.wer import wer

    jfk = sources.jfk_wav()
    tmp = Path(tempfile.mkdtemp(prefix="rmstudio-bench-"))
    clips = [(jfk, JFK_TEXT)]
    if args.minutes > 0:
        clips.append(long_clip(jfk, args.minutes, tmp))
    clips += [(Path(f), args.reference or "") for f in args.files]
    model_files = {}
    for fmt in args.formats:
        stored = models.default_model(quant=fmt)
        model_files[fmt] = str(stored.path)
    try:
        import faster_whisper  # noqa: F401

        have_fw = True
    except ImportError:
        have_fw = False

    import soundfile as sf

    print(
        f"# Whisper benchmark: tiny.en, {platform.machine()}, {os.cpu_count()} cores, "
        f"Python {platform.python_version()}; median of {args.repeat} runs after one warm-up\n"
    )
    header = (
        f"| {'clip':<14} | {'engine':<34} | {'time s':>7} | {'RTF':>6} | {'vs native':>9} "
        f"| {'peak MiB':>8} | {'WER':>6} |"
    )
    print(header)
    print("|" + "|".join("-" * (len(c)) for c in header.split("|")[1:-1]) + "|")
    for clip, reference in clips:
        duration = sf.info(clip).duration
        rows: list[tuple[str, dict]] = []
        for fmt, path in model_files.items():
            for threads in args.threads:
                rows.append(
                    (
                        f"whisper.cpp native {fmt} {threads}t",
                        {"engine": "native", "model": path, "threads": threads, "fmt": fmt},
                    )
                )
            for threads in args.threads:
                # More than one thread in the sandbox means windows of long audio run at once,
                # one guest store per host thread (a clip under 60 s stays one window).
                how = "1t" if threads == 1 else f"{threads} windows at once"
                rows.append(
                    (
                        f"sandbox (wasm) {fmt} {how}",
                        {"engine": "sandbox", "model": path, "threads": threads, "fmt": fmt},
                    )
                )
        if have_fw:
            for threads in args.threads:
                rows.append(
                    (f"faster-whisper int8 {threads}t", {"engine": "faster-whisper", "threads": threads})
                )
        native_1t: dict[str, float] = {}
        for label, cfg in rows:
            cfg.update(clip=str(clip), repeat=args.repeat)
            res = run_config(cfg)
            if "error" in res:
                print(f"| {clip.name[:14]:<14} | {label:<34} | failed: {res['error'][:80]}")
                continue
            t = statistics.median(res["times"])
            if cfg["engine"] == "native" and cfg["threads"] == 1:
                native_1t[cfg["fmt"]] = t
            base = native_1t.get(cfg.get("fmt", ""))
            ratio = f"{t / base:8.2f}x" if base else f"{'':>9}"
            w = f"{wer(reference, res['text']).rate * 100:5.1f}%" if reference else "   n/a"
            print(
                f"| {clip.name[:14]:<14} | {label:<34} | {t:7.2f} | {t / duration:6.3f} | {ratio} | "
                f"{res['peak_memory'] / 2**20:8.0f} | {w} |",
                flush=True,
            )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

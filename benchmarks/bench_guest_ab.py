"""Two (or more) guest builds side by side on Whisper: same transcripts? peak memory, CPU time.

    .venv/bin/python benchmarks/bench_guest_ab.py before=/tmp/old.wasm after=rmstudio/_guest/rm_executor.wasm
    .venv/bin/python benchmarks/bench_guest_ab.py a=A.wasm b=B.wasm --clips jfk --rounds 3   # flag A/B
    .venv/bin/python benchmarks/bench_guest_ab.py a=A.wasm b=B.wasm --clips jfk-x48 babble60 \\
        --configs greedy beam5 bestof5 --formats q8_0 f16
    .venv/bin/python benchmarks/bench_guest_ab.py native=native wasm=rmstudio/_guest/rm_executor.wasm \\
        --clips jfk --formats q8_0 f16 --rounds 5 --warm      # sandbox vs native, interleaved
    .venv/bin/python benchmarks/bench_guest_ab.py native=native wasm=rmstudio/_guest/rm_executor.wasm \\
        ceiling=rmstudio/_guest/rm_executor.wasm --without-epoch-checks ceiling \\
        --clips jfk --formats q8_0 f16 --rounds 5 --warm      # what the epoch checks cost

For changes to the guest build (recipe patches, compiler flags) that must not change what the
guest computes. Each clip is cut into windows as ``transcribe_file`` cuts it (each window a
fresh guest, the request prepared the same way), and every window runs on every build, the
builds interleaved within each round. Printed per clip, decoding setting and weight format:

* whether each build's transcript (text and every segment's start, end and text) is
  identical to the first build's;
* the peak linear memory of the guest (the largest over the windows);
* CPU time of the host thread that runs the guests (``time.thread_time()``: wasmtime runs the
  guest on the calling thread, so this counts the guest's work and little of the shared
  machine's noise), one figure per round.

``LABEL=native`` adds native whisper.cpp (the reference executor, one thread, on the same
thread, its model kept loaded between runs), so the sandbox/native ratio is measured with the
two interleaved rather than minutes apart. ``--warm`` runs the builds in warm guests (the
model loaded once, as the app does; needs ``rm_executor.reactor.wasm`` beside the module, so
keep each build in its own directory), otherwise each window gets a fresh instance and its
time includes loading the model. ``--without-epoch-checks LABEL...`` compiles those builds
without wasmtime's epoch checks (the app cannot: they are how it times out and cancels a
guest), which measures what the checks cost: the ceiling of any fix for their overhead.

Clips: ``jfk`` (samples/jfk.wav), ``jfk-xN`` (jfk.wav N times with 1.5 s pauses, as
bench_whisper.py's long clip), ``mixS`` (S seconds of jfk, jfk reversed and noise in turn),
``babbleS`` (S seconds of quiet, overlapping copies of jfk over noise: tiny.en falls back to
higher temperatures there), or a 16 kHz mono audio file.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np
import soundfile as sf

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
sys.path.insert(0, str(REPO / "runtime"))

RATE = 16000
CONFIGS = {
    "greedy": {},
    "beam5": {"beam_size": 5},
    "bestof5": {"best_of": 5},
}


def make_clip(name: str) -> np.ndarray:
    import sources

    jfk, rate = sf.read(sources.jfk_wav(), dtype="float32")
    assert rate == RATE
    if name == "jfk":
        return jfk
    if name.startswith("jfk-x"):
        unit = np.concatenate([jfk, np.zeros(int(1.5 * RATE), np.float32)])
        return np.tile(unit, int(name[5:]))
    if name.startswith("mix"):
        rng = np.random.default_rng(0)
        n = int(float(name[3:]) * RATE)
        parts: list[np.ndarray] = []
        while sum(p.size for p in parts) < n:
            parts += [jfk, jfk[::-1], (0.05 * rng.standard_normal(3 * RATE)).astype(np.float32)]
        return np.concatenate(parts)[:n]
    if name.startswith("babble"):
        rng = np.random.default_rng(1)
        seconds = float(name[6:])
        n = int(seconds * RATE)
        out = (0.01 * rng.standard_normal(n)).astype(np.float32)
        for k in range(int(seconds / 3)):
            start = int(k * 3.1 * RATE) % n
            piece = jfk[: min(jfk.size, n - start)] * (0.3 + 0.4 * rng.random())
            out[start : start + piece.size] += piece
        return out
    data, rate = sf.read(name, dtype="float32")
    if rate != RATE or data.ndim != 1:
        raise SystemExit(f"{name}: give 16 kHz mono audio")
    return data


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("builds", nargs="+", help="LABEL=path/to/rm_executor.wasm (the first is the reference)")
    ap.add_argument("--clips", nargs="+", default=["jfk", "jfk-x10"])
    ap.add_argument("--configs", nargs="+", default=["greedy"], choices=sorted(CONFIGS))
    ap.add_argument("--formats", nargs="+", default=["q8_0"], choices=["q8_0", "f16"])
    ap.add_argument("--rounds", type=int, default=1)
    ap.add_argument("--max-window", type=float, default=None, help="seconds (default: transcribe_file's)")
    ap.add_argument("--warm", action="store_true", help="warm guests (model loaded once), not fresh ones")
    ap.add_argument(
        "--without-epoch-checks",
        nargs="+",
        default=[],
        metavar="LABEL",
        help="compile these builds without epoch checks (a ceiling, not a sandbox the app runs)",
    )
    args = ap.parse_args()

    from rmstudio.core import models
    from rmstudio.core.audio.load import Audio
    from rmstudio.core.audio.windows import DEFAULT_MAX_WINDOW_S, plan_windows
    from rmstudio.core.engine.host import WasmEngine
    from rmstudio.core.engine.runtime_locator import REACTOR_NAME, GuestRuntime
    from rmstudio.core.execute import execute
    from rmstudio.core.manifest.document import ManifestDocument
    from rmstudio.core.prepare import prepare_run
    from rmstudio.core.transcribe import WhisperOptions, default_manifest, transcript_in

    labels = [spec.partition("=")[0] for spec in args.builds]
    if unknown := sorted(set(args.without_epoch_checks) - set(labels)):
        raise SystemExit(f"--without-epoch-checks: no build labelled {', '.join(unknown)}")
    engines: dict[str, WasmEngine | None] = {}  # None: native whisper.cpp
    for spec in args.builds:
        label, _, path = spec.partition("=")
        if path == "native":
            engines[label] = None
            continue
        if not path or not Path(path).is_file():
            raise SystemExit(f"{spec}: expected LABEL=path/to/rm_executor.wasm")
        # A reactor of the same build beside the module (as the build writes it) serves --warm.
        beside = Path(path).with_name(REACTOR_NAME)
        info = {"reactor": {"file": REACTOR_NAME}} if args.warm and beside.is_file() else {}
        if args.warm and not info:
            raise SystemExit(f"{spec}: --warm needs {REACTOR_NAME} beside the module")
        epoch_checks = label not in args.without_epoch_checks
        engines[label] = WasmEngine(GuestRuntime(Path(path), info), epoch_checks=epoch_checks)
        engines[label].load()  # compile (or load from the cache) outside the timed runs
    # With models kept loaded, a first untimed round loads them (the app's first run).
    warmup = 1 if args.warm or None in engines.values() else 0
    max_window = args.max_window or DEFAULT_MAX_WINDOW_S
    for fmt in args.formats:
        model = str(models.default_model(quant=fmt).path)
        for clip_name in args.clips:
            samples = make_clip(clip_name)
            windows = plan_windows(samples, RATE, max_window)
            for config in args.configs:
                manifest = default_manifest(WhisperOptions(model=model, language="en"))
                manifest["nodes"][-1]["params"].update(CONFIGS[config])
                doc = ManifestDocument(manifest)
                transcripts: dict[str, list] = {label: [] for label in engines}
                peaks = dict.fromkeys(engines, 0)
                cpu: dict[str, list[float]] = {label: [] for label in engines}
                for round_ in range(warmup + args.rounds):
                    for label, engine in engines.items():
                        spent = 0.0
                        for w in windows:
                            audio = Audio(samples[w.start : w.end].reshape(-1, 1), RATE)
                            kind = "wasm" if engine is not None else "native"
                            start = w.start / RATE
                            with prepare_run(doc, audio=audio, start_time=start, engine=kind) as prepared:
                                t0 = time.thread_time()
                                if engine is None:
                                    result = execute(prepared.request, "native")
                                else:
                                    result = engine.run(prepared.request, warm=args.warm)
                                spent += time.thread_time() - t0
                            if not result.ok:
                                raise SystemExit(f"{label}, {clip_name}, {config}: {result.error.describe()}")
                            if args.warm and engine is not None and round_ >= warmup:
                                assert result.host.get("warm") == "reused", result.host  # model not reloaded
                            peaks[label] = max(peaks[label], result.host.get("peak_memory_bytes", 0))
                            if round_ == 0:
                                tr = transcript_in(result) or {}
                                segments = [(s["start"], s["end"], s["text"]) for s in tr.get("segments", [])]
                                transcripts[label].append((tr.get("text"), segments))
                        if round_ >= warmup:
                            cpu[label].append(round(spent, 2))
                reference = transcripts[next(iter(engines))]
                row = {
                    "format": fmt,
                    "clip": clip_name,
                    "seconds": round(samples.size / RATE, 1),
                    "windows": len(windows),
                    "config": config,
                    "identical": {label: t == reference for label, t in transcripts.items()},
                    "peak_mib": {label: round(p / 2**20, 1) for label, p in peaks.items()},
                    "cpu_s": cpu,
                }
                print(json.dumps(row), flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

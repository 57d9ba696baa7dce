"""Weight formats of tiny.en side by side: file size, sandbox CPU time on jfk.wav, WER.

    .venv/bin/python benchmarks/bench_quantize.py               # every format once, interleaved
    .venv/bin/python benchmarks/bench_quantize.py --rounds 3 --formats q8_0 q5_1

Why: the store's default format (q8_0) should be chosen by numbers. The bundled tiny.en is
converted to f16 into a temporary store, every other format is made from it by the guest's
quantizer (``rmstudio models quantize``), then each round transcribes jfk.wav once with every
format in turn (interleaved, so the shared machine's load drifts over all formats alike).
Time is ``time.thread_time()`` around ``transcribe_file``: CPU seconds of the thread that runs
the guest, which wall time on a busy machine would blur. It includes loading the model.
"""

from __future__ import annotations

import argparse
import statistics
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
FORMATS = ("f16", "q8_0", "q5_1", "q5_0", "q4_1", "q4_0")


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--formats", nargs="+", default=list(FORMATS), choices=FORMATS)
    ap.add_argument("--rounds", type=int, default=1, help="transcriptions per format (interleaved)")
    args = ap.parse_args()

    import sources

    from rmstudio.core.engine import default_engine
    from rmstudio.core.metrics.wer import wer
    from rmstudio.core.models import ModelStore, quantize_model
    from rmstudio.core.models.store import default_ct2_dir
    from rmstudio.core.transcribe import WhisperOptions, transcribe_file

    jfk = sources.whisper_source_dir() / "samples" / "jfk.wav"
    engine = default_engine()
    with tempfile.TemporaryDirectory(prefix="bench-quantize-") as tmp:
        store = ModelStore(Path(tmp) / "models")
        base = store.convert(default_ct2_dir(), quant="f16", name="tiny.en")
        paths = {"f16": base.path}
        made: dict[str, float] = {}
        for fmt in args.formats:
            if fmt == "f16":
                continue
            t0 = time.perf_counter()
            result = quantize_model("tiny.en", fmt, store=store, engine=engine)
            made[fmt] = time.perf_counter() - t0
            paths[fmt] = result.model.path
            print(f"quantized to {fmt} in {made[fmt]:.2f} s")

        cpu: dict[str, list[float]] = {f: [] for f in args.formats}
        texts: dict[str, list[str]] = {f: [] for f in args.formats}
        peak: dict[str, int] = {}
        transcribe_file(jfk, WhisperOptions(model=str(paths[args.formats[0]])))  # warm: module compile
        for r in range(args.rounds):
            for fmt in args.formats:
                t0 = time.thread_time()
                job = transcribe_file(jfk, WhisperOptions(model=str(paths[fmt])))
                cpu[fmt].append(time.thread_time() - t0)
                if job.transcript is None:
                    print(f"{fmt}: failed: {job.result.error}")
                    return 1
                texts[fmt].append(job.transcript["text"])
                peak[fmt] = max(peak.get(fmt, 0), int(job.result.host.get("peak_memory_bytes") or 0))
                print(f"round {r + 1} {fmt}: {cpu[fmt][-1]:.2f} s  {job.transcript['text']!r}", flush=True)

        print()
        print("| format | file size | sandbox CPU s (jfk.wav) | vs q8_0 | peak MiB | WER | quantize s |")
        print("|---|---:|---:|---:|---:|---:|---:|")
        ref = statistics.median(cpu["q8_0"]) if "q8_0" in cpu else None
        for fmt in args.formats:
            t = statistics.median(cpu[fmt])
            rates = [wer(JFK_TEXT, text).rate for text in texts[fmt]]
            ratio = f"{t / ref:.2f}x" if ref else "–"
            runs = " / ".join(f"{x:.2f}" for x in cpu[fmt])
            size = paths[fmt].stat().st_size
            q = f"{made[fmt]:.2f}" if fmt in made else "–"
            mib = peak[fmt] / 2**20
            print(f"| {fmt} | {size:,} B | {runs} | {ratio} | {mib:.0f} | {max(rates):.1%} | {q} |")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

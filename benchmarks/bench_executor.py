"""Executor benchmark: everything measured side by side in one run, printed as one table.

    .venv/bin/python benchmarks/bench_executor.py [--repeat N]

Rows: cold start (compile the guest) vs warm start (compiled module from the disk cache),
the calculator end to end in the sandbox vs the numpy reference executor, and a 1M-element
float32 array passed as base64 typed array vs JSON numbers. Times are medians of N runs.
These are figures to read, not assertions: docs/PERFORMANCE.md records them.
"""

from __future__ import annotations

import argparse
import json
import platform
import statistics
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from rmstudio.core import native, typed_arrays  # noqa: E402
from rmstudio.core.engine import WasmEngine, locate, module_cache  # noqa: E402
from rmstudio.core.runs import RunRequest  # noqa: E402

CALC = json.loads((REPO / "resources" / "examples" / "calculator.json").read_text())


def median_ms(fn, repeat: int) -> float:
    samples = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        fn()
        samples.append((time.perf_counter() - t0) * 1000)
    return statistics.median(samples)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--repeat", type=int, default=15)
    args = ap.parse_args()
    runtime = locate()
    rows: list[tuple[str, float, str]] = []

    with tempfile.TemporaryDirectory() as tmp:
        cache = Path(tmp) / "modules"
        module_cache.module_cache_dir = lambda: cache  # a private cache: cold really is cold

        def start(use_cache: bool) -> None:
            engine = WasmEngine(runtime, use_cache=use_cache)
            result = engine.run(RunRequest(CALC, [5, 7, 3]))
            assert result.outputs == [20, 24, 16]

        def warm_load_only() -> None:
            WasmEngine(runtime).load()

        cold = median_ms(lambda: start(False), max(3, args.repeat // 5))
        start(True)  # fill the cache
        warm = median_ms(lambda: start(True), args.repeat)
        warm_load = median_ms(warm_load_only, args.repeat)
        rows += [
            ("cold start: compile guest + first calculator run", cold, ""),
            ("warm start: cached module + first calculator run", warm, f"{cold / warm:.0f}x faster"),
            ("  of which: load cached module + link", warm_load, "target < 20 ms"),
        ]

        engine = WasmEngine(runtime)
        engine.load()
        req = RunRequest(CALC, [5, 7, 3])
        wasm_calc = median_ms(lambda: engine.run(req), args.repeat)
        native_calc = median_ms(lambda: native.run(req), args.repeat)
        rows += [
            ("calculator end to end, WASM sandbox (warm)", wasm_calc, "target < 10 ms"),
            (
                "calculator end to end, native reference",
                native_calc,
                f"wasm/native {wasm_calc / native_calc:.1f}x",
            ),
        ]

        arr = np.random.default_rng(1).standard_normal(1_000_000).astype(np.float32)
        as_b64 = [typed_arrays.encode(arr)]
        as_json = [arr.astype(np.float64).tolist()]
        small_repeat = max(3, args.repeat // 3)
        for label, data, enc in (("base64 typed array", as_b64, "auto"), ("JSON numbers", as_json, "json")):
            request = RunRequest(CALC, data, {"array_encoding": enc})
            size = len(request.to_bytes())
            t_wasm = median_ms(lambda r=request: engine.run(r), small_repeat)
            t_native = median_ms(lambda r=request: native.run(r), small_repeat)
            rows.append((f"1M float32 as {label}, WASM ({size / 2**20:.1f} MiB request)", t_wasm, ""))
            rows.append((f"1M float32 as {label}, native", t_native, ""))
        b64_w, json_w = rows[-4][1], rows[-2][1]
        rows.append(("  JSON numbers / base64 (WASM)", json_w / b64_w, "ratio"))

    guest = runtime.build_info.get("sha256", "?")[:12]
    print(
        f"# RM Studio executor benchmark — {platform.processor() or platform.machine()}, "
        f"{platform.python_implementation()} {platform.python_version()}, guest {guest}"
    )
    print(f"# median of {args.repeat} runs (fewer for the slow rows)\n")
    print(f"| {'measurement':<62} | {'ms':>9} | note |")
    print(f"|{'-' * 64}|{'-' * 11}|------|")
    for label, value, note in rows:
        unit = f"{value:9.2f}" if note != "ratio" else f"{value:8.1f}x"
        print(f"| {label:<62} | {unit} | {note if note != 'ratio' else ''} |")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

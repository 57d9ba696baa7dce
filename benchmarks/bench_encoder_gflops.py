"""How close the sandbox's Whisper encoder gets to the arithmetic peak of WebAssembly SIMD.

    .venv/bin/python benchmarks/bench_encoder_gflops.py                 # q8_0 and f16, 5 rounds
    .venv/bin/python benchmarks/bench_encoder_gflops.py --formats f16 --rounds 3

Prints one table, every figure measured in this run on this machine:

* **Peak.** One C kernel, compiled three times with the pinned Zig toolchain: natively with
  AVX2 + FMA (8 floats, one fused instruction: what native whisper.cpp uses here); natively
  with 128-bit AVX and no FMA (4 floats, a multiply and an add: the hardware's limit for code
  without fused multiply-add, which WebAssembly 2.0 lacks); and for wasm32 with SIMD128, run
  under wasmtime with the sandbox's own engine settings (``engine_config()``, epoch checks
  included): what Cranelift makes of the same loop. Twelve independent ``acc = acc * m + c``
  chains, so the rate is bounded by throughput, not latency; the best of five runs.
* **Encoder.** One 30-s encoder pass of the same model file on jfk.wav: in the sandbox as
  whisper.cpp's own encoder clock reports it (the guest's run log line), natively by timing
  ``whisper_encode`` of the pywhispercpp wheel (the same whisper.cpp source) on one thread;
  the median of the rounds, sandbox and native interleaved. GFLOP/s counts the encoder's
  matrix products from the model's shape (below); norms, GELU and softmax are left out, so it
  is a slight undercount on both sides alike.

The ratio that matters is each encoder's share of its own peak: how much of the hardware the
code reaches in each world. What is left between native and sandbox beyond that is the peak
ratio itself (256-bit FMA against 128-bit multiply + add), which no guest code can change.
"""

from __future__ import annotations

import argparse
import ctypes
import re
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import soundfile as sf

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
sys.path.insert(0, str(REPO / "runtime"))

CHAINS = 12
REPEAT = 8
KERNEL = f"""
typedef float vf __attribute__((vector_size(LANES * 4)));

/* {CHAINS} independent chains, {REPEAT} steps each per iteration, so the loop's own overhead
   (and the sandbox's epoch check at its head) is a small share. m and c arrive at run time,
   so nothing is folded. Returns a checksum that keeps the work observable. */
float peak(long long iters, float m, float c) {{
    vf acc[{CHAINS}], vm, vc;
    for (int l = 0; l < LANES; l++) {{ vm[l] = m; vc[l] = c; }}
    for (int i = 0; i < {CHAINS}; i++)
        for (int l = 0; l < LANES; l++) acc[i][l] = 1.0f + 0.001f * (float) (i + l);
    for (long long k = 0; k < iters; k++)
#pragma clang loop unroll(full)
        for (int r = 0; r < {REPEAT}; r++)
            for (int i = 0; i < {CHAINS}; i++) acc[i] = acc[i] * vm + vc;
    float s = 0.0f;
    for (int i = 0; i < {CHAINS}; i++)
        for (int l = 0; l < LANES; l++) s += acc[i][l];
    return s;
}}
"""


def zig_cc(args: list[str]) -> None:
    done = subprocess.run([sys.executable, "-m", "ziglang", "cc", *args], capture_output=True, text=True)
    if done.returncode != 0:
        raise SystemExit(f"zig cc {' '.join(args)} failed:\n{done.stderr}")


def flops_per_call(iters: int, lanes: int) -> float:
    return float(iters) * REPEAT * CHAINS * lanes * 2  # a multiply and an add per lane and step


def best_rate(call, lanes: int) -> float:
    """GFLOP/s of the kernel, calibrated to about 0.4 s a run; the best of five."""
    iters = 20_000
    while True:
        t0 = time.thread_time()
        call(iters)
        spent = time.thread_time() - t0
        if spent > 0.05:
            break
        iters *= 4
    iters = max(1, int(iters * 0.4 / spent))
    rates = []
    for _ in range(5):
        t0 = time.thread_time()
        checksum = call(iters)
        spent = time.thread_time() - t0
        assert np.isfinite(checksum), checksum
        rates.append(flops_per_call(iters, lanes) / spent / 1e9)
    return max(rates)


def wasm_peak(source: Path) -> float:
    import wasmtime

    from rmstudio.core.engine.host import engine_config

    module_path = source.with_suffix(".wasm")
    zig_cc(["-target", "wasm32-freestanding", "-O2", "-msimd128", "-DLANES=4", "-nostdlib",
            "-Wl,--no-entry", "-Wl,--export=peak", str(source), "-o", str(module_path)])  # fmt: skip
    engine = wasmtime.Engine(engine_config())
    store = wasmtime.Store(engine)
    store.set_epoch_deadline(1 << 62)  # checked at every loop head as in the sandbox, never due
    instance = wasmtime.Instance(store, wasmtime.Module.from_file(engine, str(module_path)), [])
    fn = instance.exports(store)["peak"]
    return best_rate(lambda n: fn(store, n, 0.9999, 1e-4), 4)


def native_peak(source: Path, flags: list[str], lanes: int) -> float:
    lib_path = source.with_name(f"peak{lanes}.so")  # one name per build: dlopen reuses a loaded path
    zig_cc(["-O2", *flags, f"-DLANES={lanes}", "-shared", "-fPIC", str(source), "-o", str(lib_path)])
    lib = ctypes.CDLL(str(lib_path))
    lib.peak.restype = ctypes.c_float
    lib.peak.argtypes = [ctypes.c_longlong, ctypes.c_float, ctypes.c_float]
    return best_rate(lambda n: lib.peak(n, 0.9999, 1e-4), lanes)


def encoder_flops(n_ctx: int, state: int, layers: int, mels: int) -> float:
    """Multiply-adds x 2 of one encoder pass: two convolutions, then per layer the four
    attention projections, Q.K^T and the weighted sum of V, and the 4x-wide MLP."""
    conv = 2 * (2 * n_ctx) * state * (mels * 3) + 2 * n_ctx * state * (state * 3)
    layer = 4 * 2 * n_ctx * state * state + 2 * 2 * n_ctx * n_ctx * state + 2 * 2 * n_ctx * state * 4 * state
    return float(conv + layers * layer)


ENCODER_LOG = re.compile(r"encoder ([0-9.]+) ms per pass")


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--formats", nargs="+", default=["q8_0", "f16"], choices=["q8_0", "f16"])
    ap.add_argument("--rounds", type=int, default=5)
    args = ap.parse_args()

    import _pywhispercpp as pw
    import sources
    from pywhispercpp.model import Model

    from rmstudio.core import models
    from rmstudio.core.audio.load import Audio
    from rmstudio.core.engine.host import WasmEngine
    from rmstudio.core.engine.runtime_locator import locate
    from rmstudio.core.manifest.document import ManifestDocument
    from rmstudio.core.prepare import prepare_run
    from rmstudio.core.transcribe import WhisperOptions, default_manifest

    samples, rate = sf.read(sources.jfk_wav(), dtype="float32")
    assert rate == 16000 and samples.ndim == 1
    with tempfile.TemporaryDirectory() as tmp:
        source = Path(tmp) / "peak.c"
        source.write_text(KERNEL)
        peaks = {
            "native": native_peak(source, ["-mavx2", "-mfma"], 8),  # what native whisper.cpp uses here
            # The hardware's 128-bit limit without FMA, VEX-encoded like Cranelift's own code.
            "native128": native_peak(source, ["-mavx", "-mno-fma"], 4),
            "sandbox": wasm_peak(source),
        }
    engine = WasmEngine(locate())
    rows = []
    for fmt in args.formats:
        stored = models.default_model(quant=fmt)
        model_path, model_name = stored.path, stored.name.rsplit("-", 1)[0]
        native = Model(str(model_path), redirect_whispercpp_logs_to=None)
        ctx = native._ctx
        shape = [pw.whisper_model_n_audio_ctx(ctx), pw.whisper_model_n_audio_state(ctx),
                 pw.whisper_model_n_audio_layer(ctx), pw.whisper_model_n_mels(ctx)]  # fmt: skip
        flops = encoder_flops(*shape)
        doc = ManifestDocument(default_manifest(WhisperOptions(model=str(model_path), language="en")))
        audio = Audio(samples.reshape(-1, 1), 16000)
        times: dict[str, list[float]] = {"sandbox": [], "native": []}
        for round_ in range(args.rounds + 1):  # round 0 loads the models, untimed
            events: list[dict] = []
            with prepare_run(doc, audio=audio, start_time=0.0, engine="wasm") as prepared:
                result = engine.run(prepared.request, events.append, warm=True)
            if not result.ok:
                raise SystemExit(f"sandbox, {fmt}: {result.error.describe()}")
            found = [ENCODER_LOG.search(e.get("message", "")) for e in events if e.get("event") == "log"]
            found = [m for m in found if m]
            if not found:
                raise SystemExit("the guest's run log has no encoder timing: rebuild it (runtime/build.py)")
            if pw.whisper_pcm_to_mel(ctx, samples, samples.size, 1) != 0:
                raise SystemExit("whisper_pcm_to_mel failed")
            t0 = time.perf_counter()
            if pw.whisper_encode(ctx, 0, 1) != 0:
                raise SystemExit("whisper_encode failed")
            native_ms = (time.perf_counter() - t0) * 1000
            if round_:
                times["sandbox"].append(float(found[-1].group(1)))
                times["native"].append(native_ms)
        del native
        for side in ("native", "sandbox"):
            ms = statistics.median(times[side])
            rows.append((fmt, side, ms, flops / (ms / 1000) / 1e9))

    print(f"one encoder pass of {model_name}: {flops / 1e9:.2f} GFLOP of matrix products")
    print()
    print("| kernel | GFLOP/s |")
    print("|---|---:|")
    print(f"| native AVX2 + FMA, 256-bit (native whisper.cpp's) | {peaks['native']:.1f} |")
    print(f"| native 128-bit multiply + add (the hardware's limit without FMA) | {peaks['native128']:.1f} |")
    print(f"| sandbox SIMD128 under wasmtime, epoch checks on | {peaks['sandbox']:.1f} |")
    print()
    print("| weights | side | encoder pass ms | GFLOP/s | of 256-bit FMA | of 128-bit | of sandbox peak |")
    print("|---|---|---:|---:|---:|---:|---:|")
    for fmt, side, ms, rate in rows:
        shares = [f"{rate / peaks[k]:.0%}" for k in ("native", "native128", "sandbox")]
        if side == "native":
            shares[1:] = ["", ""]
        print(f"| {fmt} | {side} | {ms:.0f} | {rate:.1f} | {' | '.join(shares)} |")
    for fmt in args.formats:
        native_ms, sandbox_ms = (ms for f, _, ms, _ in rows if f == fmt)
        print(f"{fmt}: sandbox/native encoder time {sandbox_ms / native_ms:.2f}x; ", end="")
        print(f"peak ratios: 256-bit FMA/128-bit {peaks['native'] / peaks['native128']:.2f}x, "
              f"256-bit FMA/sandbox {peaks['native'] / peaks['sandbox']:.2f}x")  # fmt: skip
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

"""ggml's q8_0 weight format, produced in numpy bit for bit as ggml's reference quantizer does.

Why q8_0 at all: whisper.cpp in the wasm sandbox multiplies f16 weights one value at a
time (ggml's wasm path has no vector f16 load), while q8_0 dot products have wasm SIMD
kernels, so q8_0 runs several times faster there at no loss we could measure on speech.

A q8_0 block holds 32 values: a float16 scale ``d`` followed by 32 int8 ``q`` with
``value ≈ d * q``. ggml's ``quantize_row_q8_0_ref`` computes, all in float32:
``amax = max |x|``, ``d = amax / 127``, ``id = 1/d`` (0 when d is 0), ``q = roundf(x * id)``
(round half away from zero, unlike numpy's round-half-to-even), and stores ``d`` rounded
to float16 (round to nearest even, which numpy's float16 cast also does). Reproducing those
exact float32 steps makes our files identical to what whisper.cpp's own quantizer writes.
"""

from __future__ import annotations

import numpy as np

QK8_0 = 32
Q8_0_BLOCK = np.dtype([("d", "<f2"), ("qs", "i1", (QK8_0,))])  # 34 bytes, no padding


def _round_half_away(x: np.ndarray) -> np.ndarray:
    """C's roundf for float32 input: exact, because |x| + 0.5 is exact in float64."""
    mag = np.floor(np.abs(x).astype(np.float64) + 0.5)
    return np.copysign(mag, x)


def quantize_q8_0(values: np.ndarray) -> np.ndarray:
    """Quantize to q8_0 blocks; ``values.size`` must be a multiple of 32 and all finite.

    Returns a structured array of :data:`Q8_0_BLOCK` (``.tobytes()`` is the file layout).
    Blocks run over the flattened C-order data, i.e. along ggml rows.
    """
    x = np.ascontiguousarray(values, dtype=np.float32).reshape(-1)
    if x.size % QK8_0:
        raise ValueError(f"q8_0 needs a multiple of {QK8_0} values, got {x.size}")
    if not np.isfinite(x).all():
        raise ValueError("q8_0 input contains NaN or infinity")
    blocks = x.reshape(-1, QK8_0)
    amax = np.abs(blocks).max(axis=1)
    d = amax / np.float32(127)
    inv = np.zeros_like(d)
    np.divide(np.float32(1), d, out=inv, where=d != 0)
    scaled = blocks * inv[:, None]  # float32 product, like the C loop
    out = np.empty(blocks.shape[0], dtype=Q8_0_BLOCK)
    out["d"] = d.astype(np.float16)
    out["qs"] = _round_half_away(scaled).astype(np.int8)
    return out


def dequantize_q8_0(blocks: np.ndarray | bytes) -> np.ndarray:
    """float32 values back from q8_0 blocks (``d * q``), e.g. to measure quantization error."""
    arr = np.frombuffer(blocks, dtype=Q8_0_BLOCK) if isinstance(blocks, bytes | bytearray) else blocks
    return (arr["d"].astype(np.float32)[:, None] * arr["qs"].astype(np.float32)).reshape(-1)

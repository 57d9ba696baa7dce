"""Channel conversion and band-limited resampling: the reference for the guest's C++.

This module is the numpy side of docs/CONTRACT.md, "Audio node semantics" (AudioTransform)
and the resampler specification. The guest implements the same algorithm from the same
text; the two agree within 2e-6 absolute per sample. Read it top to bottom:

1. :func:`convert_channels` -- mean downmix in double (channels summed in order, then
   divided by their count), or mono copied to every channel.
2. :func:`plan` -- the rate ratio reduced to ``L/M``, the cutoff ``c``, the kernel reach.
3. :func:`kernel` and :func:`phase_taps` -- the windowed-sinc taps of every phase,
   normalised to sum to 1.
4. :func:`resample_naive` -- the specification transcribed literally, one output sample at
   a time (slow; tests and the C++ author use it as the readable definition).
5. :func:`resample` -- the same arithmetic, vectorised; what the reference executor runs.

Definitions (all arithmetic in double):

* ``L/M = out_rate/in_rate`` reduced by their gcd. Output sample ``n`` sits at input position
  ``t = n·M/L``, i.e. at input index ``i0 = (n·M) div L`` plus the fraction ``p/L`` with
  phase ``p = (n·M) mod L``.
* ``c = 0.97 · min(1, L/M)``: the cutoff as a fraction of the input Nyquist frequency.
* ``Z`` zero crossings (24 for quality ``high``, 16 ``medium``, 8 ``low``); the kernel reaches
  ``R = Z / c`` input samples to each side.
* ``h(u) = c · sinc(c·u) · kaiser(u / R, β = 8)`` for ``|u| < R``, else 0, with
  ``sinc(x) = sin(πx)/(πx)`` and ``kaiser(x) = I0(β·sqrt(1 − x²)) / I0(β)``.
* ``y[n] = Σ_j x[i0 + j] · h(p/L − j) / Σ_j h(p/L − j)`` over the integers ``j`` with
  ``|p/L − j| < R``; ``x`` is zero outside ``[0, frames)``. The normalising sum runs over all
  of the phase's taps, including those that fall outside the signal (the edges therefore fade
  in and out exactly as a zero-padded signal would).
* ``len(y) = ceil(frames · L / M)``; ``y`` is rounded to float32 once, at the end.
* Equal rates: the samples pass through untouched (no filtering at all).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

QUALITY_ZERO_CROSSINGS: dict[str, int] = {"low": 8, "medium": 16, "high": 24}
KAISER_BETA = 8.0
CUTOFF = 0.97

# The vectorised path multiplies blocks of input by a dense (L x window) matrix when that
# matrix is small; otherwise it gathers taps per output sample (unusual, coprime-ish rates).
_DENSE_MAX_ELEMENTS = 1 << 22
# Working-set size (in doubles) of one block in either path.
_BLOCK_ELEMENTS = 1 << 21


@dataclass(frozen=True)
class ResamplePlan:
    """Everything about a rate conversion that does not depend on the samples."""

    in_rate: int
    out_rate: int
    up: int  # L
    down: int  # M
    zero_crossings: int  # Z
    cutoff: float  # c
    reach: float  # R = Z / c, in input samples

    @property
    def passthrough(self) -> bool:
        return self.up == self.down

    def output_length(self, frames: int) -> int:
        """``ceil(frames · L / M)`` in exact integer arithmetic."""
        return -(-frames * self.up // self.down)


def plan(in_rate: int, out_rate: int, quality: str = "high") -> ResamplePlan:
    """The reduced ratio and kernel constants for converting ``in_rate`` to ``out_rate``."""
    if in_rate <= 0 or out_rate <= 0:
        raise ValueError(f"sample rates must be positive (got {in_rate} -> {out_rate})")
    if quality not in QUALITY_ZERO_CROSSINGS:
        raise ValueError(f"quality must be one of {', '.join(QUALITY_ZERO_CROSSINGS)}, not {quality!r}")
    g = math.gcd(int(in_rate), int(out_rate))
    up, down = int(out_rate) // g, int(in_rate) // g
    zeros = QUALITY_ZERO_CROSSINGS[quality]
    # Written exactly as the C++ computes it: the division first, then the product.
    cutoff = CUTOFF * min(1.0, up / down)
    return ResamplePlan(int(in_rate), int(out_rate), up, down, zeros, cutoff, zeros / cutoff)


def kernel(u: np.ndarray, p: ResamplePlan) -> np.ndarray:
    """``h(u)`` (not yet normalised) for an array of offsets ``u`` in input samples."""
    u = np.asarray(u, dtype=np.float64)
    inside = np.abs(u) < p.reach
    x = np.where(inside, u / p.reach, 0.0)
    window = np.i0(KAISER_BETA * np.sqrt(1.0 - x * x)) / np.i0(KAISER_BETA)
    return np.where(inside, p.cutoff * np.sinc(p.cutoff * u) * window, 0.0)


def tap_range(p: ResamplePlan) -> tuple[int, int]:
    """The smallest and largest ``j`` any phase can use (``-R < p/L - j < R``, ``0 <= p/L < 1``)."""
    return math.floor(-p.reach), math.floor(p.reach) + 1


def phase_taps(p: ResamplePlan, phases: np.ndarray) -> np.ndarray:
    """Normalised taps, one row per phase: ``row[j - jlo]`` weighs ``x[i0 + j]``.

    Entries for ``j`` outside a phase's own reach are exactly zero.
    """
    jlo, jhi = tap_range(p)
    j = np.arange(jlo, jhi + 1, dtype=np.float64)
    frac = np.asarray(phases, dtype=np.float64)[:, None] / p.up
    taps = kernel(frac - j[None, :], p)
    return taps / taps.sum(axis=1, keepdims=True)


# --------------------------------------------------------------------------------------------
# The specification, literally. O(frames · taps) Python operations: for tests only.
# --------------------------------------------------------------------------------------------


def bessel_i0(x: float) -> float:
    """The modified Bessel function I0 by its power series ``Σ ((x/2)^k / k!)^2``.

    For the arguments used here (0 <= x <= 8) the terms fall below 1e-17 of the sum after
    about 30 steps; numpy's ``np.i0`` (a Chebyshev approximation) agrees to ~1e-16 relative.
    """
    term = total = 1.0
    q = (x / 2.0) ** 2
    k = 0
    while term > 1e-17 * total:
        k += 1
        term *= q / (k * k)
        total += term
    return total


def resample_naive(x: np.ndarray, in_rate: int, out_rate: int, quality: str = "high") -> np.ndarray:
    """One channel, one output sample at a time, straight from the definition (float64 out)."""
    p = plan(in_rate, out_rate, quality)
    x = np.asarray(x, dtype=np.float64)
    frames = len(x)
    if p.passthrough:
        return x.copy()
    out = np.zeros(p.output_length(frames), dtype=np.float64)
    i0_beta = bessel_i0(KAISER_BETA)
    for n in range(len(out)):
        i0, phase = divmod(n * p.down, p.up)
        frac = phase / p.up
        weights = []
        for j in range(math.floor(frac - p.reach), math.ceil(frac + p.reach) + 1):
            u = frac - j
            if abs(u) >= p.reach:
                continue
            cu = p.cutoff * u
            sinc = 1.0 if cu == 0 else math.sin(math.pi * cu) / (math.pi * cu)
            r = u / p.reach
            window = bessel_i0(KAISER_BETA * math.sqrt(1.0 - r * r)) / i0_beta
            weights.append((i0 + j, p.cutoff * sinc * window))
        total = sum(w for _, w in weights)
        out[n] = sum(x[k] * w for k, w in weights if 0 <= k < frames) / total
    return out


# --------------------------------------------------------------------------------------------
# The vectorised implementation.
# --------------------------------------------------------------------------------------------


def resample_channel(x: np.ndarray, p: ResamplePlan) -> np.ndarray:
    """Resample one channel (any float dtype) with plan ``p``; float64 result, not rounded."""
    x = np.asarray(x)  # converted to double while it is copied into the zero-padded buffer
    if p.passthrough:
        return x.astype(np.float64)
    n_out = p.output_length(len(x))
    if n_out == 0:
        return np.zeros(0, dtype=np.float64)
    jlo, jhi = tap_range(p)
    n_taps = jhi - jlo + 1
    # Rows of k·L outputs; k makes a row advance by at least one kernel length of input, so
    # that copying the (overlapping) input windows stays cheap when M is small.
    k = max(1, -(-n_taps // p.down))
    window = ((k * p.up - 1) * p.down) // p.up + n_taps
    if k * p.up * window <= _DENSE_MAX_ELEMENTS:
        return _resample_dense(x, p, n_out, jlo, n_taps, k, window)
    return _resample_gather(x, p, n_out, jlo, n_taps)


def _padded(x: np.ndarray, left: int, total: int) -> np.ndarray:
    """``x`` placed at offset ``left`` in a zero array of length ``max(total, left + len(x))``."""
    out = np.zeros(max(total, left + len(x)), dtype=np.float64)
    out[left : left + len(x)] = x
    return out


def _resample_dense(
    x: np.ndarray, p: ResamplePlan, n_out: int, jlo: int, n_taps: int, k: int, window: int
) -> np.ndarray:
    """Outputs in rows of ``k·L``: row ``m`` holds ``y[m·kL + r]`` for ``r`` in ``[0, kL)``.

    Output ``m·kL + r`` reads ``x[m·kM + (r·M) div L + j]`` with the taps of phase
    ``(r·M) mod L``, so every row reads the same ``window`` input samples relative to
    ``m·kM``, and one matrix ``G`` (kL x window; row ``r`` holds that phase's taps at offset
    ``(r·M) div L``) turns a block of rows of input into a block of rows of output.
    """
    row_out, row_in = k * p.up, k * p.down
    r = np.arange(row_out, dtype=np.int64)
    offsets = (r * p.down) // p.up
    taps = phase_taps(p, (r * p.down) % p.up)  # (kL, n_taps)
    G = np.zeros((row_out, window), dtype=np.float64)
    G[r[:, None], offsets[:, None] + np.arange(n_taps)[None, :]] = taps
    Gt = np.ascontiguousarray(G.T)
    n_rows = -(-n_out // row_out)
    # xp[q] = x[q + jlo]: row m starts at xp[m·kM].
    xp = _padded(x, -jlo, (n_rows - 1) * row_in + window)
    rows_per_block = max(1, _BLOCK_ELEMENTS // window)
    out = np.empty(n_rows * row_out, dtype=np.float64)
    for m0 in range(0, n_rows, rows_per_block):
        m1 = min(n_rows, m0 + rows_per_block)
        span = xp[m0 * row_in : (m1 - 1) * row_in + window]
        block = np.lib.stride_tricks.sliding_window_view(span, window)[::row_in]
        out[m0 * row_out : m1 * row_out] = (np.ascontiguousarray(block) @ Gt).ravel()
    return out[:n_out]


def _resample_gather(x: np.ndarray, p: ResamplePlan, n_out: int, jlo: int, n_taps: int):
    """Fallback for large ``L``: gather each output's taps and inputs explicitly."""
    L, M = p.up, p.down
    # xp[q] = x[q + jlo]
    last_i0 = ((n_out - 1) * M) // L
    xp = _padded(x, -jlo, last_i0 + n_taps)
    # A table of every phase's taps pays off when there are more outputs than phases.
    table = phase_taps(p, np.arange(L)) if n_out > L and L * n_taps <= _DENSE_MAX_ELEMENTS else None
    out = np.empty(n_out, dtype=np.float64)
    step = max(1, _BLOCK_ELEMENTS // n_taps)
    windows = np.lib.stride_tricks.sliding_window_view(xp, n_taps)  # windows[i] = x[i + jlo ...]
    for n0 in range(0, n_out, step):
        n = np.arange(n0, min(n_out, n0 + step), dtype=np.int64)
        i0, phase = np.divmod(n * M, L)
        weights = table[phase] if table is not None else phase_taps(p, phase)
        out[n0 : n0 + len(n)] = np.einsum("ij,ij->i", windows[i0], weights)
    return out


def resample(samples: np.ndarray, in_rate: int, out_rate: int, quality: str = "high") -> np.ndarray:
    """Resample ``samples`` (frames,) or (frames, channels); float32 result, same layout.

    Equal rates return the samples unchanged (as float32).
    """
    p = plan(in_rate, out_rate, quality)
    a = np.asarray(samples)
    if p.passthrough:
        return a.astype(np.float32, copy=False)
    if a.ndim == 1:
        return resample_channel(a, p).astype(np.float32)
    if a.ndim != 2:
        raise ValueError(f"samples must be (frames,) or (frames, channels), not shape {a.shape}")
    out = np.empty((p.output_length(a.shape[0]), a.shape[1]), dtype=np.float32)
    for ch in range(a.shape[1]):
        out[:, ch] = resample_channel(a[:, ch], p)
    return out


def convert_channels(samples: np.ndarray, channels: int) -> np.ndarray:
    """(frames, C) -> (frames, channels) in float64.

    Same count: unchanged. To mono: the mean of the channels, computed in double. From mono:
    the channel copied to every output channel. Between two multichannel layouts (2 -> 6,
    6 -> 2): mixed to mono first, then copied -- no speaker-layout matrixing is implied.
    """
    a = np.asarray(samples)
    if a.ndim != 2:
        raise ValueError(f"samples must be (frames, channels), not shape {a.shape}")
    if channels < 1:
        raise ValueError("channels must be at least 1")
    have = a.shape[1]
    if have == channels:
        return a.astype(np.float64, copy=False)
    # Channels are added in order (c0 + c1 + ...) in double, then divided by their count.
    mono = a[:, 0].astype(np.float64)
    for c in range(1, have):
        mono += a[:, c]
    if have > 1:
        mono /= have
    return mono[:, None] if channels == 1 else np.repeat(mono[:, None], channels, axis=1)


def transform(
    samples: np.ndarray, in_rate: int, out_rate: int, channels: int, quality: str = "high"
) -> np.ndarray:
    """AudioTransform on (frames, C) samples: channel conversion, then resampling; float32.

    With equal channel counts and rates the input comes back bit-identical (as float32).
    Channel conversion is kept in double until the single final rounding.
    """
    a = np.asarray(samples)
    if a.ndim != 2:
        raise ValueError(f"samples must be (frames, channels), not shape {a.shape}")
    if channels < 1:
        raise ValueError("channels must be at least 1")
    p = plan(in_rate, out_rate, quality)
    if a.shape[1] == channels:
        if p.passthrough:
            return a.astype(np.float32, copy=False)
        out = np.empty((p.output_length(a.shape[0]), channels), dtype=np.float32)
        for ch in range(channels):
            out[:, ch] = resample_channel(a[:, ch], p)
        return out
    # Different channel count: every output channel is the same mono signal (the input's one
    # channel, or the mean of its channels in double), so it is resampled once and copied.
    mono = convert_channels(a, 1)[:, 0]
    if not p.passthrough:
        mono = resample_channel(mono, p)
    mono32 = mono.astype(np.float32)[:, None]
    return mono32 if channels == 1 else np.repeat(mono32, channels, axis=1)

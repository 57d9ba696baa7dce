"""The band-limited resampler and channel conversion (docs/CONTRACT.md, "Audio").

Three kinds of checks: the vectorised code against the literal transcription of the spec
(``resample_naive``) and against a few outputs computed here from the formula alone; signal
quality measured from the outside (passband gain, stopband attenuation, DC gain, timing,
a real speech round trip); and the exact rules (lengths, pass-through, channel mixing).
"""

from __future__ import annotations

import math

import numpy as np
import pytest
import soundfile as sf
from hypothesis import given, settings
from hypothesis import strategies as st

from rmstudio.core.audio import resample as rs

RATE_PAIRS = [
    (16000, 44100),
    (44100, 16000),
    (48000, 16000),
    (16000, 48000),
    (44100, 48000),
    (22050, 16000),
    (8000, 11025),
    (96000, 16000),
    (44100, 16001),  # L = 16001: the gather path
    (997, 1000),
    (3, 7),
]


def _fit(y: np.ndarray, freq: float, rate: int) -> tuple[float, float]:
    """Amplitude of the best-fitting sine at ``freq`` and the RMS of what is left over."""
    n = np.arange(len(y))
    basis = np.stack([np.sin(2 * np.pi * freq * n / rate), np.cos(2 * np.pi * freq * n / rate)], axis=1)
    coef, *_ = np.linalg.lstsq(basis, y, rcond=None)
    residual = y - basis @ coef
    return float(np.hypot(*coef)), float(np.sqrt(np.mean(residual**2)))


def _sine(freq: float, rate: int, seconds: float, amplitude: float = 0.5) -> np.ndarray:
    n = np.arange(int(rate * seconds))
    return amplitude * np.sin(2 * np.pi * freq * n / rate)


def _interior(y: np.ndarray) -> np.ndarray:
    cut = len(y) // 8
    return y[cut:-cut].astype(np.float64)


# ---------------------------------------------------------------------------- the rules


def test_plan_reduces_the_ratio_and_sets_the_kernel():
    p = rs.plan(44100, 16000)
    assert (p.up, p.down) == (160, 441)
    assert p.zero_crossings == 24
    assert p.cutoff == pytest.approx(0.97 * 160 / 441)
    assert p.reach == pytest.approx(24 / (0.97 * 160 / 441))
    up = rs.plan(16000, 44100, "low")
    assert (up.up, up.down, up.zero_crossings, up.cutoff) == (441, 160, 8, 0.97)
    assert rs.plan(16000, 16000).passthrough
    assert [rs.plan(8000, 16000, q).zero_crossings for q in ("low", "medium", "high")] == [8, 16, 24]
    with pytest.raises(ValueError):
        rs.plan(16000, 8000, "best")
    with pytest.raises(ValueError):
        rs.plan(0, 8000)


@given(frames=st.integers(0, 5000), pair=st.sampled_from(RATE_PAIRS))
@settings(max_examples=60, deadline=None)
def test_output_length_is_the_ceiling(frames, pair):
    a, b = pair
    y = rs.resample(np.zeros(frames, dtype=np.float32), a, b, "low")
    assert len(y) == math.ceil(frames * b / a) == -(-frames * b // a)
    assert y.dtype == np.float32


def test_equal_rates_pass_through_bit_exact():
    x = np.random.default_rng(3).standard_normal((1000, 2)).astype(np.float32)
    assert np.array_equal(rs.resample(x, 22050, 22050), x)
    assert np.array_equal(rs.transform(x, 22050, 22050, 2), x)


# ------------------------------------------------------------------ fast == spec == formula


@pytest.mark.parametrize("pair", RATE_PAIRS)
@pytest.mark.parametrize("quality", ["low", "high"])
def test_vectorised_equals_literal_spec(pair, quality):
    a, b = pair
    x = np.random.default_rng(a + b).uniform(-1, 1, 240)
    fast = rs.resample_channel(x, rs.plan(a, b, quality))
    slow = rs.resample_naive(x, a, b, quality)
    assert fast.shape == slow.shape
    assert np.abs(fast - slow).max() < 1e-12


@given(
    a=st.integers(1, 60),
    b=st.integers(1, 60),
    frames=st.integers(0, 90),
    quality=st.sampled_from(["low", "medium", "high"]),
    seed=st.integers(0, 2**32 - 1),
)
@settings(max_examples=40, deadline=None)
def test_vectorised_equals_literal_spec_for_any_rates(a, b, frames, quality, seed):
    x = np.random.default_rng(seed).uniform(-1, 1, frames)
    fast = rs.resample_channel(x, rs.plan(a, b, quality))
    slow = rs.resample_naive(x, a, b, quality)
    assert fast.shape == slow.shape
    if frames:
        assert np.abs(fast - slow).max() < 1e-12


def _by_formula(x: np.ndarray, in_rate: int, out_rate: int, n: int, zeros: int = 24) -> float:
    """Output sample n from the contract's words, with nothing taken from the module."""
    g = math.gcd(in_rate, out_rate)
    L, M = out_rate // g, in_rate // g
    c = 0.97 * min(1.0, L / M)
    reach = zeros / c
    t = n * M / L
    num = den = 0.0
    for k in range(math.floor(t - reach) - 1, math.ceil(t + reach) + 2):
        u = t - k
        if abs(u) >= reach:
            continue
        h = c * np.sinc(c * u) * np.i0(8.0 * math.sqrt(1 - (u / reach) ** 2)) / np.i0(8.0)
        den += h
        if 0 <= k < len(x):
            num += x[k] * h
    return num / den


@pytest.mark.parametrize("pair", [(44100, 16000), (16000, 44100), (48000, 16000), (11025, 8000)])
def test_spot_values_match_the_contract_formula(pair):
    a, b = pair
    x = np.random.default_rng(7).uniform(-1, 1, 400)
    y = rs.resample(x, a, b)
    for n in (0, 1, 5, len(y) // 2, len(y) - 1):
        assert y[n] == pytest.approx(_by_formula(x, a, b, n), abs=2e-7)


def test_phase_taps_sum_to_one_and_mirror():
    p = rs.plan(44100, 48000)
    taps = rs.phase_taps(p, np.arange(p.up))
    assert np.allclose(taps.sum(axis=1), 1.0, atol=1e-14)
    jlo, _ = rs.tap_range(p)
    # h is even: phase q's tap at j equals phase L-q's tap at 1-j.
    for q in (1, 17, 80):
        a = {j: w for j, w in zip(range(jlo, jlo + taps.shape[1]), taps[q], strict=True)}
        b = {j: w for j, w in zip(range(jlo, jlo + taps.shape[1]), taps[p.up - q], strict=True)}
        assert all(a[j] == pytest.approx(b.get(1 - j, 0.0), abs=1e-15) for j in a)


def test_bessel_i0_series_matches_numpy():
    for x in np.linspace(0, 8, 81):
        assert rs.bessel_i0(float(x)) == pytest.approx(float(np.i0(x)), rel=1e-14)


# ---------------------------------------------------------------------------- quality


@pytest.mark.parametrize("pair", [(44100, 16000), (48000, 16000), (16000, 44100), (22050, 16000)])
@pytest.mark.parametrize("quality", ["medium", "high"])
def test_passband_sines_keep_amplitude_and_frequency(pair, quality):
    a, b = pair
    nyquist = min(a, b) / 2
    for fraction in (0.05, 0.3, 0.6, 0.8):
        freq = fraction * nyquist
        y = _interior(rs.resample(_sine(freq, a, 0.5), a, b, quality))
        amplitude, residual = _fit(y, freq, b)
        assert abs(20 * math.log10(amplitude / 0.5)) < 0.1, (freq, amplitude)
        assert 20 * math.log10(residual / 0.5) < -60, (freq, residual)  # nothing but that sine
        spectrum = np.abs(np.fft.rfft(y * np.hanning(len(y))))
        assert abs(np.argmax(spectrum) * b / len(y) - freq) <= b / len(y)


@pytest.mark.parametrize("pair", [(44100, 16000), (48000, 16000), (96000, 22050)])
def test_sines_above_the_new_nyquist_are_removed(pair):
    a, b = pair
    nyquist = b / 2
    for fraction, floor_db in ((1.1, -60), (1.25, -80), (1.6, -80), (2.5, -80)):
        freq = fraction * nyquist
        if freq >= a / 2:
            continue
        y = _interior(rs.resample(_sine(freq, a, 0.5), a, b, "high"))
        level = 20 * math.log10(math.sqrt(2 * np.mean(y**2)) / 0.5)
        assert level < floor_db, (freq, level)


def test_dc_gain_is_one():
    for a, b in RATE_PAIRS:
        y = rs.resample(np.ones(3000), a, b)
        if len(y) > 400:
            assert np.abs(y[len(y) // 4 : -len(y) // 4] - 1).max() < 1e-6


def test_no_time_shift():
    x = np.zeros(4410)
    x[1000] = 1.0
    y = rs.resample(x, 44100, 16000)
    assert int(np.argmax(y)) == round(1000 * 16000 / 44100)
    y = rs.resample(x, 44100, 48000)
    assert int(np.argmax(y)) == round(1000 * 48000 / 44100)


def test_jfk_round_trip_16k_44k_16k(jfk_wav):
    x, rate = sf.read(jfk_wav, dtype="float32")
    assert rate == 16000
    up = rs.resample(x, 16000, 44100)
    back = rs.resample(up, 44100, 16000)
    assert len(up) == 485100 and len(back) == len(x)
    err = back.astype(np.float64) - x
    snr = 10 * math.log10(np.sum(x.astype(np.float64) ** 2) / np.sum(err**2))
    assert snr > 60, snr  # measured 73.7 dB (high quality)


# ---------------------------------------------------------------------------- channels


def test_downmix_is_the_mean_in_double():
    x = np.array([[1.0, 0.0], [0.25, 0.5], [-1.0, 1.0]], dtype=np.float32)
    assert np.array_equal(rs.transform(x, 8000, 8000, 1)[:, 0], np.array([0.5, 0.375, 0.0], np.float32))
    six = np.random.default_rng(0).uniform(-1, 1, (100, 6)).astype(np.float32)
    expected = (six.astype(np.float64).sum(axis=1) / 6).astype(np.float32)
    assert np.array_equal(rs.transform(six, 8000, 8000, 1)[:, 0], expected)


def test_upmix_copies_mono_to_every_channel():
    x = np.random.default_rng(1).uniform(-1, 1, (500, 1)).astype(np.float32)
    up = rs.transform(x, 16000, 16000, 4)
    assert up.shape == (500, 4) and all(np.array_equal(up[:, c], x[:, 0]) for c in range(4))
    up = rs.transform(x, 16000, 22050, 2)
    assert np.array_equal(up[:, 0], up[:, 1])
    assert np.array_equal(up[:, 0], rs.resample(x[:, 0], 16000, 22050))


def test_multichannel_to_other_multichannel_goes_through_mono():
    x = np.random.default_rng(2).uniform(-1, 1, (300, 2))
    out = rs.transform(x, 8000, 8000, 3)
    assert out.shape == (300, 3)
    assert np.array_equal(out[:, 2], x.mean(axis=1).astype(np.float32))


def test_stereo_channels_are_resampled_independently():
    x = np.stack([_sine(440, 44100, 0.2), _sine(1000, 44100, 0.2, 0.25)], axis=1)
    y = rs.transform(x, 44100, 16000, 2)
    assert np.array_equal(y[:, 0], rs.resample(x[:, 0], 44100, 16000))
    assert np.array_equal(y[:, 1], rs.resample(x[:, 1], 44100, 16000))


def test_transform_rounds_once():
    x = np.random.default_rng(5).uniform(-1, 1, (2000, 2))
    p = rs.plan(44100, 16000)
    expected = rs.resample_channel(x.sum(axis=1) / 2, p).astype(np.float32)
    assert np.array_equal(rs.transform(x, 44100, 16000, 1)[:, 0], expected)

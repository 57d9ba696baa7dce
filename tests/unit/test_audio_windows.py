"""Cutting long audio into windows at quiet moments (rmstudio.core.audio.windows)."""

from __future__ import annotations

import itertools

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from rmstudio.core.audio.windows import MIN_WINDOW_S, frame_energy, plan_windows, window_count

RATE = 8000


def bursts(spans: list[tuple[float, float]], total_s: float, channels: int = 1) -> np.ndarray:
    """Noise during each (start, end) second span, digital silence elsewhere."""
    rng = np.random.default_rng(7)
    x = np.zeros((int(total_s * RATE), channels), np.float32)
    for a, b in spans:
        x[int(a * RATE) : int(b * RATE)] = rng.uniform(-0.5, 0.5, (int(b * RATE) - int(a * RATE), channels))
    return x


def test_short_audio_is_one_window():
    x = bursts([(0, 20)], 20)
    assert [(w.start, w.end) for w in plan_windows(x, RATE)] == [(0, len(x))]


def test_cuts_land_in_the_silence_nearest_the_even_split():
    # Speech everywhere but a 1 s pause at 28-29 s and another at 33-34 s: the even split of
    # 64 s in two is at 32 s, so the cut goes into the pause at 33-34 s (nearer in the search
    # range, and as quiet), never into the noise.
    x = bursts([(0, 28), (29, 33), (34, 64)], 64, channels=2)
    windows = plan_windows(x, RATE)
    assert len(windows) == 2
    cut = windows[0].end / RATE
    assert 28 <= cut <= 29 or 33 <= cut <= 34, cut
    assert windows[1].start == windows[0].end and windows[1].end == len(x)


def test_long_audio_gets_enough_windows_to_bound_their_length():
    assert window_count(600, max_window_s=120) == 5
    assert window_count(600) == 10
    assert window_count(64) == 2
    assert window_count(45, max_window_s=20) == 1  # no window under MIN_WINDOW_S
    assert window_count(0) == 1


def test_frame_energy_is_the_mean_square_over_channels():
    x = np.array([[1.0, 0.0], [0.0, 0.0], [0.5, 0.5], [0.5, 0.5]], np.float32)
    energy, hop = frame_energy(x, rate=100, frame_s=0.02)
    assert hop == 2
    np.testing.assert_allclose(energy, [0.25, 0.25])


@settings(max_examples=60, deadline=None)
@given(
    total=st.floats(min_value=1.0, max_value=400.0),
    max_window=st.floats(min_value=30.0, max_value=200.0),
    seed=st.integers(min_value=0, max_value=2**16),
)
def test_windows_cover_every_frame_once(total, max_window, seed):
    rate = 1000
    rng = np.random.default_rng(seed)
    x = (rng.uniform(-1, 1, int(total * rate)) * (rng.uniform(0, 1, int(total * rate)) > 0.3)).astype(
        np.float32
    )
    windows = plan_windows(x, rate, max_window)
    assert windows[0].start == 0 and windows[-1].end == len(x)
    assert all(a.end == b.start for a, b in itertools.pairwise(windows))
    assert all(w.end > w.start for w in windows)
    if len(windows) > 1:
        # Each cut moves at most a quarter of a window from the even split, so no window is
        # shorter than half the even share (plus the 200 ms quiet stretch's rounding).
        share = len(x) / rate / len(windows)
        assert share >= MIN_WINDOW_S
        assert min(w.end - w.start for w in windows) / rate >= share / 2 - 0.25


def test_window_count_never_exceeds_what_the_minimum_length_allows():
    x = bursts([(0, 95)], 95)
    assert len(plan_windows(x, RATE, max_window_s=20)) <= int(95 // MIN_WINDOW_S)

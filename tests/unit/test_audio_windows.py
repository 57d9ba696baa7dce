"""Cutting long audio into windows at quiet moments (rmstudio.core.audio.windows)."""

from __future__ import annotations

import itertools

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from rmstudio.core.audio.windows import DEFAULT_MAX_WINDOW_S, frame_energy, plan_windows, window_count

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
    # Speech everywhere but a 1 s pause at 28-29 s and another at 33-34 s: 64 s in 60-s
    # windows gives two, evenly split at 32 s, so the cut goes into one of the pauses (the
    # 33-34 s one is nearer, both are as quiet), never into the noise.
    x = bursts([(0, 28), (29, 33), (34, 64)], 64, channels=2)
    windows = plan_windows(x, RATE, max_window_s=60)
    assert len(windows) == 2
    cut = windows[0].end / RATE
    assert 28 <= cut <= 29 or 33 <= cut <= 34, cut
    assert windows[1].start == windows[0].end and windows[1].end == len(x)


def test_a_pause_that_would_make_a_window_too_long_is_not_taken():
    # 40 s with a single pause at 33-34 s: the only quiet moment would leave a 33.5 s first
    # window, longer than Whisper's 30 s (two encoder passes), so the cut stays in the speech
    # within the bound instead.
    x = bursts([(0, 33), (34, 40)], 40)
    windows = plan_windows(x, RATE)
    assert max(w.end - w.start for w in windows) <= DEFAULT_MAX_WINDOW_S * RATE
    assert windows[0].start == 0 and windows[-1].end == len(x)


def test_windows_default_to_one_whisper_chunk_each():
    assert DEFAULT_MAX_WINDOW_S == 30.0
    assert window_count(30) == 1
    assert window_count(31) == 2
    assert window_count(600) == 23  # 600 s / 27 s (90% of 30 s, room to move cuts to pauses)
    assert window_count(600, max_window_s=120) == 6
    assert window_count(0) == 1


def test_frame_energy_is_the_mean_square_over_channels():
    x = np.array([[1.0, 0.0], [0.0, 0.0], [0.5, 0.5], [0.5, 0.5]], np.float32)
    energy, hop = frame_energy(x, rate=100, frame_s=0.02)
    assert hop == 2
    np.testing.assert_allclose(energy, [0.25, 0.25])


@settings(max_examples=80, deadline=None)
@given(
    total=st.floats(min_value=1.0, max_value=400.0),
    max_window=st.floats(min_value=5.0, max_value=200.0),
    seed=st.integers(min_value=0, max_value=2**16),
)
def test_windows_cover_every_frame_once_and_respect_the_maximum(total, max_window, seed):
    rate = 1000
    rng = np.random.default_rng(seed)
    x = (rng.uniform(-1, 1, int(total * rate)) * (rng.uniform(0, 1, int(total * rate)) > 0.3)).astype(
        np.float32
    )
    windows = plan_windows(x, rate, max_window)
    assert windows[0].start == 0 and windows[-1].end == len(x)
    assert all(a.end == b.start for a, b in itertools.pairwise(windows))
    assert all(w.end > w.start for w in windows)
    assert max(w.end - w.start for w in windows) <= max_window * rate
    assert len(windows) == window_count(len(x) / rate, max_window)
    if len(windows) > 1:
        # Each cut moves at most a quarter of the even share, so no window is shorter than
        # half of it (plus a frame's rounding).
        share = len(x) / rate / len(windows)
        assert min(w.end - w.start for w in windows) / rate >= share / 2 - 0.02

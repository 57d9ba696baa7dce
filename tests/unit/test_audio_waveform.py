"""Min/max waveform summaries against a brute-force loop over the bins."""

from __future__ import annotations

import numpy as np
import pytest
import soundfile as sf
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from rmstudio.core.audio import summarize_array, summarize_file
from rmstudio.core.audio.waveform import bin_edges
from rmstudio.core.errors import RMError


def brute(samples: np.ndarray, n_bins: int, mode: str) -> tuple[np.ndarray, np.ndarray]:
    """Each bin's min and max by slicing, one bin at a time."""
    frames = len(samples)
    bins = min(n_bins, frames)
    lo, hi = [], []
    for i in range(bins):
        part = samples[i * frames // bins : (i + 1) * frames // bins]
        assert len(part) > 0
        if mode == "channels":
            lo.append(part.min(axis=0))
            hi.append(part.max(axis=0))
        elif mode == "mix":
            mixed = part.astype(np.float64).mean(axis=1).astype(np.float32)
            lo.append([mixed.min()])
            hi.append([mixed.max()])
        else:
            lo.append([part.min()])
            hi.append([part.max()])
    return np.array(lo, dtype=np.float32).reshape(bins, -1), np.array(hi, dtype=np.float32).reshape(bins, -1)


def _noise(frames: int, channels: int, seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    # PCM_16 values, so the file holds exactly these samples.
    return (rng.integers(-32768, 32767, (frames, channels)) / 32768).astype(np.float32)


@given(
    frames=st.integers(1, 3000),
    channels=st.integers(1, 3),
    n_bins=st.integers(1, 400),
    mode=st.sampled_from(["channels", "mix", "peak"]),
)
@settings(max_examples=80, deadline=None)
def test_array_summary_equals_brute_force(frames, channels, n_bins, mode):
    x = _noise(frames, channels, frames)
    s = summarize_array(x, 8000, n_bins, mode)
    lo, hi = brute(x, n_bins, mode)
    assert s.bins == min(n_bins, frames)
    assert np.array_equal(s.mins, lo) and np.array_equal(s.maxs, hi)


@given(
    frames=st.integers(1, 5000),
    channels=st.integers(1, 2),
    n_bins=st.integers(1, 300),
    block=st.integers(1, 700),
    mode=st.sampled_from(["channels", "mix", "peak"]),
)
@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
def test_streamed_file_summary_equals_brute_force(tmp_path, frames, channels, n_bins, block, mode):
    x = _noise(frames, channels, block)
    path = tmp_path / "w.wav"
    sf.write(path, x, 8000, subtype="PCM_16")
    s = summarize_file(path, n_bins, mode, block_frames=block)
    lo, hi = brute(x, n_bins, mode)
    assert (s.frames, s.sample_rate, s.mode) == (frames, 8000, mode)
    assert np.array_equal(s.mins, lo) and np.array_equal(s.maxs, hi)
    fast = summarize_array(x, 8000, n_bins, mode)
    assert np.array_equal(fast.mins, s.mins) and np.array_equal(fast.maxs, s.maxs)


@pytest.mark.parametrize("source", ["jfk", "written_here"])
def test_mp3_summary_matches_a_single_decode(jfk_wav, tmp_path, source):
    # MP3 lengths are estimates, and libsndfile decodes MP3s it wrote itself wrongly when they
    # are read in several calls; either way the summary must match one full decode.
    if source == "jfk":
        path = jfk_wav.with_suffix(".mp3")
    else:
        path = tmp_path / "clip.mp3"
        sf.write(path, 0.5 * np.sin(np.arange(20000) * 0.05), 16000, format="MP3")
    s = summarize_file(path, 100, block_frames=3000)
    with sf.SoundFile(path) as f:
        decoded = f.read(dtype="float32", always_2d=True)
    lo, hi = brute(decoded, 100, "channels")
    assert s.frames == len(decoded)
    # mpg123's output may differ in the last bit between read sizes.
    assert np.allclose(s.mins, lo, rtol=0, atol=1e-6) and np.allclose(s.maxs, hi, rtol=0, atol=1e-6)


def test_a_long_file_is_streamed_in_blocks(tmp_path):
    # Ten minutes of 8 kHz audio in 64 Ki-frame blocks: many blocks, one small summary.
    rate, frames = 8000, 8000 * 600
    x = np.zeros((frames, 1), np.float32)
    x[::4001, 0] = 0.5
    x[frames // 2, 0] = -0.9
    path = tmp_path / "long.wav"
    sf.write(path, x, rate, subtype="PCM_16")
    calls = []
    s = summarize_file(path, 1000, progress=lambda done, total: calls.append((done, total)))
    assert s.bins == 1000 and s.frames == frames
    assert len(calls) == -(-frames // (1 << 16)) and calls[-1] == (frames, frames)
    assert s.maxs.max() == 0.5 and s.mins.min() == pytest.approx(-0.9, abs=1 / 32768)
    assert s.mins[500, 0] == pytest.approx(-0.9, abs=1 / 32768)


def test_progress_can_cancel(tmp_path):
    path = tmp_path / "c.wav"
    sf.write(path, _noise(50000, 1), 8000, subtype="PCM_16")
    with pytest.raises(RMError) as info:
        summarize_file(path, 10, block_frames=1000, progress=lambda done, total: done < 5000)
    assert info.value.code == "cancelled"


def test_short_and_empty_input():
    s = summarize_array(np.array([0.1, -0.2, 0.3], np.float32), 8000, 1000)
    assert s.bins == 3 and s.mins[:, 0].tolist() == pytest.approx([0.1, -0.2, 0.3])
    empty = summarize_array(np.zeros((0, 2), np.float32), 8000, 10)
    assert empty.bins == 0 and empty.lanes == 2


def test_times_edges_and_polyline():
    x = _noise(1000, 2)
    s = summarize_array(x, 1000, 4)
    assert s.edges().tolist() == [0, 250, 500, 750, 1000]
    assert s.times().tolist() == [0.0, 0.25, 0.5, 0.75]
    px, py = s.polyline(1)
    assert px.tolist() == [0.0, 0.0, 0.25, 0.25, 0.5, 0.5, 0.75, 0.75]
    assert py[0::2].tolist() == s.mins[:, 1].tolist() and py[1::2].tolist() == s.maxs[:, 1].tolist()


def test_bin_edges_are_exact_for_long_files():
    frames = 3600 * 192000 * 3  # three hours at 192 kHz: past 2^31
    edges = bin_edges(frames, 7)
    assert edges[-1] == frames and all(int(e) == i * frames // 7 for i, e in enumerate(edges))


def test_bad_arguments():
    with pytest.raises(ValueError):
        summarize_array(np.zeros(10), 8000, 0)
    with pytest.raises(ValueError):
        summarize_array(np.zeros(10), 8000, 5, "rms")


def test_file_errors_are_the_loaders(tmp_path):
    with pytest.raises(RMError) as info:
        summarize_file(tmp_path / "missing.wav")
    assert info.value.code == "audio_not_found"

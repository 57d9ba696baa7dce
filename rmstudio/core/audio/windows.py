"""Cutting long audio into windows at quiet moments, for transcription one window per guest.

Why: the guest has one thread (WASI preview 1) and holds its whole input in linear memory.
Running a long file as several windows, each in its own store, lets the host use every core
(the windows run concurrently on host threads) and keeps the guest's memory bounded by the
window length instead of the file length. A cut in the middle of a word would lose or repeat
it, so every cut is moved to the quietest stretch near where it would ideally fall.

The plan depends on the audio and ``max_window_s`` only, never on how many cores run it: the
same file gives the same transcript on a laptop and on a 32-core server, with 1 thread or 8.
Windows of at most 60 s give two cores work from a one-minute file on.
"""

from __future__ import annotations

import itertools
import math
from dataclasses import dataclass

import numpy as np

FRAME_S = 0.02  # energy is measured over 20 ms frames
QUIET_S = 0.2  # a cut lands in the middle of the quietest 200 ms around its ideal position
MIN_WINDOW_S = 30.0  # never cut into windows shorter than one Whisper window
DEFAULT_MAX_WINDOW_S = 60.0  # bounds guest memory (about 21 MB of 44.1 kHz stereo samples)


@dataclass(frozen=True)
class Window:
    """Frames ``[start, end)`` of the source audio."""

    start: int
    end: int

    def start_time(self, rate: int) -> float:
        return self.start / rate


def frame_energy(samples: np.ndarray, rate: int, frame_s: float = FRAME_S) -> tuple[np.ndarray, int]:
    """Mean square over all channels per frame, and the frame length in samples."""
    a = np.asarray(samples, dtype=np.float32)
    if a.ndim == 1:
        a = a[:, None]
    hop = max(1, round(frame_s * rate))
    n = a.shape[0] // hop
    if n == 0:
        return np.zeros(0), hop
    body = a[: n * hop].astype(np.float64)
    return np.square(body).reshape(n, hop * a.shape[1]).mean(axis=1), hop


def window_count(duration_s: float, max_window_s: float = DEFAULT_MAX_WINDOW_S) -> int:
    """How many windows: enough to keep each under ``max_window_s``, none shorter than
    MIN_WINDOW_S."""
    if duration_s <= 0:
        return 1
    wanted = math.ceil(duration_s / max_window_s)
    return max(1, min(wanted, int(duration_s // MIN_WINDOW_S)))


def plan_windows(
    samples: np.ndarray,
    rate: int,
    max_window_s: float = DEFAULT_MAX_WINDOW_S,
) -> list[Window]:
    """Consecutive windows covering every frame exactly once, cut at quiet moments.

    Each cut is searched within a quarter of a window (at most 10 s) of its ideal, evenly
    spaced position; inside that range the 200 ms stretch with the least energy wins and the
    cut goes in its middle.
    """
    frames = int(np.asarray(samples).shape[0])
    duration = frames / rate if rate else 0.0
    count = window_count(duration, max_window_s)
    if count <= 1:
        return [Window(0, frames)]
    energy, hop = frame_energy(samples, rate)
    run = max(1, round(QUIET_S / FRAME_S))
    # Energy summed over `run` consecutive frames, ending at each frame.
    smooth = np.convolve(energy, np.ones(run), mode="valid") if energy.size >= run else energy
    reach = min(10.0, duration / count / 4)
    cuts = [0]
    for i in range(1, count):
        ideal = i * duration / count
        lo = max(int((ideal - reach) / FRAME_S), 0)
        hi = min(int((ideal + reach) / FRAME_S), smooth.size - 1)
        if hi <= lo:
            cut = round(ideal * rate)
        else:
            best = lo + int(np.argmin(smooth[lo : hi + 1]))
            cut = (best * hop) + (run * hop) // 2
        cuts.append(min(max(cut, cuts[-1] + 1), frames - 1))
    cuts.append(frames)
    return [Window(a, b) for a, b in itertools.pairwise(cuts) if b > a]

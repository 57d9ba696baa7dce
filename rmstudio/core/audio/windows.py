"""Cutting long audio into windows at quiet moments, for transcription one window per guest.

Why: the guest has one thread (WASI preview 1) and holds its whole input in linear memory.
Running a long file as several windows, each in its own store, lets the host use every core
(the windows run concurrently on host threads) and keeps the guest's memory bounded by the
window length instead of the file length. A cut in the middle of a word would lose or repeat
it, so every cut is moved to the quietest stretch near where it would ideally fall.

The plan depends on the audio and ``max_window_s`` only, never on how many cores run it: the
same file gives the same transcript on a laptop and on a 32-core server, with 1 thread or 8.
Windows of at most 30 s give two cores work from 31 s of audio on.
"""

from __future__ import annotations

import itertools
import math
from dataclasses import dataclass

import numpy as np

FRAME_S = 0.02  # energy is measured over 20 ms frames
QUIET_S = 0.2  # a cut lands in the middle of the quietest 200 ms around its ideal position
# Whisper encodes audio 30 s at a time, padding anything shorter: a window of 31 s costs two
# encoder passes, one of 29 s costs one. Windows of at most 30 s therefore cost the fewest
# passes (a 60-s window takes three: whisper.cpp re-reads from the last segment boundary) and
# give the host's threads many equal pieces of work to share.
DEFAULT_MAX_WINDOW_S = 30.0
FILL = 0.9  # windows are planned at 90% of the maximum, leaving room to move cuts to a pause
MAX_REACH_S = 10.0  # a cut never moves further than this from its evenly spaced position


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
    """How many windows: one if the audio fits in ``max_window_s``, else enough that evenly
    spaced cuts leave each window at most FILL of the maximum."""
    if duration_s <= max_window_s:
        return 1
    return math.ceil(duration_s / (FILL * max_window_s))


def plan_windows(
    samples: np.ndarray,
    rate: int,
    max_window_s: float = DEFAULT_MAX_WINDOW_S,
) -> list[Window]:
    """Consecutive windows covering every frame exactly once, cut at quiet moments, none
    longer than ``max_window_s``.

    Each cut is searched within a quarter of the even share (at most MAX_REACH_S) of its
    evenly spaced position, and never so far that this window or the ones still to come would
    exceed ``max_window_s``; inside that range the 200 ms stretch with the least energy wins
    and the cut goes in its middle.
    """
    frames = int(np.asarray(samples).shape[0])
    duration = frames / rate if rate else 0.0
    count = window_count(duration, max_window_s)
    if count <= 1:
        return [Window(0, frames)]
    energy, hop = frame_energy(samples, rate)
    run = max(1, round(QUIET_S / FRAME_S))
    # Energy summed over `run` consecutive frames starting at each frame; a cut at stretch j
    # falls at sample j * hop + offset, the stretch's middle.
    smooth = np.convolve(energy, np.ones(run), mode="valid") if energy.size >= run else energy
    offset = (run * hop) // 2
    longest = int(max_window_s * rate)
    share = frames / count
    reach = min(MAX_REACH_S * rate, share / 4)
    cuts = [0]
    for i in range(1, count):
        ideal = i * share
        lo = max(ideal - reach, frames - (count - i) * longest, cuts[-1] + 1)
        hi = min(ideal + reach, cuts[-1] + longest, frames - 1)
        first = max(math.ceil((lo - offset) / hop), 0)
        last = min(math.floor((hi - offset) / hop), smooth.size - 1)
        if last < first:  # no whole stretch fits (tiny files, odd rates): cut at the ideal
            cut = round(min(max(ideal, lo), hi))
        else:
            cut = (first + int(np.argmin(smooth[first : last + 1]))) * hop + offset
        cuts.append(cut)
    cuts.append(frames)
    return [Window(a, b) for a, b in itertools.pairwise(cuts) if b > a]

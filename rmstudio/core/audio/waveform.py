"""Min/max waveform summaries for plotting long recordings.

A plot a few thousand pixels wide cannot show 160 million samples; what it needs per pixel
column is the smallest and the largest sample in that stretch of time (peak decimation, as
pyqtgraph's ``setDownsampling(mode="peak")`` does). :func:`summarize_file` computes that
while streaming the file block by block, so an hour-long recording is summarised in a fixed,
small amount of memory; :func:`summarize_array` is the fast path for samples already loaded.

Bins: ``n`` bins over ``frames`` frames; bin ``i`` covers frames
``[i·frames // n, (i + 1)·frames // n)``. Every bin is non-empty because ``n`` is capped
at ``frames``. Both functions give identical results for the same samples.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import soundfile as sf

from rmstudio.core.audio import load
from rmstudio.core.errors import RMError

MODES = ("channels", "mix", "peak")
# progress(done_frames, total_frames) -> False to cancel
ProgressFn = Callable[[int, int], "bool | None"]


@dataclass(frozen=True)
class WaveformSummary:
    """Per-bin minima and maxima, shaped (bins, lanes) in float32.

    ``lanes`` is the channel count for mode ``"channels"`` and 1 for ``"mix"`` (the mean of
    the channels, i.e. what a mono downmix looks like) and ``"peak"`` (the extremes over all
    channels, so no channel's peak is hidden).
    """

    mins: np.ndarray
    maxs: np.ndarray
    frames: int
    sample_rate: int
    mode: str

    @property
    def bins(self) -> int:
        return int(self.mins.shape[0])

    @property
    def lanes(self) -> int:
        return int(self.mins.shape[1])

    def edges(self) -> np.ndarray:
        """Frame index where each bin starts, plus ``frames`` at the end (bins + 1 values)."""
        return bin_edges(self.frames, self.bins)

    def times(self) -> np.ndarray:
        """Start time of each bin in seconds."""
        return self.edges()[:-1] / float(self.sample_rate)

    def polyline(self, lane: int = 0) -> tuple[np.ndarray, np.ndarray]:
        """(x seconds, y) tracing min and max of every bin in turn: one connected line per plot.

        Each bin contributes two points at its start time, its minimum then its maximum, so a
        single polyline draws the envelope as dense vertical strokes.
        """
        t = self.times()
        x = np.repeat(t, 2)
        y = np.empty(2 * self.bins, dtype=np.float32)
        y[0::2] = self.mins[:, lane]
        y[1::2] = self.maxs[:, lane]
        return x, y


def bin_edges(frames: int, bins: int) -> np.ndarray:
    """``[i·frames // bins for i in 0..bins]`` in int64 (exact for any length)."""
    return (np.arange(bins + 1, dtype=np.int64) * frames) // max(bins, 1)


def _check(n_bins: int, mode: str) -> None:
    if not isinstance(n_bins, int) or isinstance(n_bins, bool) or n_bins < 1:
        raise ValueError(f"n_bins must be a positive integer, not {n_bins!r}")
    if mode not in MODES:
        raise ValueError(f"mode must be one of {', '.join(MODES)}, not {mode!r}")


def _lanes(block: np.ndarray, mode: str) -> tuple[np.ndarray, np.ndarray]:
    """The values whose minima and maxima are taken: (for-min, for-max), (frames, lanes)."""
    if mode == "channels" or block.shape[1] == 1:
        return block, block
    if mode == "mix":
        mixed = block.mean(axis=1, dtype=np.float64).astype(np.float32)[:, None]
        return mixed, mixed
    return block.min(axis=1, keepdims=True), block.max(axis=1, keepdims=True)


def summarize_array(
    samples: np.ndarray, sample_rate: int, n_bins: int = 2000, mode: str = "channels"
) -> WaveformSummary:
    """Summary of samples in memory, (frames,) or (frames, channels)."""
    _check(n_bins, mode)
    a = np.asarray(samples)
    if a.ndim == 1:
        a = a[:, None]
    if a.ndim != 2:
        raise ValueError(f"samples must be (frames, channels), not shape {a.shape}")
    a = a.astype(np.float32, copy=False)
    frames = int(a.shape[0])
    bins = min(n_bins, frames)
    lo, hi = _lanes(a, mode)
    if bins == 0:
        empty = np.zeros((0, lo.shape[1]), dtype=np.float32)
        return WaveformSummary(empty, empty.copy(), 0, int(sample_rate), mode)
    starts = bin_edges(frames, bins)[:-1]
    return WaveformSummary(
        np.minimum.reduceat(lo, starts, axis=0),
        np.maximum.reduceat(hi, starts, axis=0),
        frames,
        int(sample_rate),
        mode,
    )


def summarize_file(
    path: str | os.PathLike[str],
    n_bins: int = 2000,
    mode: str = "channels",
    *,
    block_frames: int = 1 << 16,
    progress: ProgressFn | None = None,
) -> WaveformSummary:
    """Summary of a file, streamed in blocks of ``block_frames`` (memory independent of length).

    The bins are laid out from the header's frame count. If the file decodes to a different
    number of frames (an MP3 header only estimates it), a second pass lays them out over the
    true count. ``progress(done, total)`` is called after every block; returning ``False``
    cancels with an RMError ``cancelled``. Open errors are those of
    :func:`~rmstudio.core.audio.load.audio_info`.
    """
    _check(n_bins, mode)
    p = Path(path)
    info = load.audio_info(p)
    if info.format == "MP3" and not _blocks_consistent(p, block_frames):
        # libsndfile 1.2.2 decodes some MP3s (e.g. those it wrote itself) wrongly when they are
        # read in more than one call; only a single read is right for them.
        audio = load.load_audio(p, allow_truncated=True)
        return summarize_array(audio.samples, audio.sample_rate, n_bins, mode)
    lanes = info.channels if mode == "channels" else 1
    mins, maxs, decoded = _stream(p, info.frames, n_bins, lanes, mode, block_frames, progress)
    if decoded != info.frames:
        if decoded == 0:
            raise load.no_frames_error(p)
        mins, maxs, decoded = _stream(p, decoded, n_bins, lanes, mode, block_frames, progress)
    return WaveformSummary(mins, maxs, decoded, info.sample_rate, mode)


def _stream(
    p: Path,
    frames: int,
    n_bins: int,
    lanes: int,
    mode: str,
    block_frames: int,
    progress: ProgressFn | None,
) -> tuple[np.ndarray, np.ndarray, int]:
    """One pass over the file with bins laid out for ``frames``; also returns the frames decoded."""
    bins = min(n_bins, frames)
    edges = bin_edges(frames, bins)
    mins = np.full((bins, lanes), np.inf, dtype=np.float32)
    maxs = np.full((bins, lanes), -np.inf, dtype=np.float32)
    pos = 0
    try:
        with sf.SoundFile(str(p)) as f:
            for block in f.blocks(blocksize=block_frames, dtype="float32", always_2d=True):
                used = block[: max(0, frames - pos)]  # frames beyond the layout are only counted
                if len(used):
                    lo, hi = _lanes(used, mode)
                    # Bins overlapping [pos, pos + n): from the one holding pos to the one
                    # holding the block's last frame; cut the block at the edges between.
                    first = int(np.searchsorted(edges, pos, side="right")) - 1
                    last = int(np.searchsorted(edges, pos + len(used) - 1, side="right")) - 1
                    cuts = np.concatenate(([0], edges[first + 1 : last + 1] - pos))
                    window = slice(first, last + 1)
                    np.minimum(mins[window], np.minimum.reduceat(lo, cuts, axis=0), out=mins[window])
                    np.maximum(maxs[window], np.maximum.reduceat(hi, cuts, axis=0), out=maxs[window])
                pos += len(block)
                if progress is not None and progress(min(pos, frames), frames) is False:
                    raise RMError("cancelled", "waveform summary cancelled", source=str(p))
    except (sf.SoundFileError, RuntimeError, OSError) as exc:
        raise RMError(
            "audio_truncated",
            f"{p.name} could not be decoded to the end ({exc})",
            source=str(p),
            hint=load.TRUNCATED_HINT,
        ) from None
    return mins, maxs, pos


def _blocks_consistent(p: Path, block_frames: int) -> bool:
    """Whether two consecutive reads give (nearly) the samples one read of both blocks gives."""
    try:
        with sf.SoundFile(str(p)) as f:
            whole = f.read(2 * block_frames, dtype="float32", always_2d=True)
        with sf.SoundFile(str(p)) as f:
            parts = [f.read(block_frames, dtype="float32", always_2d=True) for _ in range(2)]
    except (sf.SoundFileError, RuntimeError, OSError):
        return True  # the streaming pass reports the error
    joined = np.concatenate(parts)
    # mpg123 may differ in the last bit between read sizes; the failure mode is silence.
    return whole.shape == joined.shape and bool(np.abs(whole - joined).max(initial=0.0) <= 1e-5)

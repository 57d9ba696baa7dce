"""Timings of the audio reference code on long inputs (not part of the test suite).

    python -m rmstudio.core.audio.bench [--minutes 60] [--file]

Prints seconds for: AudioTransform of N minutes of 44.1 kHz stereo to 16 kHz mono (the
reference executor's path), a few other common conversions, and a min/max waveform summary
of the same audio in memory and, with ``--file``, streamed from a FLAC file written to a
temporary directory. Figures depend on the machine and on its load; run it when idle.
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

import numpy as np

from rmstudio.core.audio.resample import transform
from rmstudio.core.audio.waveform import summarize_array, summarize_file


def _signal(frames: int, channels: int, rate: int) -> np.ndarray:
    rng = np.random.default_rng(0)
    t = np.arange(frames, dtype=np.float64) / rate
    out = np.empty((frames, channels), dtype=np.float32)
    for c in range(channels):
        out[:, c] = 0.3 * np.sin(2 * np.pi * (220 + 50 * c) * t) + 0.05 * rng.standard_normal(frames)
    return out


def _timed(label: str, seconds_of_audio: float, fn) -> object:
    t0 = time.perf_counter()
    result = fn()
    dt = time.perf_counter() - t0
    print(f"{label:<44} {dt:8.2f} s   ({dt / seconds_of_audio * 3600:7.2f} s per hour of audio)")
    return result


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--minutes", type=float, default=60.0)
    ap.add_argument("--file", action="store_true", help="also time a streamed summary of a FLAC file")
    args = ap.parse_args(argv)
    seconds = args.minutes * 60
    x = _signal(int(44100 * seconds), 2, 44100)
    print(f"{args.minutes:g} min of 44.1 kHz stereo float32 ({x.nbytes / 2**30:.2f} GiB)")
    _timed("AudioTransform 44.1k stereo -> 16k mono", seconds, lambda: transform(x, 44100, 16000, 1))
    _timed(
        "AudioTransform 44.1k stereo -> 16k mono, low", seconds, lambda: transform(x, 44100, 16000, 1, "low")
    )
    mono48 = _signal(int(48000 * min(seconds, 600)), 1, 48000)
    s48 = min(seconds, 600)
    _timed("AudioTransform 48k mono -> 16k mono", s48, lambda: transform(mono48, 48000, 16000, 1))
    _timed("AudioTransform 48k mono -> 44.1k mono", s48, lambda: transform(mono48, 48000, 44100, 1))
    _timed("waveform summary in memory (4000 bins)", seconds, lambda: summarize_array(x, 44100, 4000))
    if args.file:
        import soundfile as sf

        with tempfile.TemporaryDirectory() as tmp:
            path = Path(tmp) / "long.flac"
            _timed("write FLAC (setup)", seconds, lambda: sf.write(path, x, 44100, subtype="PCM_16"))
            _timed("waveform summary streamed from FLAC", seconds, lambda: summarize_file(path, 4000))


if __name__ == "__main__":
    main()

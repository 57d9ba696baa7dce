"""Reference implementations of the audio nodes (docs/CONTRACT.md, "Audio node semantics").

Every node reads its items with :func:`~rmstudio.core.native.audio_items.parse_audio` (which
enforces the audio item rules) and emits items whose ``data`` is a flat float32 array.
Processing is in double precision with one rounding to float32 at the end, as in the guest.
Items carry exactly ``data``, ``sample_rate``, ``channels`` and ``start_time`` on the way out;
other fields of an incoming item are not passed on.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from rmstudio.core.audio.resample import transform
from rmstudio.core.native.audio_items import AudioData, audio_item, check_transform_size, parse_audio
from rmstudio.core.native.base import Context, Node, register


def db_to_gain(db: float) -> float:
    """``10^(db / 20)`` in double."""
    return 10.0 ** (float(db) / 20.0)


def ms_to_frames(ms: float, sample_rate: int) -> int:
    """A duration in ms as a whole number of frames, rounding half up."""
    return math.floor(float(ms) * sample_rate / 1000.0 + 0.5)


def _scaled(audio: AudioData, factor: float, ctx: Context, what: str) -> np.ndarray:
    """``float32(samples · factor)`` computed in double; node_failed if it overflows float32."""
    with np.errstate(over="ignore", invalid="ignore"):
        out = (audio.f64() * factor).astype(np.float32)
    if out.size and not np.isfinite(out).all():
        raise ctx.failed(f"{what} overflows the float32 range (factor {factor:g})")
    return out


@register("MediaReaderNode")
class MediaReader(Node):
    """Checks that every item is audio and passes it on (as float32, integer data scaled)."""

    def process(self, items: list[Any], ctx: Context) -> list[Any]:
        out = []
        for i, item in enumerate(items):
            audio = parse_audio(item, i, ctx)
            out.append(audio_item(audio.f32(), audio.sample_rate, audio.start_time))
        return out


@register("AudioTransform")
class AudioTransform(Node):
    """Channel conversion (mean downmix / copy upmix), then band-limited resampling."""

    def process(self, items: list[Any], ctx: Context) -> list[Any]:
        rate = int(self.params["output_sample_rate"])
        channels = int(self.params["output_channels"])
        quality = str(self.params.get("quality", "high"))
        out = []
        for i, item in enumerate(items):
            audio = parse_audio(item, i, ctx)
            check_transform_size(audio, rate, channels, i, ctx)
            samples = transform(audio.samples, audio.sample_rate, rate, channels, quality)
            out.append(audio_item(samples, rate, audio.start_time))
        return out


@register("AudioGain")
class AudioGain(Node):
    """Every sample times ``10^(gain_db / 20)``."""

    def process(self, items: list[Any], ctx: Context) -> list[Any]:
        gain = db_to_gain(self.params["gain_db"])
        out = []
        for i, item in enumerate(items):
            audio = parse_audio(item, i, ctx)
            samples = _scaled(audio, gain, ctx, f"a gain of {self.params['gain_db']} dB on item {i}")
            out.append(audio_item(samples, audio.sample_rate, audio.start_time))
        return out


@register("AudioNormalize")
class AudioNormalize(Node):
    """Scale so that the peak magnitude (over all channels) is ``10^(target_db / 20)``.

    The factor is ``10^(target_db / 20) / peak`` in double. Silence (peak 0) and empty items
    are passed on untouched.
    """

    def process(self, items: list[Any], ctx: Context) -> list[Any]:
        target = db_to_gain(self.params["target_db"])
        out = []
        for i, item in enumerate(items):
            audio = parse_audio(item, i, ctx)
            peak = float(np.max(np.abs(audio.f64()))) if audio.samples.size else 0.0
            if peak == 0.0:
                samples = audio.f32()
            else:
                samples = _scaled(audio, target / peak, ctx, f"normalizing item {i}")
            out.append(audio_item(samples, audio.sample_rate, audio.start_time))
        return out


@register("AudioBuffer")
class AudioBuffer(Node):
    """Join all incoming audio and cut it into chunks of ``buffer_size_samples`` frames.

    All items must share the first item's sample rate and channel count. The last chunk may
    be shorter; no input frames, no chunks. A chunk's ``start_time`` is the source time of
    its first frame: the ``start_time`` of the item that frame came from plus its offset in
    that item (so chunks stay aligned even when the items were not contiguous).
    """

    def process(self, items: list[Any], ctx: Context) -> list[Any]:
        size = int(self.params["buffer_size_samples"])
        parsed: list[AudioData] = []
        for i, item in enumerate(items):
            audio = parse_audio(item, i, ctx)
            if parsed:
                first = parsed[0]
                if (audio.sample_rate, audio.channels) != (first.sample_rate, first.channels):
                    raise ctx.invalid_input(
                        i,
                        f"item {i}: AudioBuffer joins audio of one format, but item {i} is "
                        f"{_fmt(audio)} and item 0 is {_fmt(first)}; "
                        "put an AudioTransform before the AudioBuffer",
                    )
            parsed.append(audio)
        if not parsed:
            return []
        rate = parsed[0].sample_rate
        joined = np.concatenate([a.f32() for a in parsed])
        starts = np.cumsum([0] + [a.frames for a in parsed[:-1]])  # first frame of each item
        out = []
        for pos in range(0, joined.shape[0], size):
            k = int(np.searchsorted(starts, pos, side="right")) - 1  # the item holding frame pos
            start_time = parsed[k].start_time + (pos - int(starts[k])) / rate
            out.append(audio_item(joined[pos : pos + size], rate, start_time))
        return out


def _fmt(audio: AudioData) -> str:
    return f"{audio.sample_rate} Hz with {audio.channels} channel{'s' if audio.channels != 1 else ''}"


@register("VADTrim")
class VADTrim(Node):
    """Energy voice-activity trim of leading and trailing silence.

    * Frames of ``F = round_half_up(frame_ms · rate / 1000)`` frames (at least 1); the last
      frame may be shorter.
    * A frame is voiced when its mean square over all its samples (every channel),
      ``ms``, is positive and ``10·log10(ms)`` (its RMS in dBFS) is at least ``threshold_db``.
    * The kept range runs from the first voiced frame's start minus ``P`` to the last voiced
      frame's end plus ``P`` (``P = round_half_up(padding_ms · rate / 1000)`` frames),
      clipped to the item. ``start_time`` grows by ``kept_start / rate``.
    * No voiced frame: an empty item (0 frames, same rate, channels and start_time).
    """

    def process(self, items: list[Any], ctx: Context) -> list[Any]:
        threshold = float(self.params["threshold_db"])
        out = []
        for i, item in enumerate(items):
            audio = parse_audio(item, i, ctx)
            rate = audio.sample_rate
            frame = max(1, ms_to_frames(self.params["frame_ms"], rate))
            pad = ms_to_frames(self.params["padding_ms"], rate)
            voiced = voiced_frames(audio.f64(), frame, threshold)
            if not voiced.any():
                out.append(audio_item(audio.f32()[:0], rate, audio.start_time))
                continue
            first = int(np.argmax(voiced))
            last = len(voiced) - 1 - int(np.argmax(voiced[::-1]))
            begin = max(0, first * frame - pad)
            end = min(audio.frames, min(audio.frames, (last + 1) * frame) + pad)
            out.append(audio_item(audio.f32()[begin:end], rate, audio.start_time + begin / rate))
        return out


def voiced_frames(samples: np.ndarray, frame: int, threshold_db: float) -> np.ndarray:
    """Per analysis frame of ``frame`` frames: whether its RMS in dBFS reaches the threshold."""
    n, channels = samples.shape
    count = -(-n // frame)
    if count == 0:
        return np.zeros(0, dtype=bool)
    squares = np.zeros((count * frame, channels), dtype=np.float64)
    squares[:n] = samples * samples
    energy = squares.reshape(count, frame * channels).sum(axis=1)
    lengths = np.full(count, frame * channels, dtype=np.float64)
    lengths[-1] = (n - (count - 1) * frame) * channels
    mean_square = energy / lengths
    with np.errstate(divide="ignore"):
        level = 10.0 * np.log10(mean_square)
    return (mean_square > 0) & (level >= threshold_db)

"""Reading and writing audio items inside the reference executor (docs/CONTRACT.md, "Audio").

An audio item arrives as ``{"data", "sample_rate", "channels", "start_time"}`` where the
executor has already decoded a typed ``data`` array into numpy. :func:`parse_audio` checks
everything the contract states and returns :class:`AudioData`; :func:`audio_item` builds the
item a node emits (``data`` a flat float32 array, which the executor encodes).

Rules (the guest applies the same ones):

* ``sample_rate``: an integer 1 ... 768000 (a JSON number with no fraction, e.g. ``16000.0``,
  counts as an integer); ``channels``: an integer 1 ... 32, **default 1** when absent;
  ``start_time``: a finite number, default 0.
* ``data``: interleaved frame-major samples whose size is a multiple of ``channels``, as a
  typed array of any shape (float32, float64, or int8/int16/int32/uint8 scaled to [-1, 1):
  ``int8 / 128``, ``int16 / 32768``, ``int32 / 2^31``, ``(uint8 - 128) / 128``), or a JSON
  list of numbers (nested lists are read in row-major order). Other dtypes are refused.
* Every sample must be finite.
* With ``remotemedia=True`` (the Whisper node only) RemoteMedia's shapes are accepted as
  well: ``{"audio_data" | "audio": samples, "sample_rate": 16000}`` and
  ``[samples, sample_rate]``; they are mono unless ``channels`` says otherwise.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np

from rmstudio.core.audio.item import MAX_CHANNELS, MAX_SAMPLE_RATE
from rmstudio.core.errors import RMError
from rmstudio.core.native.base import Context
from rmstudio.core.native.values import kind_name

# dtype -> (offset, divisor): value = (x - offset) / divisor
INTEGER_SCALING: dict[str, tuple[float, float]] = {
    "int8": (0.0, 128.0),
    "int16": (0.0, 32768.0),
    "int32": (0.0, 2.0**31),
    "uint8": (128.0, 128.0),
}


@dataclass
class AudioData:
    """One audio item, validated: samples (frames, channels) float32, or float64 when the
    input was float64 or an integer/JSON form (converted exactly, not yet rounded)."""

    samples: np.ndarray
    sample_rate: int
    start_time: float = 0.0

    @property
    def channels(self) -> int:
        return int(self.samples.shape[1])

    @property
    def frames(self) -> int:
        return int(self.samples.shape[0])

    @property
    def duration(self) -> float:
        return self.frames / self.sample_rate

    def f64(self) -> np.ndarray:
        return self.samples.astype(np.float64, copy=False)

    def f32(self) -> np.ndarray:
        return self.samples.astype(np.float32, copy=False)


def audio_item(samples: np.ndarray, sample_rate: int, start_time: float = 0.0) -> dict[str, Any]:
    """The item a node emits: ``data`` flat interleaved float32 (rounded once if float64)."""
    a = np.asarray(samples)
    if a.ndim == 1:
        a = a[:, None]
    return {
        "data": np.ascontiguousarray(a, dtype=np.float32).reshape(-1),
        "sample_rate": int(sample_rate),
        "channels": int(a.shape[1]),
        "start_time": float(start_time),
    }


def is_audio(value: Any) -> bool:
    """Whether a value has the shape of an audio item (not whether it is valid)."""
    return isinstance(value, dict) and "data" in value and "sample_rate" in value


def _integer(value: Any) -> int | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, (int, np.integer)):
        return int(value)
    if isinstance(value, (float, np.floating)) and math.isfinite(value) and float(value).is_integer():
        return int(value)
    return None


def _list_samples(value: list[Any]) -> np.ndarray | str:
    """A JSON list of numbers (nested to any depth, rectangular) as float64; or why not."""
    flat: list[Any] = []
    shape: list[int] = []

    def walk(v: Any, depth: int) -> str | None:
        if isinstance(v, list):
            if depth == len(shape):
                shape.append(len(v))
            elif depth > len(shape) or shape[depth] != len(v):
                return "a ragged nested list"
            if v and not isinstance(v[0], list):
                for x in v:
                    if isinstance(x, bool) or not isinstance(x, (int, float)):
                        return f"a list containing {kind_name(x)}"
                flat.extend(v)
                return None
            for x in v:
                problem = walk(x, depth + 1)
                if problem:
                    return problem
            return None
        return "a ragged nested list"

    problem = walk(value, 0)
    if problem:
        return problem
    return np.asarray(flat, dtype=np.float64)


def _array_samples(arr: np.ndarray) -> np.ndarray | str:
    name = arr.dtype.name
    if name in ("float32", "float64"):
        return arr.reshape(-1)
    if name in INTEGER_SCALING:
        offset, divisor = INTEGER_SCALING[name]
        return (arr.reshape(-1).astype(np.float64) - offset) / divisor
    return f"a {name} array (audio data must be float32, float64, int8, int16, int32 or uint8)"


def parse_audio(item: Any, index: int, ctx: Context, *, remotemedia: bool = False) -> AudioData:
    """Validate item ``index`` as audio; ``ctx.invalid_input`` errors say exactly what is wrong."""

    def bad(message: str) -> RMError:
        return ctx.invalid_input(index, f"item {index}: {message}")

    if remotemedia and isinstance(item, list) and len(item) == 2 and not isinstance(item[0], (int, float)):
        item = {"data": item[0], "sample_rate": item[1]}
    if not isinstance(item, dict):
        raise bad(f"expects audio {{data, sample_rate, channels}}, got {kind_name(item)}")
    data_key = "data"
    if remotemedia and "data" not in item:
        data_key = next((k for k in ("audio_data", "audio") if k in item), "data")
    if data_key not in item or "sample_rate" not in item:
        missing = [k for k in (data_key, "sample_rate") if k not in item]
        have = ", ".join(sorted(item)) or "none"
        raise bad(f"is not audio: missing {' and '.join(missing)} (keys present: {have})")

    rate = _integer(item["sample_rate"])
    if rate is None or not 1 <= rate <= MAX_SAMPLE_RATE:
        raise bad(f"sample_rate must be an integer from 1 to {MAX_SAMPLE_RATE}, got {item['sample_rate']!r}")
    channels_value = item.get("channels", 1)
    channels = _integer(channels_value)
    if channels is None or not 1 <= channels <= MAX_CHANNELS:
        raise bad(f"channels must be an integer from 1 to {MAX_CHANNELS}, got {channels_value!r}")
    start_value = item.get("start_time", 0.0)
    if start_value is None:
        start_value = 0.0
    if (
        isinstance(start_value, bool)
        or not isinstance(start_value, (int, float, np.number))
        or not math.isfinite(start_value)
    ):
        raise bad(f"start_time must be a finite number of seconds, got {start_value!r}")

    data = item[data_key]
    if isinstance(data, np.ndarray):
        flat = _array_samples(data)
    elif isinstance(data, list):
        flat = _list_samples(data)
    elif isinstance(data, dict) and data.get("encoding") == "file":
        raise bad(
            f"{data_key} is a file reference ({data.get('path')!r}) that was not resolved; "
            "the host reads file references before the run"
        )
    else:
        raise bad(f"{data_key} must be a typed float32 array or a list of numbers, got {kind_name(data)}")
    if isinstance(flat, str):
        raise bad(f"{data_key} is {flat}")
    if flat.size % channels:
        raise bad(
            f"{data_key} has {flat.size} samples, which is not a multiple of channels={channels} "
            "(samples are interleaved frame by frame)"
        )
    if flat.size and not np.isfinite(flat).all():
        bad_at = int(np.flatnonzero(~np.isfinite(flat))[0])
        raise bad(f"{data_key} contains a non-finite sample ({flat[bad_at]}) at sample {bad_at}")
    return AudioData(flat.reshape(-1, channels), rate, float(start_value))


def check_transform_size(audio: Any, out_rate: int, out_channels: int, index: int, ctx: Context) -> None:
    """The guest's check_transform_size (runtime/src/audio_item.cpp): a resampled item that
    could not exist in wasm32's 4 GiB is an out_of_memory error, in both executors alike."""
    frames = audio.samples.shape[0]
    out_frames = -(-frames * out_rate // audio.sample_rate)
    size = out_frames * out_channels * 4
    if size < 1 << 32:
        return
    raise RMError(
        "out_of_memory",
        f"node '{ctx.node_id}' ({ctx.node_type}): resampling item {index} from {audio.sample_rate} Hz "
        f"to {out_rate} Hz gives {size / 2**30:.1f} GiB of samples; the sandbox holds at most 4 GiB",
        node_id=ctx.node_id,
        hint="Check the item's sample_rate; use shorter audio or a lower output rate",
    )

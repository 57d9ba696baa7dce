"""Decoded audio as the audio item of docs/CONTRACT.md, and back.

An audio item is ``{"data": <interleaved float32>, "sample_rate", "channels", "start_time"}``.
:func:`to_item` builds one for a run request in either of two ways:

* ``encoding="base64"`` (default): ``data`` is a flat typed array inside the request.
  Simple; costs 4/3 of the raw size in the request plus the base64 work on both sides.
* ``encoding="file"``: the samples are written as raw little-endian float32 into a host
  directory, and ``data`` is ``{"dtype": "float32", "shape": [n], "encoding": "file",
  "path": "/input/<name>"}``. The engine must preopen that directory **read-only** at
  ``/input`` (``AudioPayload.preopen`` says which directory and where). The file name is
  derived from the content, so running the same audio again reuses the file.

:func:`read_file_reference` is the host-side reader of such a reference (the reference
executor uses it; the guest reads the file through WASI).
"""

from __future__ import annotations

import hashlib
import math
import os
import posixpath
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from rmstudio.core import typed_arrays
from rmstudio.core.audio.load import Audio
from rmstudio.core.errors import RMError

GUEST_INPUT_DIR = "/input"
# The guest contract's bounds on an audio item (runtime/src/audio_item.cpp checks the same).
MAX_SAMPLE_RATE = 768_000
MAX_CHANNELS = 32
ENCODINGS = ("base64", "file")
_F32LE = np.dtype("<f4")


@dataclass(frozen=True)
class AudioPayload:
    """What a run needs to hand one decoded file to the guest."""

    item: dict[str, Any]
    # (host directory, guest directory) to preopen read-only, or None for base64 items.
    preopen: tuple[str, str] | None = None
    files: tuple[str, ...] = field(default_factory=tuple)  # host files written for this item


def interleaved(samples: np.ndarray) -> np.ndarray:
    """(frames, channels) samples as one flat little-endian float32 array, frame-major."""
    a = np.asarray(samples)
    if a.ndim == 1:
        a = a[:, None]
    if a.ndim != 2:
        raise ValueError(f"samples must be (frames, channels), not shape {a.shape}")
    return np.ascontiguousarray(a, dtype=_F32LE).reshape(-1)


def to_item(
    audio: Audio,
    encoding: str = "base64",
    file_dir: str | os.PathLike[str] | None = None,
    *,
    start_time: float = 0.0,
) -> AudioPayload:
    """The audio item for ``audio``; with ``encoding="file"`` also the file and its preopen.

    ``file_dir`` (required for ``"file"``) is a host directory RM Studio owns, e.g. a per-run
    temporary directory; the caller removes it when the run is over.
    """
    if encoding not in ENCODINGS:
        raise RMError(
            "invalid_request", f"audio encoding must be one of {', '.join(ENCODINGS)}, not {encoding!r}"
        )
    flat = interleaved(audio.samples)
    base = {
        "sample_rate": int(audio.sample_rate),
        "channels": int(audio.channels),
        "start_time": float(start_time),
    }
    if encoding == "base64":
        return AudioPayload(item={"data": typed_arrays.encode(flat.astype(np.float32)), **base})
    if file_dir is None:
        raise RMError(
            "invalid_request",
            "audio encoding 'file' needs a host directory to write the samples to",
            hint="Pass file_dir (it is preopened read-only for the guest at /input)",
        )
    directory = Path(file_dir)
    directory.mkdir(parents=True, exist_ok=True)
    raw = flat.tobytes()
    name = f"audio-{hashlib.sha256(raw).hexdigest()[:20]}.f32"
    target = directory / name
    if not (target.is_file() and target.stat().st_size == len(raw)):
        tmp = directory / f".{name}.{os.getpid()}.tmp"
        try:
            tmp.write_bytes(raw)
            os.replace(tmp, target)
        finally:
            tmp.unlink(missing_ok=True)
    ref = {
        "dtype": "float32",
        "shape": [int(flat.size)],
        "encoding": "file",
        "path": f"{GUEST_INPUT_DIR}/{name}",
    }
    return AudioPayload(
        item={"data": ref, **base},
        preopen=(str(directory.resolve()), GUEST_INPUT_DIR),
        files=(str(target),),
    )


def is_file_reference(value: Any) -> bool:
    return isinstance(value, dict) and value.get("encoding") == "file" and "path" in value


def read_file_reference(
    ref: Mapping[str, Any], preopens: Mapping[str, str | os.PathLike[str]], path: str = ""
) -> np.ndarray:
    """The float32 samples a ``{"encoding": "file"}`` reference names.

    ``preopens`` maps guest directories to host directories (``{"/input": "/tmp/run1"}``),
    exactly what the engine preopens. The guest path must be absolute, inside one of them,
    and free of ``..``; the file must hold exactly ``prod(shape)`` float32 values. Errors are
    ``invalid_input`` RMErrors pointing at ``path`` (the JSON pointer of the reference).
    """

    def bad(message: str, where: str = "", hint: str | None = None) -> RMError:
        return RMError("invalid_input", message, path=f"{path}{where}", hint=hint)

    if ref.get("dtype") != "float32":
        raise bad(f"file references carry float32 samples, not {ref.get('dtype')!r}", "/dtype")
    shape = ref.get("shape")
    if not isinstance(shape, list) or not all(
        isinstance(d, int) and not isinstance(d, bool) and d >= 0 for d in shape
    ):
        raise bad("shape must be a list of non-negative integers", "/shape")
    guest = ref.get("path")
    if not isinstance(guest, str) or not guest.startswith("/"):
        raise bad("path must be an absolute guest path such as /input/audio.f32", "/path")
    if ".." in guest.split("/") or "\\" in guest or "\0" in guest:
        raise bad(f"path {guest!r} may not contain '..', backslashes or NUL", "/path")
    norm = posixpath.normpath(guest)
    for guest_dir, host_dir in preopens.items():
        prefix = guest_dir.rstrip("/") + "/"
        if norm.startswith(prefix):
            host = Path(host_dir, norm[len(prefix) :])
            break
    else:
        dirs = ", ".join(sorted(preopens)) or "none"
        raise bad(
            f"path {guest!r} is not inside a preopened directory (preopened: {dirs})",
            "/path",
            "The host must preopen the directory holding the file",
        )
    count = math.prod(shape)
    try:
        size = host.stat().st_size
        if not host.is_file():
            raise bad(f"{guest} is not a file", "/path")
    except FileNotFoundError:
        raise bad(f"file {guest} does not exist in the preopened directory", "/path") from None
    except OSError as exc:
        raise bad(f"cannot read {guest}: {exc.strerror or exc}", "/path") from None
    if size != count * 4:
        raise bad(f"shape {shape} of float32 needs {count * 4} bytes but {guest} has {size}", "/shape")
    data = np.fromfile(host, dtype=_F32LE, count=count)
    return data.astype(np.float32, copy=False).reshape(shape)

"""How the reference executor represents and writes data, mirroring the guest exactly.

Inside a run, typed arrays are numpy arrays and everything else is plain JSON data. On the
way out, numbers follow the guest's rule (docs/CONTRACT.md, "Data"): whole doubles within
±2^53 become integers, non-finite values become null.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

from rmstudio.core import typed_arrays
from rmstudio.core.errors import RMError

_EXACT_INT = 2**53


def to_internal(value: Any, path: str, preopens: dict[str, Path] | None = None) -> Any:
    """Decode typed arrays (anywhere in the value) into numpy arrays.

    File references (``"encoding": "file"``) are read from the run's preopened directories,
    as the guest reads them through WASI.
    """
    if isinstance(value, dict) and value.get("encoding") == "file" and "dtype" in value:
        from rmstudio.core.audio.item import read_file_reference

        return read_file_reference(value, preopens or {}, path)
    if typed_arrays.is_typed_array(value):
        return typed_arrays.decode(value, path)
    if isinstance(value, list):
        return [to_internal(v, f"{path}/{i}", preopens) for i, v in enumerate(value)]
    if isinstance(value, dict):
        return {k: to_internal(v, f"{path}/{k}", preopens) for k, v in value.items()}
    return value


def json_number(x: float) -> int | float | None:
    """A double as the guest writes it."""
    if not math.isfinite(x):
        return None
    if x == math.floor(x) and abs(x) <= _EXACT_INT:
        return int(x)
    return x


def to_output(value: Any, encoding: str) -> Any:
    """Write an internal value as JSON per ``options.array_encoding``."""
    if isinstance(value, np.ndarray):
        if encoding == "json":
            with np.errstate(invalid="ignore"):  # a signalling NaN widens to a quiet one, as in the guest
                return _list_out(value.astype(np.float64).tolist())
        return typed_arrays.encode(value)
    if isinstance(value, bool) or value is None or isinstance(value, str):
        return value
    if isinstance(value, (int, float)):
        return json_number(float(value))
    if isinstance(value, list):
        if encoding == "base64":
            arr = _rectangular(value)
            if arr is not None:
                return typed_arrays.encode(arr)
        return [to_output(v, encoding) for v in value]
    if isinstance(value, dict):
        return {k: to_output(v, encoding) for k, v in value.items()}
    return value


def _list_out(value: Any) -> Any:
    if isinstance(value, list):
        return [_list_out(v) for v in value]
    return json_number(value)


def _rectangular(value: list[Any]) -> np.ndarray | None:
    """A float64 array if ``value`` is a non-empty rectangular nest of plain numbers."""

    def shape_of(v: Any) -> tuple[int, ...] | None:
        if isinstance(v, bool) or v is None:
            return None
        if isinstance(v, (int, float)):
            return ()
        if isinstance(v, list) and v:
            shapes = {shape_of(x) for x in v}
            if len(shapes) != 1 or None in shapes:
                return None
            return (len(v), *shapes.pop())
        return None

    if shape_of(value) is None:
        return None
    return np.asarray(value, dtype=np.float64)


def numeric_map(value: Any, fn: Callable[[float], float], describe: Callable[[Any], RMError]) -> Any:
    """Apply ``fn`` to every number of a numeric value, keeping its shape and dtype rule.

    ``fn`` must work on Python floats and on float64 numpy arrays alike (plain arithmetic
    does), so arrays are computed in double precision and rounded once, as the guest does.
    ``describe(bad_value)`` builds the error for a value that is not numeric.
    """
    if isinstance(value, np.ndarray):
        out_dtype = value.dtype if value.dtype.kind == "f" else np.dtype(np.float64)
        with np.errstate(all="ignore"):  # signalling NaNs quieten, overflow rounds to inf: as the guest
            wide = value.astype(np.float64)
            result = np.asarray(fn(wide), dtype=np.float64)
            return result.astype(out_dtype)
    if isinstance(value, bool) or value is None:
        raise describe(value)
    if isinstance(value, (int, float)):
        return fn(float(value))
    if isinstance(value, list):
        return [numeric_map(v, fn, describe) for v in value]
    raise describe(value)


def kind_name(value: Any) -> str:
    """How an error message names a value's type."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, str):
        return "a string"
    if isinstance(value, dict):
        return "an object"
    if isinstance(value, list):
        return "a list"
    if isinstance(value, np.ndarray):
        return f"a {value.dtype.name} array"
    return "a number"

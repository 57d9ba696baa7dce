"""Typed numeric arrays as they cross the guest boundary (see docs/CONTRACT.md, "Data").

Two JSON spellings are accepted: RM Studio's flat ``{"dtype", "shape", "encoding":
"base64", "data"}`` and RemoteMedia's ``{"__numpy__": true, "array": {"meta": {...},
"data"}}``. Both carry raw little-endian C-order bytes. Outputs always use the flat form.
"""

from __future__ import annotations

import base64
import binascii
from typing import Any

import numpy as np

from rmstudio.core.errors import RMError

DTYPES: dict[str, np.dtype] = {
    name: np.dtype(name).newbyteorder("<")
    for name in (
        "float32",
        "float64",
        "int8",
        "int16",
        "int32",
        "int64",
        "uint8",
        "uint16",
        "uint32",
        "uint64",
    )
}


def is_typed_array(value: Any) -> bool:
    """Whether a JSON value is one of the two typed-array spellings."""
    if not isinstance(value, dict):
        return False
    if value.get("__numpy__") is True:
        return True
    return "dtype" in value and "data" in value and "shape" in value


def decode(value: dict[str, Any], path: str = "") -> np.ndarray:
    """The numpy array a typed-array object describes; RMError ``invalid_input`` if malformed."""
    if value.get("__numpy__") is True:
        arr = value.get("array")
        if not isinstance(arr, dict) or not isinstance(arr.get("meta"), dict):
            raise RMError("invalid_input", "numpy array object lacks array.meta", path=path)
        meta = arr["meta"]
        dtype_name, shape, data = meta.get("dtype"), meta.get("shape"), arr.get("data")
        path_data = f"{path}/array/data"
        path_meta = f"{path}/array/meta"
    else:
        encoding = value.get("encoding", "base64")
        if encoding != "base64":
            raise RMError(
                "invalid_input",
                f"typed array encoding {encoding!r} is not supported here (only base64)",
                path=f"{path}/encoding",
            )
        dtype_name, shape, data = value.get("dtype"), value.get("shape"), value.get("data")
        path_data = f"{path}/data"
        path_meta = path
    if dtype_name not in DTYPES:
        raise RMError(
            "invalid_input",
            f"unsupported dtype {dtype_name!r}; use one of {', '.join(DTYPES)}",
            path=f"{path_meta}/dtype",
        )
    if not isinstance(shape, list) or not all(
        isinstance(d, int) and not isinstance(d, bool) and d >= 0 for d in shape
    ):
        raise RMError(
            "invalid_input", "shape must be a list of non-negative integers", path=f"{path_meta}/shape"
        )
    if not isinstance(data, str):
        raise RMError("invalid_input", "data must be a base64 string", path=path_data)
    try:
        raw = base64.b64decode(data, validate=True)
    except (binascii.Error, ValueError) as exc:
        raise RMError("invalid_input", f"data is not valid base64 ({exc})", path=path_data) from None
    dtype = DTYPES[dtype_name]
    count = int(np.prod(shape, dtype=np.int64)) if shape else 1
    if count * dtype.itemsize != len(raw):
        raise RMError(
            "invalid_input",
            f"shape {shape} of {dtype_name} needs {count * dtype.itemsize} bytes but data has {len(raw)}",
            path=path_data,
        )
    return np.frombuffer(raw, dtype=dtype).reshape(shape).astype(dtype.newbyteorder("="), copy=False)


def encode(array: np.ndarray) -> dict[str, Any]:
    """The flat typed-array object for a numpy array (little-endian, C order)."""
    name = array.dtype.name
    if name not in DTYPES:
        raise ValueError(f"cannot encode dtype {name}")
    data = np.ascontiguousarray(array, dtype=DTYPES[name]).tobytes()
    return {
        "dtype": name,
        "shape": list(array.shape),
        "encoding": "base64",
        "data": base64.b64encode(data).decode("ascii"),
    }


def decode_tree(value: Any) -> Any:
    """Replace every typed-array object inside a JSON value by a numpy array (for display)."""
    if is_typed_array(value):
        try:
            return decode(value)
        except RMError:
            return value
    if isinstance(value, list):
        return [decode_tree(v) for v in value]
    if isinstance(value, dict):
        return {k: decode_tree(v) for k, v in value.items()}
    return value

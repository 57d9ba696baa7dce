"""Read a CTranslate2 ``model.bin`` (binary versions 4-6) lazily.

faster-whisper models, and the default model RM Studio ships, are CTranslate2 directories.
Only the variable index is parsed up front; arrays are read on demand from a memory map,
so converting a multi-gigabyte model never holds two copies of it.

Layout: u32 version · string spec name · u32 spec revision · u32 count · per variable:
string name, u8 rank, u32 dims[rank], u8 dtype, u32 byte count, raw bytes · u32 alias count,
(alias, target) string pairs. A string is a u16 length (including a NUL) and its bytes.
"""

from __future__ import annotations

import mmap
import struct
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from rmstudio.core.errors import RMError

# CTranslate2 DataType ids
DTYPES: dict[int, tuple[str, np.dtype | None]] = {
    0: ("float32", np.dtype("<f4")),
    1: ("int8", np.dtype("i1")),
    2: ("int16", np.dtype("<i2")),
    3: ("int32", np.dtype("<i4")),
    4: ("float16", np.dtype("<f2")),
    5: ("bfloat16", None),  # no numpy dtype; widened to float32 by shifting the bits
}
SUPPORTED_VERSIONS = (4, 5, 6)


@dataclass(frozen=True)
class CT2Variable:
    name: str
    shape: tuple[int, ...]
    dtype: int
    offset: int
    nbytes: int

    @property
    def dtype_name(self) -> str:
        return DTYPES[self.dtype][0]


def _bad(path: Path, message: str, offset: int | None = None) -> RMError:
    where = f" (at byte {offset})" if offset is not None else ""
    return RMError(
        "invalid_model",
        f"not a readable CTranslate2 model: {message}{where}",
        hint="Expected a CTranslate2 (faster-whisper) Whisper directory with model.bin, config.json "
        "and vocabulary.txt/json; the model.bin may be damaged",
        source=str(path),
        details={"offset": offset} if offset is not None else {},
    )


class CT2Model:
    """An open ``model.bin``: ``spec``, ``variables`` (name -> CT2Variable), ``array(name)``."""

    def __init__(self, path: Path) -> None:
        self.path = Path(path)
        self._file = open(self.path, "rb")  # noqa: SIM115 - closed in close()
        try:
            self._map = mmap.mmap(self._file.fileno(), 0, access=mmap.ACCESS_READ)
        except (ValueError, OSError) as exc:  # empty file
            self._file.close()
            raise _bad(self.path, f"cannot map the file ({exc})", 0) from None
        try:
            self._index()
        except BaseException:
            self.close()
            raise

    def _index(self) -> None:
        buf, size = self._map, len(self._map)
        pos = 0

        def need(n: int, what: str) -> int:
            nonlocal pos
            if pos + n > size:
                raise _bad(self.path, f"file ends inside {what}", pos)
            start, pos = pos, pos + n
            return start

        def u8(what: str) -> int:
            return buf[need(1, what)]

        def u16(what: str) -> int:
            return struct.unpack_from("<H", buf, need(2, what))[0]

        def u32(what: str) -> int:
            return struct.unpack_from("<I", buf, need(4, what))[0]

        def string(what: str) -> str:
            n = u16(what)
            start = need(n, what)
            raw = bytes(buf[start : start + n]).rstrip(b"\0")
            try:
                return raw.decode("utf-8")
            except UnicodeDecodeError:
                raise _bad(self.path, f"{what} is not UTF-8", start) from None

        self.version = u32("the version")
        if self.version not in SUPPORTED_VERSIONS:
            raise _bad(self.path, f"binary version {self.version} is not one of {SUPPORTED_VERSIONS}", 0)
        self.spec = string("the spec name")
        self.spec_revision = u32("the spec revision")
        count = u32("the variable count")
        if count > 100_000:
            raise _bad(self.path, f"{count} variables is not plausible", pos - 4)
        self.variables: dict[str, CT2Variable] = {}
        for _ in range(count):
            name = string("a variable name")
            rank = u8(f"the rank of {name}")
            shape = tuple(u32(f"the shape of {name}") for _ in range(rank))
            dtype = u8(f"the type of {name}")
            if dtype not in DTYPES:
                raise _bad(self.path, f"variable {name} has unknown type {dtype}", pos - 1)
            nbytes = u32(f"the size of {name}")
            offset = need(nbytes, f"the data of {name}")
            item = DTYPES[dtype][1].itemsize if DTYPES[dtype][1] is not None else 2
            count_values = int(np.prod(shape, dtype=np.int64)) if shape else 1
            if count_values * item != nbytes:
                raise _bad(self.path, f"variable {name} has {nbytes} bytes for shape {list(shape)}", offset)
            self.variables[name] = CT2Variable(name, shape, dtype, offset, nbytes)
        self.aliases: dict[str, str] = {}
        if pos < size:
            for _ in range(u32("the alias count")):
                alias = string("an alias")
                self.aliases[alias] = string("an alias target")
        if pos != size:
            raise _bad(self.path, f"{size - pos} unexpected bytes after the variables", pos)

    def __contains__(self, name: str) -> bool:
        return name in self.variables or name in self.aliases

    def variable(self, name: str) -> CT2Variable:
        return self.variables[self.aliases.get(name, name)]

    def array(self, name: str) -> np.ndarray:
        """A copy of a variable as numpy (bfloat16 widened to float32), in CT2's shape.

        Always a copy: a view into the map would keep close() from unmapping the file.
        """
        var = self.variable(name)
        dtype = DTYPES[var.dtype][1]
        if dtype is None:
            bits = np.frombuffer(self._map, dtype="<u2", count=var.nbytes // 2, offset=var.offset)
            arr = (bits.astype(np.uint32) << 16).view(np.float32)
        else:
            arr = np.frombuffer(
                self._map, dtype=dtype, count=var.nbytes // dtype.itemsize, offset=var.offset
            ).copy()
        return arr.reshape(var.shape)

    def scalar(self, name: str) -> int | float | None:
        if name not in self:
            return None
        return self.array(name).reshape(-1)[0].item()

    def close(self) -> None:
        if getattr(self, "_map", None) is not None:
            self._map.close()
            self._map = None
        self._file.close()

    def __enter__(self) -> CT2Model:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

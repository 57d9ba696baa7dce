"""ggml's element types and whisper's file types, as the pinned whisper.cpp 1.8.5 (ggml 0.13.1) knows them.

Two numbering schemes live in a whisper ggml file and they must never be mixed up:

* every tensor record carries a ``ggml_type`` (F32=0, F16=1, Q4_0=2, ..., Q8_0=8, ...);
* the header's ``ftype`` is a ``ggml_ftype`` (ALL_F32=0, MOSTLY_F16=1, ..., MOSTLY_Q8_0=7, ...),
  optionally plus ``1000 * quantization version``.

The same number means different things in the two places (7 is the file type "mostly q8_0"
but the tensor type Q5_1), so both tables are spelled out here and everything else in the
package goes through them. The block and byte sizes were read from the ggml shared library
that ships with the pinned pywhispercpp wheel; a unit test cross-checks them when that
library is importable.
"""

from __future__ import annotations

from dataclasses import dataclass

GGML_FILE_MAGIC = 0x67676D6C  # "ggml" read as a little-endian uint32
QNT_VERSION_FACTOR = 1000  # header ftype = qntvr * 1000 + ggml_ftype
QNT_VERSION = 2  # the current quantization format version of ggml


@dataclass(frozen=True)
class GGMLType:
    """One ``ggml_type``: ``block_size`` values are stored in ``type_size`` bytes."""

    id: int
    name: str
    block_size: int
    type_size: int

    @property
    def quantized(self) -> bool:
        return self.block_size > 1


# (id, name, values per block, bytes per block). Removed ids (4, 5, 31-33, 36-38) are absent on
# purpose: a file that uses them is not readable by this ggml.
_TYPES = [
    (0, "f32", 1, 4),
    (1, "f16", 1, 2),
    (2, "q4_0", 32, 18),
    (3, "q4_1", 32, 20),
    (6, "q5_0", 32, 22),
    (7, "q5_1", 32, 24),
    (8, "q8_0", 32, 34),
    (9, "q8_1", 32, 36),
    (10, "q2_K", 256, 84),
    (11, "q3_K", 256, 110),
    (12, "q4_K", 256, 144),
    (13, "q5_K", 256, 176),
    (14, "q6_K", 256, 210),
    (15, "q8_K", 256, 292),
    (16, "iq2_xxs", 256, 66),
    (17, "iq2_xs", 256, 74),
    (18, "iq3_xxs", 256, 98),
    (19, "iq1_s", 256, 50),
    (20, "iq4_nl", 32, 18),
    (21, "iq3_s", 256, 110),
    (22, "iq2_s", 256, 82),
    (23, "iq4_xs", 256, 136),
    (24, "i8", 1, 1),
    (25, "i16", 1, 2),
    (26, "i32", 1, 4),
    (27, "i64", 1, 8),
    (28, "f64", 1, 8),
    (29, "iq1_m", 256, 56),
    (30, "bf16", 1, 2),
    (34, "tq1_0", 256, 54),
    (35, "tq2_0", 256, 66),
    (39, "mxfp4", 32, 17),
    (40, "nvfp4", 64, 36),
    (41, "q1_0", 128, 18),
]

GGML_TYPES: dict[int, GGMLType] = {t[0]: GGMLType(*t) for t in _TYPES}
TYPE_F32 = 0
TYPE_F16 = 1
TYPE_Q8_0 = 8

# ggml_ftype -> (name, ggml_type of the large 2-D weights). Only the file types that
# ggml_ftype_to_ggml_type() maps: any other value makes whisper.cpp abort on GGML_ASSERT,
# which inside the sandbox would be a trap instead of a message, so we refuse them first.
FILE_TYPES: dict[int, tuple[str, int]] = {
    0: ("f32", 0),
    1: ("f16", 1),
    2: ("q4_0", 2),
    3: ("q4_1", 3),
    7: ("q8_0", 8),
    8: ("q5_0", 6),
    9: ("q5_1", 7),
    10: ("q2_K", 10),
    11: ("q3_K", 11),
    12: ("q4_K", 12),
    13: ("q5_K", 13),
    14: ("q6_K", 14),
    15: ("iq2_xxs", 16),
    16: ("iq2_xs", 17),
    17: ("iq3_xxs", 18),
    18: ("iq1_s", 19),
    19: ("iq4_nl", 20),
    20: ("iq3_s", 21),
    21: ("iq2_s", 22),
    22: ("iq4_xs", 23),
    23: ("iq1_m", 29),
    24: ("bf16", 30),
    25: ("mxfp4", 39),
    26: ("nvfp4", 40),
    27: ("q1_0", 41),
}
FTYPE_F32 = 0
FTYPE_F16 = 1
FTYPE_Q8_0 = 7


def tensor_nbytes(ggml_type: GGMLType, ne: list[int] | tuple[int, ...]) -> int | None:
    """Bytes of a tensor with dims ``ne`` (innermost first), or None if rows do not fill blocks.

    ggml quantizes row by row, so the innermost dimension must be a whole number of blocks.
    """
    count = 1
    for n in ne:
        count *= n
    if ne and ne[0] % ggml_type.block_size:
        return None
    if not ne and ggml_type.block_size != 1:
        return None
    return count // ggml_type.block_size * ggml_type.type_size

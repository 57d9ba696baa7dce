"""Read and validate a whisper ggml model file without loading its weights.

whisper.cpp trusts its model file: a bad length field makes it allocate garbage sizes, an
unknown file type trips a GGML_ASSERT (an abort, which inside the sandbox is a bare trap),
and trailing bytes are silently ignored. So the host checks every file before the guest
opens it: the whole header, then every tensor record is walked by seeking over the data.
Any defect raises ``RMError(code="invalid_model")`` with the byte offset where it was found
and a hint, never another exception type.

Layout (all little-endian, no alignment padding):
magic u32 · 11 × i32 hparams · mel (i32 n_mel, i32 n_fft, n_mel·n_fft f32) · vocab (i32 count,
then u32 length + bytes per token) · tensor records until EOF (i32 n_dims, i32 name length,
i32 ggml_type, n_dims × i32 ne innermost first, name, raw data).
"""

from __future__ import annotations

import mmap
import os
import stat
import struct
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from rmstudio.core.errors import RMError

from .fsutil import file_sha256
from .ggml_types import (
    FILE_TYPES,
    GGML_FILE_MAGIC,
    GGML_TYPES,
    QNT_VERSION,
    QNT_VERSION_FACTOR,
    tensor_nbytes,
)
from .whisper_layout import N_FFT_BINS, Hparams, english_only, expected_tensors, family, model_label

MAX_TOKEN_BYTES = 1024  # GPT-2/Whisper tokens are < 130 bytes; anything huge is a broken length
MAX_NAME_BYTES = 255
_U32 = struct.Struct("<I")
MAX_DIM = 1 << 24
HPARAM_NAMES = (
    "n_vocab",
    "n_audio_ctx",
    "n_audio_state",
    "n_audio_head",
    "n_audio_layer",
    "n_text_ctx",
    "n_text_state",
    "n_text_head",
    "n_text_layer",
    "n_mels",
    "ftype",
)
TRUNCATED_HINT = "The file is incomplete (an interrupted download or copy?); fetch or convert it again"
NOT_GGML_HINT = (
    "Whisper models for RM Studio are legacy ggml .bin files (as produced by whisper.cpp's "
    "converters); GGUF, PyTorch and CTranslate2 files are different formats"
)


@dataclass(frozen=True)
class TensorRecord:
    """Where one tensor sits in the file; ``ne`` is innermost-first as ggml stores it."""

    name: str
    ggml_type: int
    ne: tuple[int, ...]
    offset: int  # start of the record header
    data_offset: int
    nbytes: int

    @property
    def type_name(self) -> str:
        return GGML_TYPES[self.ggml_type].name


@dataclass
class ModelInfo:
    """What a validated ggml file is; cheap to compute (the weights are never read)."""

    path: Path
    size: int
    hparams: Hparams
    ftype: int  # ggml_ftype, quantization version stripped
    qntvr: int
    n_mel: int
    n_fft: int
    n_vocab_file: int  # tokens stored in the file; whisper.cpp synthesizes the rest
    tensors: list[TensorRecord] = field(default_factory=list)
    sha256: str | None = None

    @property
    def ftype_name(self) -> str:
        return FILE_TYPES[self.ftype][0]

    @property
    def family(self) -> str:
        return family(self.hparams)

    @property
    def english_only(self) -> bool:
        return english_only(self.hparams)

    @property
    def label(self) -> str:
        return model_label(self.hparams)

    @property
    def n_tensors(self) -> int:
        return len(self.tensors)

    @property
    def header_only(self) -> bool:
        """True for whisper.cpp's structural test models: hparams, mel and vocab, no weights."""
        return not self.tensors

    @property
    def tensor_types(self) -> dict[str, int]:
        return dict(Counter(t.type_name for t in self.tensors))

    def to_json(self) -> dict[str, Any]:
        return {
            "path": str(self.path),
            "size": self.size,
            "sha256": self.sha256,
            "label": self.label,
            "family": self.family,
            "english_only": self.english_only,
            "ftype": self.ftype_name,
            "qntvr": self.qntvr,
            "hparams": self.hparams.to_json(),
            "n_vocab_file": self.n_vocab_file,
            "n_tensors": self.n_tensors,
            "tensor_types": self.tensor_types,
            "header_only": self.header_only,
        }


def _invalid(path: Path, offset: int, message: str, hint: str) -> RMError:
    return RMError(
        "invalid_model",
        f"invalid ggml model: {message} (at byte {offset})",
        hint=hint,
        source=str(path),
        details={"offset": offset},
    )


class _Cursor:
    """Bounds-checked little-endian reads from the mapped file."""

    def __init__(self, buf: mmap.mmap | bytes, size: int, path: Path) -> None:
        self.buf = buf
        self.size = size
        self.path = path
        self.pos = 0

    def need(self, n: int, what: str) -> int:
        start = self.pos
        if n < 0 or start + n > self.size:
            raise _invalid(
                self.path,
                start,
                f"file ends inside {what} ({self.size - start} of {n} bytes present)",
                TRUNCATED_HINT,
            )
        self.pos = start + n
        return start

    def i32(self, what: str) -> int:
        return struct.unpack_from("<i", self.buf, self.need(4, what))[0]

    def u32(self, what: str) -> int:
        return struct.unpack_from("<I", self.buf, self.need(4, what))[0]

    def take(self, n: int, what: str) -> bytes:
        start = self.need(n, what)
        return bytes(self.buf[start : start + n])


def _check_hparams(path: Path, hp: Hparams) -> None:
    def bad(
        index: int, message: str, hint: str = "The header is damaged or this is not a Whisper model"
    ) -> RMError:
        return _invalid(path, 4 + 4 * index, message, hint)

    limits = {"n_vocab": 1 << 20, "n_audio_ctx": 1 << 16, "n_text_ctx": 1 << 16, "n_mels": 512}
    for i, name in enumerate(HPARAM_NAMES[:-1]):
        value = getattr(hp, name)
        top = limits.get(name, 1 << 16 if "state" in name else 1024)
        if not 1 <= value <= top:
            raise bad(i, f"hparam {name} = {value} is outside 1..{top}")
    for i, (state, head) in (
        (3, (hp.n_audio_state, hp.n_audio_head)),
        (7, (hp.n_text_state, hp.n_text_head)),
    ):
        if state % head:
            raise bad(i, f"hparam {HPARAM_NAMES[i]} = {head} does not divide the state size {state}")
    if hp.n_text_state != hp.n_audio_state:
        raise bad(6, f"n_text_state {hp.n_text_state} differs from n_audio_state {hp.n_audio_state}")
    if hp.ftype < 0:
        raise bad(10, f"file type {hp.ftype} is negative")
    qntvr, ftype = divmod(hp.ftype, QNT_VERSION_FACTOR)
    if ftype not in FILE_TYPES:
        raise bad(
            10,
            f"file type {ftype} is not one whisper.cpp can load",
            "Known file types: " + ", ".join(f"{k} {v[0]}" for k, v in sorted(FILE_TYPES.items())),
        )
    if qntvr > QNT_VERSION:
        raise bad(
            10,
            f"quantization version {qntvr} is newer than this whisper.cpp's ({QNT_VERSION})",
            "Re-quantize the model with the pinned whisper.cpp version",
        )


def _refuse_other_ggml_models(buf: mmap.mmap | bytes, size: int, path: Path) -> None:
    """whisper.cpp's other ggml files (e.g. the Silero VAD model) start with a model name string."""
    if size < 8:
        return
    (n,) = struct.unpack_from("<i", buf, 4)
    if 4 <= n <= 64 and size >= 8 + n:
        text = bytes(buf[8 : 8 + n])
        if text.isascii() and text.decode("ascii").isprintable() and any(c.isalpha() for c in text.decode()):
            raise _invalid(
                path,
                8,
                f"this ggml file holds a '{text.decode()}' model, not a Whisper model",
                "Pick a Whisper model file (ggml-tiny.en.bin, ggml-base.bin, ...)",
            )


def _skip_tokens(cur: _Cursor, n_tokens: int) -> None:
    """Walk the vocabulary's length-prefixed tokens (a hot loop: 50k tokens per model)."""
    buf, size, pos = cur.buf, cur.size, cur.pos
    unpack = _U32.unpack_from
    for i in range(n_tokens):
        if pos + 4 > size:
            cur.pos = pos
            cur.need(4, f"the length of token {i}")
        (n,) = unpack(buf, pos)
        if n > MAX_TOKEN_BYTES:
            raise _invalid(
                cur.path,
                pos,
                f"token {i} claims {n} bytes (at most {MAX_TOKEN_BYTES})",
                "The vocabulary is damaged",
            )
        pos += 4
        if pos + n > size:
            cur.pos = pos
            cur.need(n, f"token {i}")
        pos += n
    cur.pos = pos


def _parse(buf: mmap.mmap | bytes, size: int, path: Path, check_layout: bool) -> ModelInfo:
    cur = _Cursor(buf, size, path)
    magic = cur.u32("the magic number")
    if magic != GGML_FILE_MAGIC:
        head = bytes(buf[:4])
        hint = NOT_GGML_HINT
        if head == b"GGUF":
            hint = "This is a GGUF file; whisper.cpp reads the legacy ggml format. " + NOT_GGML_HINT
        raise _invalid(path, 0, f"bad magic {head!r}, expected b'lmgg' (0x{GGML_FILE_MAGIC:08x})", hint)

    _refuse_other_ggml_models(buf, size, path)
    hp = Hparams(*(cur.i32(f"hparam {name}") for name in HPARAM_NAMES))
    _check_hparams(path, hp)
    qntvr, ftype = divmod(hp.ftype, QNT_VERSION_FACTOR)

    mel_at = cur.pos
    n_mel = cur.i32("the mel filter count")
    n_fft = cur.i32("the mel filter width")
    if n_mel != hp.n_mels:
        raise _invalid(
            path,
            mel_at,
            f"{n_mel} mel filters but hparam n_mels is {hp.n_mels}",
            "The header is inconsistent",
        )
    if n_fft != N_FFT_BINS:
        raise _invalid(
            path,
            mel_at + 4,
            f"mel filters span {n_fft} FFT bins, whisper.cpp needs {N_FFT_BINS}",
            "The header is damaged",
        )
    mel_data = cur.take(4 * n_mel * n_fft, "the mel filters")
    if not np.isfinite(np.frombuffer(mel_data, dtype="<f4")).all():
        raise _invalid(path, mel_at + 8, "the mel filters contain NaN or infinity", "The header is damaged")

    vocab_at = cur.pos
    n_tokens = cur.i32("the vocabulary size")
    if not 0 <= n_tokens <= hp.n_vocab:
        raise _invalid(
            path,
            vocab_at,
            f"vocabulary count {n_tokens} is outside 0..n_vocab ({hp.n_vocab})",
            "The header is damaged",
        )
    _skip_tokens(cur, n_tokens)

    expected = expected_tensors(hp, FILE_TYPES[ftype][1]) if check_layout else {}
    tensors: list[TensorRecord] = []
    seen: set[str] = set()
    while cur.pos < size:
        at = cur.pos
        if size - at < 12:
            raise _invalid(
                path,
                at,
                f"{size - at} stray bytes after the last tensor",
                "The file has trailing garbage; get a clean copy",
            )
        n_dims = cur.i32("a tensor header")
        name_len = cur.i32("a tensor header")
        ttype = cur.i32("a tensor header")
        if not 0 <= n_dims <= 4:
            raise _invalid(
                path,
                at,
                f"tensor #{len(tensors)} has {n_dims} dimensions (0..4 allowed)",
                "Corrupt tensor record",
            )
        if not 1 <= name_len <= MAX_NAME_BYTES:
            raise _invalid(
                path,
                at + 4,
                f"tensor #{len(tensors)} has a name of {name_len} bytes",
                "Corrupt tensor record",
            )
        gtype = GGML_TYPES.get(ttype)
        if gtype is None:
            raise _invalid(
                path, at + 8, f"tensor #{len(tensors)} has unknown ggml type {ttype}", "Corrupt tensor record"
            )
        ne = []
        for d in range(n_dims):
            dim_at = cur.pos
            value = cur.i32("a tensor shape")
            if not 1 <= value <= MAX_DIM:
                raise _invalid(
                    path,
                    dim_at,
                    f"tensor #{len(tensors)} has dimension {d} = {value}",
                    "Corrupt tensor record",
                )
            ne.append(value)
        name_at = cur.pos
        raw_name = cur.take(name_len, "a tensor name")
        try:
            name = raw_name.decode("ascii")
        except UnicodeDecodeError:
            raise _invalid(
                path, name_at, f"tensor name {raw_name!r} is not ASCII", "Corrupt tensor record"
            ) from None
        if not name.isprintable():
            raise _invalid(
                path, name_at, f"tensor name {name!r} has control characters", "Corrupt tensor record"
            )
        nbytes = tensor_nbytes(gtype, ne)
        if nbytes is None:
            raise _invalid(
                path,
                at,
                f"tensor '{name}' rows of {ne[0] if ne else 1} values are not whole {gtype.name} blocks of "
                f"{gtype.block_size}",
                "Corrupt tensor record",
            )
        data_at = cur.need(nbytes, f"the data of tensor '{name}'")
        if check_layout:
            _check_against_layout(path, at, name, tuple(ne), ttype, expected, seen, ftype)
        seen.add(name)
        tensors.append(TensorRecord(name, ttype, tuple(ne), at, data_at, nbytes))

    if check_layout and tensors and len(seen) != len(expected):
        missing = [n for n in expected if n not in seen]
        raise _invalid(
            path,
            size,
            f"{len(missing)} of {len(expected)} tensors are missing, first '{missing[0]}'",
            TRUNCATED_HINT,
        )
    return ModelInfo(path, size, hp, ftype, qntvr, n_mel, n_fft, n_tokens, tensors)


def _check_against_layout(
    path: Path,
    at: int,
    name: str,
    ne: tuple[int, ...],
    ttype: int,
    expected: dict[str, tuple[tuple[int, ...], int]],
    seen: set[str],
    ftype: int,
) -> None:
    """Apply the loader's own rules: known name, once, same shape, same element type."""
    if name not in expected:
        raise _invalid(path, at, f"unknown tensor '{name}'", "whisper.cpp rejects tensors it does not know")
    if name in seen:
        raise _invalid(path, at, f"tensor '{name}' appears twice", "Corrupt model file")
    want_ne, want_type = expected[name]
    if (ne + (1,) * 4)[:4] != (want_ne + (1,) * 4)[:4]:
        raise _invalid(
            path,
            at,
            f"tensor '{name}' has shape {list(ne)}, the header implies {list(want_ne)}",
            "Corrupt model file",
        )
    if ttype != want_type:
        raise _invalid(
            path,
            at,
            f"tensor '{name}' is {GGML_TYPES[ttype].name} but file type {FILE_TYPES[ftype][0]} makes "
            f"whisper.cpp read it as {GGML_TYPES[want_type].name}",
            "The header file type and the tensor types disagree",
        )


def _open_error(path: Path, exc: OSError) -> RMError:
    if isinstance(exc, FileNotFoundError):
        return RMError("file_not_found", "model file not found", source=str(path))
    if isinstance(exc, IsADirectoryError) or path.is_dir():
        hint = None
        if (path / "model.bin").exists():
            hint = "This looks like a CTranslate2 model directory; convert it first (rmstudio models convert)"
        return RMError(
            "invalid_model", "model path is a directory, not a ggml file", hint=hint, source=str(path)
        )
    return RMError("io_error", f"cannot read model file: {exc.strerror or exc}", source=str(path))


def read_model_info(
    path: str | os.PathLike[str], *, sha256: bool = False, check_layout: bool = True
) -> ModelInfo:
    """Validate a whisper ggml file and describe it.

    Reads the header and every tensor record but skips over the weights, so it takes
    milliseconds even for large models. ``check_layout`` also applies whisper.cpp's
    loader rules (every tensor known, shaped and typed as the header implies, none
    missing); turn it off only to inspect files for other ggml programs. Header-only test
    models (no tensors) are accepted; callers that need weights check ``header_only``.
    """
    p = Path(path)
    try:
        mode = p.stat().st_mode
        if not stat.S_ISREG(mode) and not stat.S_ISDIR(mode):  # opening a FIFO waits forever
            raise RMError(
                "invalid_model",
                f"{p.name} is not a regular file (a pipe, socket or device)",
                source=str(p),
                hint="Give the path of a ggml model file (ggml-*.bin)",
            )
        with open(p, "rb") as f:
            size = os.fstat(f.fileno()).st_size
            if size == 0:
                raise _invalid(p, 0, "the file is empty", TRUNCATED_HINT)
            with mmap.mmap(f.fileno(), 0, access=mmap.ACCESS_READ) as mm:
                info = _parse(mm, size, p, check_layout)
    except OSError as exc:
        raise _open_error(p, exc) from None
    if sha256:
        info.sha256 = file_sha256(p)
    return info


def read_mel_and_vocab(path: str | os.PathLike[str]) -> tuple[np.ndarray, list[bytes]]:
    """The mel filterbank (n_mel × n_fft float32) and the stored tokens of a valid file."""
    p = Path(path)
    info = read_model_info(p, check_layout=False)
    with open(p, "rb") as f:
        f.seek(4 + 4 * len(HPARAM_NAMES) + 8)
        mel = np.frombuffer(f.read(4 * info.n_mel * info.n_fft), dtype="<f4").reshape(info.n_mel, info.n_fft)
        f.seek(4, os.SEEK_CUR)
        tokens = []
        for _ in range(info.n_vocab_file):
            (n,) = struct.unpack("<I", f.read(4))
            tokens.append(f.read(n))
    return mel.copy(), tokens


def describe(info: ModelInfo) -> str:
    """One line for listings: label, weight type, size."""
    mib = info.size / (1 << 20)
    kind = "header only" if info.header_only else f"{info.n_tensors} tensors"
    return f"{info.label} {info.ftype_name} ({kind}, {mib:.1f} MiB)"

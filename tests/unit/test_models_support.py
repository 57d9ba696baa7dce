"""Builders for small synthetic model files (ggml and CTranslate2) used by the model-store tests.

Real models are tens of megabytes; fuzzing the validator at hundreds of offsets or testing
the converter's error paths wants files of a few kilobytes with the same structure.
The few tests at the bottom check the builders themselves against the real readers.
"""

from __future__ import annotations

import json
import struct
from pathlib import Path

import numpy as np

from rmstudio.core.models.ct2_reader import CT2Model
from rmstudio.core.models.ggml_format import read_model_info
from rmstudio.core.models.ggml_types import FTYPE_F16, GGML_FILE_MAGIC, TYPE_F16, TYPE_F32, TYPE_Q8_0
from rmstudio.core.models.mel import mel_filterbank
from rmstudio.core.models.quant import quantize_q8_0
from rmstudio.core.models.vocab import BYTE_DECODER
from rmstudio.core.models.whisper_layout import Hparams, expected_tensors

SMALL = Hparams(
    n_vocab=300,
    n_audio_ctx=4,
    n_audio_state=64,
    n_audio_head=2,
    n_audio_layer=1,
    n_text_ctx=4,
    n_text_state=64,
    n_text_head=2,
    n_text_layer=1,
    n_mels=80,
    ftype=FTYPE_F16,
)
_WTYPE = {0: TYPE_F32, 1: TYPE_F16, 7: TYPE_Q8_0}


def ggml_header(hp: Hparams, tokens: list[bytes]) -> bytes:
    out = struct.pack("<I", GGML_FILE_MAGIC) + struct.pack("<11i", *hp.as_tuple())
    mel = mel_filterbank(hp.n_mels)
    out += struct.pack("<2i", *mel.shape) + mel.astype("<f4").tobytes()
    out += struct.pack("<i", len(tokens)) + b"".join(struct.pack("<I", len(t)) + t for t in tokens)
    return out


def tensor_record(name: str, ne: tuple[int, ...], ggml_type: int, data: bytes) -> bytes:
    raw = name.encode()
    return struct.pack("<3i", len(ne), len(raw), ggml_type) + struct.pack(f"<{len(ne)}i", *ne) + raw + data


def tensor_bytes(ne: tuple[int, ...], ggml_type: int, rng: np.random.Generator) -> bytes:
    values = rng.standard_normal(int(np.prod(ne))).astype(np.float32)
    if ggml_type == TYPE_F32:
        return values.tobytes()
    if ggml_type == TYPE_F16:
        return values.astype("<f2").tobytes()
    return quantize_q8_0(values).tobytes()


def build_ggml(path: Path, hp: Hparams = SMALL, *, tensors: bool = True, seed: int = 0) -> Path:
    """A complete (or header-only) whisper ggml file with random weights, valid for the loader."""
    rng = np.random.default_rng(seed)
    tokens = [bytes([i]) for i in range(256)][: min(256, hp.n_vocab)]
    body = ggml_header(hp, tokens)
    if tensors:
        wtype = _WTYPE[hp.ftype % 1000]
        for name, (ne, ggml_type) in expected_tensors(hp, wtype).items():
            body += tensor_record(name, ne, ggml_type, tensor_bytes(ne, ggml_type, rng))
    path.write_bytes(body)
    return path


# ----------------------------------------------------------------------------- CTranslate2
_CT2_DTYPE = {np.dtype("float32"): 0, np.dtype("int8"): 1, np.dtype("int16"): 2, np.dtype("float16"): 4}


def _ct2_string(text: str) -> bytes:
    raw = text.encode() + b"\0"
    return struct.pack("<H", len(raw)) + raw


def write_ct2_bin(
    path: Path,
    variables: dict[str, np.ndarray],
    *,
    spec: str = "WhisperSpec",
    bf16: frozenset[str] = frozenset(),
    aliases: dict[str, str] | None = None,
    version: int = 6,
) -> Path:
    """A CTranslate2 model.bin; names in ``bf16`` are stored as bfloat16 (truncated float32)."""
    out = (
        struct.pack("<I", version)
        + _ct2_string(spec)
        + struct.pack("<I", 3)
        + struct.pack("<I", len(variables))
    )
    for name, arr in variables.items():
        if name in bf16:
            raw = (np.asarray(arr, dtype=np.float32).view(np.uint32) >> 16).astype("<u2").tobytes()
            dtype = 5
        else:
            arr = np.ascontiguousarray(arr)
            raw = arr.astype(arr.dtype.newbyteorder("<")).tobytes()
            dtype = _CT2_DTYPE[arr.dtype]
        out += _ct2_string(name) + struct.pack("<B", arr.ndim) + struct.pack(f"<{arr.ndim}I", *arr.shape)
        out += struct.pack("<BI", dtype, len(raw)) + raw
    aliases = aliases or {}
    out += struct.pack("<I", len(aliases)) + b"".join(
        _ct2_string(a) + _ct2_string(t) for a, t in aliases.items()
    )
    path.write_bytes(out)
    return path


def small_ct2_variables(hp: Hparams = SMALL, dtype: str = "float16", seed: int = 1) -> dict[str, np.ndarray]:
    """A full WhisperSpec variable set with the shapes CTranslate2 uses (fused q/k/v)."""
    rng = np.random.default_rng(seed)
    n, m = hp.n_audio_state, hp.n_mels

    def r(*shape: int) -> np.ndarray:
        return rng.standard_normal(shape).astype(dtype)

    v: dict[str, np.ndarray] = {
        "encoder/num_heads": np.array(hp.n_audio_head, dtype=np.int16),
        "decoder/num_heads": np.array(hp.n_text_head, dtype=np.int16),
        "encoder/conv1/weight": r(n, m, 3),
        "encoder/conv1/bias": r(n),
        "encoder/conv2/weight": r(n, n, 3),
        "encoder/conv2/bias": r(n),
        "encoder/position_encodings/encodings": r(hp.n_audio_ctx, n),
        "encoder/layer_norm/gamma": r(n),
        "encoder/layer_norm/beta": r(n),
        "decoder/embeddings/weight": r(hp.n_vocab, n),
        "decoder/position_encodings/encodings": r(hp.n_text_ctx, n),
        "decoder/layer_norm/gamma": r(n),
        "decoder/layer_norm/beta": r(n),
    }

    def add_common(prefix: str) -> None:
        for part in ("self_attention/layer_norm", "ffn/layer_norm"):
            v[f"{prefix}/{part}/gamma"], v[f"{prefix}/{part}/beta"] = r(n), r(n)
        bias = r(3 * n)
        bias[n : 2 * n] = 0  # Whisper's key projection has no bias; CTranslate2 stores zeros
        v[f"{prefix}/self_attention/linear_0/weight"], v[f"{prefix}/self_attention/linear_0/bias"] = (
            r(3 * n, n),
            bias,
        )
        v[f"{prefix}/self_attention/linear_1/weight"], v[f"{prefix}/self_attention/linear_1/bias"] = (
            r(n, n),
            r(n),
        )
        v[f"{prefix}/ffn/linear_0/weight"], v[f"{prefix}/ffn/linear_0/bias"] = r(4 * n, n), r(4 * n)
        v[f"{prefix}/ffn/linear_1/weight"], v[f"{prefix}/ffn/linear_1/bias"] = r(n, 4 * n), r(n)

    for i in range(hp.n_audio_layer):
        add_common(f"encoder/layer_{i}")
    for i in range(hp.n_text_layer):
        p = f"decoder/layer_{i}"
        add_common(p)
        v[f"{p}/attention/layer_norm/gamma"], v[f"{p}/attention/layer_norm/beta"] = r(n), r(n)
        v[f"{p}/attention/linear_0/weight"], v[f"{p}/attention/linear_0/bias"] = r(n, n), r(n)
        kv_bias = r(2 * n)
        kv_bias[:n] = 0
        v[f"{p}/attention/linear_1/weight"], v[f"{p}/attention/linear_1/bias"] = r(2 * n, n), kv_bias
        v[f"{p}/attention/linear_2/weight"], v[f"{p}/attention/linear_2/bias"] = r(n, n), r(n)
    return v


def small_vocabulary(n_vocab: int) -> list[str]:
    """Byte-level tokens: the 256 single bytes, a few pairs, then <|endoftext|> and specials."""
    chars = list(BYTE_DECODER)
    tokens = chars[:256] + [chars[i] + chars[i + 1] for i in range(20)]
    tokens.append("<|endoftext|>")
    while len(tokens) < n_vocab:
        tokens.append(f"<|special_{len(tokens)}|>")
    return tokens[:n_vocab]


def build_ct2_dir(
    directory: Path, hp: Hparams = SMALL, *, dtype: str = "float16", **bin_kwargs: object
) -> Path:
    """A small but complete CTranslate2 Whisper directory (model.bin, config.json, vocabulary.txt)."""
    directory.mkdir(parents=True, exist_ok=True)
    write_ct2_bin(directory / "model.bin", small_ct2_variables(hp, dtype), **bin_kwargs)  # type: ignore[arg-type]
    (directory / "vocabulary.txt").write_text(
        "\n".join(small_vocabulary(hp.n_vocab)) + "\n", encoding="utf-8"
    )
    (directory / "config.json").write_text(
        json.dumps({"suppress_ids": [1, 2], "lang_ids": []}), encoding="utf-8"
    )
    return directory


# ----------------------------------------------------------------------------- builder checks
def test_synthetic_ggml_is_valid_and_small(tmp_path: Path) -> None:
    for ftype in (0, 1, 7):
        hp = Hparams(**{**SMALL.to_json(), "ftype": ftype})
        info = read_model_info(build_ggml(tmp_path / f"m{ftype}.bin", hp))
        assert info.n_tensors == len(expected_tensors(hp, _WTYPE[ftype]))
        assert info.size < 1_000_000


def test_synthetic_ct2_reads_back(tmp_path: Path) -> None:
    d = build_ct2_dir(tmp_path / "ct2")
    with CT2Model(d / "model.bin") as model:
        assert model.spec == "WhisperSpec"
        assert model.variable("decoder/embeddings/weight").shape == (SMALL.n_vocab, SMALL.n_audio_state)
        assert model.scalar("encoder/num_heads") == SMALL.n_audio_head
        assert model.array("encoder/conv1/bias").dtype == np.float16

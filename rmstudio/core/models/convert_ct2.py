"""Convert a CTranslate2 (faster-whisper) Whisper directory into a whisper.cpp ggml file.

whisper.cpp only reads its own ggml format, while the model RM Studio ships (and most
Whisper models people already have on disk from faster-whisper) are CTranslate2
directories. The weights are the same numbers; what changes is naming, fused projections
and the per-tensor storage type:

* CTranslate2 fuses the self-attention q, k, v projections (and cross-attention k, v) into
  one matrix; whisper.cpp wants them separate, and Whisper's key projection has no bias
  (CTranslate2 stores zeros there), so that third of the fused bias is dropped.
* Biases, layer norms and positional embeddings are float32; the conv biases are stored as
  [n_state, 1]; conv weights are float16 (the im2col path requires it); the other 2-D
  weights are float16, or q8_0 blocks with ``quant="q8_0"``.
* The mel filterbank is computed (CTranslate2 does not carry it) and the vocabulary is
  turned back into raw bytes.

The output is written to a temporary file next to the destination, validated with the
same checks used for imported files, and only then renamed into place, so an interrupted
conversion never leaves a half-written model behind.
"""

from __future__ import annotations

import json
import os
import re
import struct
from collections.abc import Callable, Iterator
from pathlib import Path

import numpy as np

from rmstudio.core.errors import RMError

from .ct2_reader import CT2Model
from .fsutil import finish_file, temp_path_in
from .ggml_format import ModelInfo, read_model_info
from .ggml_types import (
    FTYPE_F16,
    FTYPE_Q8_0,
    GGML_FILE_MAGIC,
    QNT_VERSION,
    QNT_VERSION_FACTOR,
    TYPE_F16,
    TYPE_F32,
)
from .ggml_types import TYPE_Q8_0 as TYPE_Q8
from .mel import mel_filterbank
from .quant import quantize_q8_0
from .vocab import ggml_vocabulary, read_ct2_vocabulary
from .whisper_layout import Hparams, expected_tensors

CONVERTER_VERSION = "1"  # bump when the output bytes for the same input change
QUANTS = ("f16", "q8_0")
# header ftype per output kind. q8_0 carries ggml's quantization version (2) the way
# whisper.cpp's own quantize tool writes it (2007); readers use ftype % 1000 == 7.
_HEADER_FTYPE = {"f16": FTYPE_F16, "q8_0": QNT_VERSION * QNT_VERSION_FACTOR + FTYPE_Q8_0}
_WTYPE = {"f16": TYPE_F16, "q8_0": TYPE_Q8}
_CHUNK_VALUES = 1 << 20  # quantize / cast this many values at a time to bound temporary memory

Progress = Callable[[int, int], None]


def _not_ct2(path: Path, message: str, hint: str | None = None) -> RMError:
    return RMError(
        "invalid_model",
        f"not a CTranslate2 Whisper model directory: {message}",
        hint=hint
        or "Pass the directory that holds model.bin, config.json and vocabulary.txt (a faster-whisper model)",
        source=str(path),
    )


def ct2_source_files(ct2_dir: str | os.PathLike[str]) -> list[Path]:
    """The files of a CTranslate2 directory that determine the converted output."""
    d = Path(ct2_dir)
    names = ["model.bin", "config.json", "vocabulary.json", "vocabulary.txt", "tokenizer.json"]
    present = [d / n for n in names if (d / n).is_file()]
    # the vocabulary actually used is the first present of json/txt/tokenizer.json
    vocab = [p for p in present if p.name in ("vocabulary.json", "vocabulary.txt", "tokenizer.json")]
    return [p for p in present if p.name in ("model.bin", "config.json")] + vocab[:1]


def check_ct2_dir(ct2_dir: str | os.PathLike[str]) -> Path:
    """The directory as a Path if it looks like a CTranslate2 Whisper model, else RMError."""
    d = Path(ct2_dir)
    if not d.exists():
        raise RMError("file_not_found", "CTranslate2 model directory not found", source=str(d))
    if not d.is_dir():
        hint = None
        if d.suffix == ".bin":
            hint = "A single .bin file is probably a ggml model already; import it instead of converting"
        raise _not_ct2(d, "this is a file, not a directory", hint)
    if not (d / "model.bin").is_file():
        raise _not_ct2(d, "there is no model.bin")
    if not any((d / n).is_file() for n in ("vocabulary.json", "vocabulary.txt", "tokenizer.json")):
        raise _not_ct2(d, "there is no vocabulary.txt, vocabulary.json or tokenizer.json")
    config = d / "config.json"
    if config.is_file():
        try:
            data = json.loads(config.read_text(encoding="utf-8"))
        except (ValueError, UnicodeDecodeError) as exc:
            raise _not_ct2(d, f"config.json is not valid JSON ({exc})") from None
        if not isinstance(data, dict):
            raise _not_ct2(d, "config.json is not a JSON object")
    return d


def _layers(model: CT2Model, prefix: str) -> int:
    pattern = re.compile(re.escape(prefix) + r"/layer_(\d+)/")
    found = {int(m.group(1)) for name in model.variables if (m := pattern.match(name))}
    if found != set(range(len(found))):
        raise _not_ct2(model.path.parent, f"{prefix} layers are not numbered 0..n-1: {sorted(found)}")
    return len(found)


def _shape(model: CT2Model, name: str, rank: int) -> tuple[int, ...]:
    if name not in model:
        raise _not_ct2(model.path.parent, f"model.bin has no variable '{name}'")
    shape = model.variable(name).shape
    if len(shape) != rank:
        raise _not_ct2(model.path.parent, f"variable '{name}' has shape {list(shape)}, expected rank {rank}")
    return shape


def read_hparams(model: CT2Model, ftype: int = FTYPE_F16) -> Hparams:
    """Whisper's hyper-parameters, derived from the weight shapes (config.json does not carry them)."""
    if model.spec != "WhisperSpec":
        raise _not_ct2(model.path.parent, f"model.bin holds a '{model.spec}', not a WhisperSpec")
    n_vocab, n_text_state = _shape(model, "decoder/embeddings/weight", 2)
    n_audio_ctx, n_audio_state = _shape(model, "encoder/position_encodings/encodings", 2)
    n_text_ctx, _ = _shape(model, "decoder/position_encodings/encodings", 2)
    _, n_mels, _ = _shape(model, "encoder/conv1/weight", 3)
    # CTranslate2 records the head counts as scalars; Whisper's heads are always 64 wide
    n_audio_head = int(model.scalar("encoder/num_heads") or n_audio_state // 64)
    n_text_head = int(model.scalar("decoder/num_heads") or n_text_state // 64)
    return Hparams(
        n_vocab=n_vocab,
        n_audio_ctx=n_audio_ctx,
        n_audio_state=n_audio_state,
        n_audio_head=n_audio_head,
        n_audio_layer=_layers(model, "encoder"),
        n_text_ctx=n_text_ctx,
        n_text_state=n_text_state,
        n_text_head=n_text_head,
        n_text_layer=_layers(model, "decoder"),
        n_mels=n_mels,
        ftype=ftype,
    )


def _float(model: CT2Model, name: str) -> np.ndarray:
    if name not in model:
        raise _not_ct2(model.path.parent, f"model.bin has no variable '{name}'")
    var = model.variable(name)
    if var.dtype_name not in ("float32", "float16", "bfloat16"):
        raise _not_ct2(
            model.path.parent,
            f"variable '{name}' is {var.dtype_name}; only float32/float16/bfloat16 models can be converted",
            "Re-export it with CTranslate2's --quantization float16 (faster-whisper's published models are)",
        )
    return model.array(name)


def _split(arr: np.ndarray, parts: int) -> list[np.ndarray]:
    return np.split(arr, parts, axis=0)


def _source_tensors(model: CT2Model, hp: Hparams) -> Iterator[tuple[str, np.ndarray]]:
    """(ggml name, array in ggml's numpy shape) pairs, read one at a time."""
    get = lambda name: _float(model, name)  # noqa: E731

    def norm(dst: str, src: str) -> Iterator[tuple[str, np.ndarray]]:
        yield f"{dst}.weight", get(f"{src}/gamma")
        yield f"{dst}.bias", get(f"{src}/beta")

    def linear(dst: str, src: str) -> Iterator[tuple[str, np.ndarray]]:
        yield f"{dst}.weight", get(f"{src}/weight")
        yield f"{dst}.bias", get(f"{src}/bias")

    def self_attention(dst: str, src: str) -> Iterator[tuple[str, np.ndarray]]:
        yield from norm(f"{dst}.attn_ln", f"{src}/self_attention/layer_norm")
        q_w, k_w, v_w = _split(get(f"{src}/self_attention/linear_0/weight"), 3)
        q_b, _k_b, v_b = _split(get(f"{src}/self_attention/linear_0/bias"), 3)
        yield f"{dst}.attn.query.weight", q_w
        yield f"{dst}.attn.query.bias", q_b
        yield f"{dst}.attn.key.weight", k_w
        yield f"{dst}.attn.value.weight", v_w
        yield f"{dst}.attn.value.bias", v_b
        yield from linear(f"{dst}.attn.out", f"{src}/self_attention/linear_1")

    def mlp(dst: str, src: str) -> Iterator[tuple[str, np.ndarray]]:
        yield from norm(f"{dst}.mlp_ln", f"{src}/ffn/layer_norm")
        yield from linear(f"{dst}.mlp.0", f"{src}/ffn/linear_0")
        yield from linear(f"{dst}.mlp.2", f"{src}/ffn/linear_1")

    yield "encoder.positional_embedding", get("encoder/position_encodings/encodings")
    for i in (1, 2):
        yield f"encoder.conv{i}.weight", get(f"encoder/conv{i}/weight")
        yield f"encoder.conv{i}.bias", get(f"encoder/conv{i}/bias").reshape(-1, 1)
    for i in range(hp.n_audio_layer):
        yield from self_attention(f"encoder.blocks.{i}", f"encoder/layer_{i}")
        yield from mlp(f"encoder.blocks.{i}", f"encoder/layer_{i}")
    yield from norm("encoder.ln_post", "encoder/layer_norm")

    yield "decoder.positional_embedding", get("decoder/position_encodings/encodings")
    yield "decoder.token_embedding.weight", get("decoder/embeddings/weight")
    for i in range(hp.n_text_layer):
        src, dst = f"decoder/layer_{i}", f"decoder.blocks.{i}"
        yield from self_attention(dst, src)
        yield from norm(f"{dst}.cross_attn_ln", f"{src}/attention/layer_norm")
        yield from linear(f"{dst}.cross_attn.query", f"{src}/attention/linear_0")
        k_w, v_w = _split(get(f"{src}/attention/linear_1/weight"), 2)
        _k_b, v_b = _split(get(f"{src}/attention/linear_1/bias"), 2)
        yield f"{dst}.cross_attn.key.weight", k_w
        yield f"{dst}.cross_attn.value.weight", v_w
        yield f"{dst}.cross_attn.value.bias", v_b
        yield from linear(f"{dst}.cross_attn.out", f"{src}/attention/linear_2")
        yield from mlp(dst, src)
    yield from norm("decoder.ln", "decoder/layer_norm")


def _encode(arr: np.ndarray, ggml_type: int) -> Iterator[bytes]:
    """The tensor's bytes in ggml's storage type, produced in bounded chunks."""
    flat = arr.reshape(-1)
    row = arr.shape[-1] if arr.ndim else 1
    step = max(row, _CHUNK_VALUES // row * row)
    for start in range(0, flat.size, step):
        part = flat[start : start + step]
        if ggml_type == TYPE_F32:
            yield part.astype("<f4").tobytes()
        elif ggml_type == TYPE_F16:
            yield part.astype("<f2").tobytes()
        elif ggml_type == TYPE_Q8:
            yield quantize_q8_0(part).tobytes()
        else:  # pragma: no cover - guarded by QUANTS
            raise AssertionError(ggml_type)


def _write_header(out, hp: Hparams, filters: np.ndarray, vocab: list[bytes]) -> None:
    out.write(struct.pack("<I", GGML_FILE_MAGIC))
    out.write(struct.pack("<11i", *hp.as_tuple()))
    out.write(struct.pack("<2i", *filters.shape))
    out.write(filters.astype("<f4").tobytes())
    out.write(struct.pack("<i", len(vocab)))
    out.write(b"".join(struct.pack("<I", len(t)) + t for t in vocab))


def convert_ct2_to_ggml(
    ct2_dir: str | os.PathLike[str],
    out_path: str | os.PathLike[str],
    *,
    quant: str = "f16",
    progress: Progress | None = None,
) -> ModelInfo:
    """Write ``out_path`` as a whisper.cpp ggml model converted from ``ct2_dir``.

    ``quant`` is ``"f16"`` or ``"q8_0"``. ``progress(done, total)`` is called as tensor
    values are written (total = all values of all tensors). The destination appears only
    when the file is complete and has passed validation; returns its :class:`ModelInfo`.
    """
    if quant not in QUANTS:
        raise RMError(
            "invalid_param", f"unknown weight format '{quant}'", hint="Use one of: " + ", ".join(QUANTS)
        )
    src = check_ct2_dir(ct2_dir)
    dest = Path(out_path)
    dest.parent.mkdir(parents=True, exist_ok=True)
    try:
        tokens = read_ct2_vocabulary(src)
        vocab = ggml_vocabulary(tokens)
    except (ValueError, KeyError, UnicodeDecodeError) as exc:
        raise _not_ct2(src, f"the vocabulary cannot be read ({exc})") from None

    with CT2Model(src / "model.bin") as model:
        hp = read_hparams(model, _HEADER_FTYPE[quant])
        if len(tokens) != hp.n_vocab:
            raise _not_ct2(
                src, f"the vocabulary has {len(tokens)} tokens but the embeddings have {hp.n_vocab} rows"
            )
        if quant == "q8_0" and hp.n_audio_state % 32:
            raise RMError(
                "invalid_param", f"q8_0 needs a state size divisible by 32, this model has {hp.n_audio_state}"
            )
        layout = expected_tensors(hp, _WTYPE[quant])
        total = sum(int(np.prod(shape)) for shape, _ in layout.values())
        done = 0
        tmp = temp_path_in(dest.parent, dest.name)
        try:
            with open(tmp, "wb") as out:
                _write_header(out, hp, mel_filterbank(hp.n_mels), vocab)
                for name, arr in _source_tensors(model, hp):
                    want_ne, ggml_type = layout[name]
                    ne = tuple(reversed(arr.shape))
                    if ne != want_ne:
                        raise _not_ct2(
                            src, f"'{name}' would have shape {list(ne)}, whisper.cpp needs {list(want_ne)}"
                        )
                    if not np.isfinite(arr).all():
                        raise _not_ct2(
                            src, f"'{name}' contains NaN or infinity", "The model weights are damaged"
                        )
                    raw_name = name.encode("ascii")
                    out.write(struct.pack("<3i", len(ne), len(raw_name), ggml_type))
                    out.write(struct.pack(f"<{len(ne)}i", *ne))
                    out.write(raw_name)
                    for chunk in _encode(arr, ggml_type):
                        out.write(chunk)
                    done += arr.size
                    if progress is not None:
                        progress(done, total)
            info = read_model_info(tmp)
            if info.n_tensors != len(layout):
                raise AssertionError(f"converter wrote {info.n_tensors} of {len(layout)} tensors")
            finish_file(tmp, dest)
        except BaseException:
            tmp.unlink(missing_ok=True)
            raise
    info.path = dest
    return info

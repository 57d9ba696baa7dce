"""ggml model validation: whisper.cpp's own header-only test models, synthetic full models, and
corruption at many offsets, which must always end in RMError("invalid_model") with an offset."""

from __future__ import annotations

import ctypes
import glob
import os
import random
import struct
from pathlib import Path

import numpy as np
import pytest

from rmstudio.core.errors import RMError
from rmstudio.core.models import read_model_info
from rmstudio.core.models.ggml_format import read_mel_and_vocab
from rmstudio.core.models.ggml_types import FILE_TYPES, GGML_TYPES, TYPE_F16, TYPE_F32
from rmstudio.core.models.whisper_layout import Hparams

from .test_models_support import SMALL, build_ggml, ggml_header, tensor_record

TEST_MODELS = {
    # name: (n_vocab, n_audio_state, n_audio_head, n_audio_layer)
    "tiny.en": (51864, 384, 6, 4),
    "tiny": (51865, 384, 6, 4),
    "base.en": (51864, 512, 8, 6),
    "base": (51865, 512, 8, 6),
    "small.en": (51864, 768, 12, 12),
    "small": (51865, 768, 12, 12),
    "medium.en": (51864, 1024, 16, 24),
    "medium": (51865, 1024, 16, 24),
    "large": (51865, 1280, 20, 32),
}


def _expect_invalid(path: Path) -> RMError:
    with pytest.raises(RMError) as err:
        read_model_info(path)
    assert err.value.code == "invalid_model", err.value
    assert isinstance(err.value.details.get("offset"), int)
    assert err.value.hint
    return err.value


@pytest.mark.parametrize("name", sorted(TEST_MODELS))
def test_header_only_test_models_parse(whisper_src: Path, name: str) -> None:
    path = whisper_src / "models" / f"for-tests-ggml-{name}.bin"
    info = read_model_info(path, sha256=True)
    n_vocab, state, heads, layers = TEST_MODELS[name]
    hp = info.hparams
    assert (hp.n_vocab, hp.n_audio_state, hp.n_audio_head, hp.n_audio_layer) == (
        n_vocab,
        state,
        heads,
        layers,
    )
    assert (hp.n_audio_ctx, hp.n_text_ctx, hp.n_mels, hp.ftype) == (1500, 448, 80, 1)
    assert info.family == name.split(".")[0]
    assert info.english_only is name.endswith(".en")
    assert info.label == name
    assert info.ftype_name == "f16" and info.qntvr == 0
    assert info.header_only and info.n_tensors == 0 and info.tensor_types == {}
    assert info.n_vocab_file == 50257
    assert info.size == path.stat().st_size and len(info.sha256 or "") == 64
    assert info.to_json()["label"] == name


def test_the_vad_model_is_refused_as_not_whisper(whisper_src: Path) -> None:
    err = _expect_invalid(next((whisper_src / "models").glob("for-tests-silero-*.bin")))
    assert "silero" in err.message and "not a Whisper model" in err.message


def test_type_table_matches_the_pinned_ggml_library() -> None:
    """Our block/byte sizes are the ones compiled into the ggml shipped with pywhispercpp."""
    import pywhispercpp

    libs = glob.glob(
        os.path.join(os.path.dirname(os.path.dirname(pywhispercpp.__file__)), "libggml-base.so*")
    )
    if not libs:
        pytest.skip("libggml-base from the pywhispercpp wheel is not available on this platform")
    lib = ctypes.CDLL(libs[0])
    lib.ggml_type_size.restype = ctypes.c_size_t
    lib.ggml_blck_size.restype = ctypes.c_int64
    lib.ggml_type_name.restype = ctypes.c_char_p
    for type_id, t in GGML_TYPES.items():
        assert lib.ggml_blck_size(type_id) == t.block_size, t
        assert lib.ggml_type_size(type_id) == t.type_size, t
        assert lib.ggml_type_name(type_id).decode() == t.name
    for type_id in set(range(42)) - set(GGML_TYPES):
        assert lib.ggml_blck_size(type_id) == 0  # removed types


@pytest.mark.parametrize("ftype", [0, 1, 7, 2007])
def test_complete_synthetic_models_validate(tmp_path: Path, ftype: int) -> None:
    hp = Hparams(**{**SMALL.to_json(), "ftype": ftype})
    info = read_model_info(build_ggml(tmp_path / "m.bin", hp))
    assert not info.header_only
    assert info.ftype_name == FILE_TYPES[ftype % 1000][0] and info.qntvr == ftype // 1000
    types = info.tensor_types
    assert types["f32"] > 0
    if ftype == 7 or ftype == 2007:
        assert types["f16"] == 2 and types["q8_0"] > 0  # conv weights stay f16
    # records are contiguous and end exactly at EOF
    end = info.tensors[0].offset
    for t in info.tensors:
        assert t.offset == end
        end = t.data_offset + t.nbytes
    assert end == info.size


# ------------------------------------------------------------------ specific defects
def _small_with_records(tmp_path: Path, records: bytes, hp: Hparams = SMALL) -> Path:
    path = tmp_path / "bad.bin"
    path.write_bytes(ggml_header(hp, [b"a", b"b"]) + records)
    return path


def _patch(src: Path, dst: Path, offset: int, data: bytes) -> Path:
    raw = bytearray(src.read_bytes())
    raw[offset : offset + len(data)] = data
    dst.write_bytes(bytes(raw))
    return dst


def test_defects_give_precise_errors(tmp_path: Path, whisper_src: Path) -> None:
    good = whisper_src / "models" / "for-tests-ggml-tiny.en.bin"
    cases = {
        "bad magic": (_patch(good, tmp_path / "a", 0, b"GGUF"), 0, "GGUF"),
        "ftype": (_patch(good, tmp_path / "b", 44, struct.pack("<i", 5)), 44, "file type 5"),
        "qntvr": (_patch(good, tmp_path / "c", 44, struct.pack("<i", 3007)), 44, "quantization version 3"),
        "heads": (_patch(good, tmp_path / "d", 16, struct.pack("<i", 7)), 16, "does not divide"),
        "text state": (_patch(good, tmp_path / "e", 28, struct.pack("<i", 768)), 28, "n_text_state"),
        "n_mel": (_patch(good, tmp_path / "f", 48, struct.pack("<i", 128)), 48, "mel filters"),
        "n_fft": (_patch(good, tmp_path / "g", 52, struct.pack("<i", 200)), 52, "FFT bins"),
        "mel NaN": (_patch(good, tmp_path / "h", 60, struct.pack("<f", float("nan"))), 56, "NaN"),
        "vocab count": (
            _patch(good, tmp_path / "i", 64376, struct.pack("<i", 60000)),
            64376,
            "vocabulary count",
        ),
        "token length": (_patch(good, tmp_path / "j", 64380, struct.pack("<I", 1 << 30)), 64380, "token 0"),
    }
    for what, (path, offset, text) in cases.items():
        err = _expect_invalid(path)
        assert err.details["offset"] == offset, (what, err)
        assert text in err.message, (what, err)
        assert err.source == str(path)


def test_tensor_record_defects(tmp_path: Path) -> None:
    n = SMALL.n_audio_state
    bias = struct.pack(f"<{n}f", *([0.5] * n))
    ok = tensor_record("encoder.ln_post.bias", (n,), TYPE_F32, bias)
    cases = {
        "5 dims": (tensor_record("encoder.ln_post.bias", (n, 1, 1, 1, 1), TYPE_F32, bias), "5 dimensions"),
        "unknown type": (struct.pack("<3i", 1, 4, 4) + struct.pack("<i", n) + b"abcd", "unknown ggml type 4"),
        "name length": (struct.pack("<3i", 1, 100000, 0) + struct.pack("<i", n), "name of 100000 bytes"),
        "zero dim": (tensor_record("encoder.ln_post.bias", (0,), TYPE_F32, b""), "dimension 0 = 0"),
        "bad name": (tensor_record("encoder.\x01", (n,), TYPE_F32, bias), "control characters"),
        "unknown name": (
            tensor_record("encoder.extra", (n,), TYPE_F32, bias),
            "unknown tensor 'encoder.extra'",
        ),
        "wrong shape": (
            tensor_record("encoder.ln_post.bias", (n // 2,), TYPE_F32, bias[: 2 * n]),
            "has shape",
        ),
        "wrong type": (
            tensor_record("encoder.ln_post.bias", (n,), TYPE_F16, bias[: 2 * n]),
            "read it as f32",
        ),
        "partial block": (tensor_record("x", (33,), 8, b"\0" * 34), "whole q8_0 blocks"),
        "truncated data": (ok[:-3], "file ends inside the data"),
        "trailing bytes": (ok + b"\0" * 7, "7 stray bytes"),
        "duplicate": (ok + ok, "appears twice"),
        "missing tensors": (ok, "tensors are missing"),
    }
    for what, (records, text) in cases.items():
        err = _expect_invalid(_small_with_records(tmp_path, records))
        assert text in err.message, (what, err.message)


def test_layout_check_can_be_turned_off(tmp_path: Path) -> None:
    n = SMALL.n_audio_state
    path = _small_with_records(tmp_path, tensor_record("anything", (n,), TYPE_F32, b"\0" * 4 * n))
    info = read_model_info(path, check_layout=False)
    assert [t.name for t in info.tensors] == ["anything"]


def test_non_files(tmp_path: Path) -> None:
    with pytest.raises(RMError) as err:
        read_model_info(tmp_path / "missing.bin")
    assert err.value.code == "file_not_found"
    (tmp_path / "ct2").mkdir()
    (tmp_path / "ct2" / "model.bin").write_bytes(b"x")
    with pytest.raises(RMError) as err:
        read_model_info(tmp_path / "ct2")
    assert err.value.code == "invalid_model" and "CTranslate2" in (err.value.hint or "")
    (tmp_path / "empty.bin").write_bytes(b"")
    assert _expect_invalid(tmp_path / "empty.bin").details["offset"] == 0
    (tmp_path / "short.bin").write_bytes(b"lmg")
    assert "file ends inside the magic" in _expect_invalid(tmp_path / "short.bin").message


# ------------------------------------------------------------------ fuzzing
def _offsets(size: int, count: int, rng: random.Random) -> list[int]:
    return sorted(set(rng.sample(range(size), min(count, size))) | {0, 1, 3, 4, 47, 48, size - 1})


def test_truncation_at_many_offsets_is_always_invalid_model(tmp_path: Path, whisper_src: Path) -> None:
    rng = random.Random(1234)
    full = build_ggml(tmp_path / "full.bin", Hparams(**{**SMALL.to_json(), "ftype": 7}))
    first_tensor = read_model_info(full).tensors[0].offset
    header_only = whisper_src / "models" / "for-tests-ggml-base.en.bin"
    cut = tmp_path / "cut.bin"
    checked = 0
    for source, count in ((full, 400), (header_only, 200)):
        raw = source.read_bytes()
        offsets = _offsets(len(raw), count, rng)
        if source is full:  # every record boundary too
            offsets += [t.offset for t in read_model_info(full).tensors] + [
                t.data_offset for t in read_model_info(full).tensors
            ]
        for offset in offsets:
            cut.write_bytes(raw[:offset])
            if source is full and offset == first_tensor:
                assert read_model_info(cut).header_only  # exactly the header: a valid empty test model
                continue
            _expect_invalid(cut)
            checked += 1
    assert checked > 600


def test_random_corruption_never_raises_anything_but_invalid_model(tmp_path: Path, whisper_src: Path) -> None:
    rng = random.Random(99)
    sources = [
        build_ggml(tmp_path / "q8.bin", Hparams(**{**SMALL.to_json(), "ftype": 7})),
        build_ggml(tmp_path / "f16.bin", SMALL),
        whisper_src / "models" / "for-tests-ggml-tiny.bin",
    ]
    bad = tmp_path / "bad.bin"
    outcomes = {"ok": 0, "invalid": 0}
    for source in sources:
        raw = source.read_bytes()
        info = read_model_info(source)
        # structure lives in the header and in the tensor record headers: aim there mostly
        hot = list(range(0, 56)) + list(range(64376, 64376 + 2000))
        for t in info.tensors:
            hot += list(range(t.offset, t.data_offset))
        for _ in range(400):
            data = bytearray(raw)
            for _ in range(rng.choice((1, 1, 2, 4))):
                pos = rng.choice(hot) if rng.random() < 0.8 else rng.randrange(len(raw))
                pos = min(pos, len(raw) - 1)
                data[pos] = rng.choice((0, 0xFF, rng.randrange(256), data[pos] ^ (1 << rng.randrange(8))))
            if rng.random() < 0.2:  # and sometimes cut or extend the file as well
                data = (
                    data[: rng.randrange(len(data))]
                    if rng.random() < 0.5
                    else data + bytes(rng.randrange(1, 40))
                )
            bad.write_bytes(bytes(data))
            try:
                read_model_info(bad)
                outcomes["ok"] += 1
            except RMError as exc:
                assert exc.code == "invalid_model", exc
                assert isinstance(exc.details.get("offset"), int)
                outcomes["invalid"] += 1
    assert outcomes["invalid"] > 500


def test_mel_and_vocab_reader(whisper_src: Path) -> None:
    mel, tokens = read_mel_and_vocab(whisper_src / "models" / "for-tests-ggml-tiny.en.bin")
    assert mel.shape == (80, 201) and mel.dtype == np.float32
    assert len(tokens) == 50257 and tokens[220] == b" " and tokens[-1] == b"<|endoftext|>"


def test_a_fifo_is_refused_without_waiting_for_a_writer(tmp_path):
    fifo = tmp_path / "model.bin"
    os.mkfifo(fifo)
    with pytest.raises(RMError) as exc:  # opening it would block until something writes
        read_model_info(fifo)
    assert exc.value.code == "invalid_model" and "not a regular file" in exc.value.message

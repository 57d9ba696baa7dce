"""`rmstudio models quantize`: ggml's quantizer in the guest, with real weights and real speech.

Three independent references judge the guest's files:

* our numpy q8_0 converter (``core/models/quant.py``, written from ggml's reference rounding
  rules) — the guest's q8_0 of the f16 tiny.en must equal it byte for byte;
* native ggml: ``ggml_quantize_chunk`` of the ``libggml-base`` that ships in the pywhispercpp
  wheel (x86, another compiler, another build) — every quantized tensor of every type must equal
  what it makes from the same f16/f32 values;
* whisper.cpp itself, in the guest and natively (pywhispercpp): the quantized models load and
  transcribe jfk.wav.

Each quantization of tiny.en takes well under a second in the guest; the transcriptions are the
slow part, so only two formats are transcribed.
"""

from __future__ import annotations

import ctypes
import glob
import json
import os
import re
import struct
import subprocess
import sys
import threading
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from rmstudio.core.engine.host import RunControl
from rmstudio.core.errors import RMError
from rmstudio.core.metrics.wer import wer
from rmstudio.core.models import QUANTIZE_TYPES, ModelStore, quantize_model, read_model_info
from rmstudio.core.models.ggml_types import FILE_TYPES, GGML_TYPES, TYPE_F16, TYPE_F32
from rmstudio.core.runs import Limits, Preopen
from rmstudio.core.transcribe import WhisperOptions, transcribe_file
from tests.conftest import REPO
from tests.integration.test_whisper_guest import JFK_TEXT
from tests.unit.test_models_support import SMALL, build_ggml

WER_TOLERANCE = 0.05  # one word of 22, as the other jfk tests allow
TRANSCRIBED = ("q5_1", "q4_0")
QUICK = ("q8_0", "q5_1", "q5_0", "q4_1", "q4_0")  # the types tiny's 384-wide rows allow


# ----------------------------------------------------------------------------- helpers
def _native_ggml() -> ctypes.CDLL | None:
    import pywhispercpp

    libs = glob.glob(
        os.path.join(os.path.dirname(os.path.dirname(pywhispercpp.__file__)), "libggml-base.so*")
    )
    if not libs:
        return None
    lib = ctypes.CDLL(libs[0])
    lib.ggml_quantize_chunk.restype = ctypes.c_size_t
    lib.ggml_quantize_chunk.argtypes = [
        ctypes.c_int,
        ctypes.c_void_p,
        ctypes.c_void_p,
        ctypes.c_int64,
        ctypes.c_int64,
        ctypes.c_int64,
        ctypes.c_void_p,
    ]
    return lib


@pytest.fixture(scope="module")
def native_ggml() -> ctypes.CDLL:
    lib = _native_ggml()
    if lib is None:
        pytest.skip("libggml-base from the pywhispercpp wheel is not available on this platform")
    return lib


def assert_matches_native_ggml(lib: ctypes.CDLL, source: Path, produced: Path) -> dict[str, int]:
    """Every tensor of ``produced`` is the source's bytes, its f16 rounding (conv weights of an
    f32 model), or exactly what native ggml_quantize_chunk makes of the source values."""
    src, out = read_model_info(source), read_model_info(produced)
    a_raw, b_raw = source.read_bytes(), produced.read_bytes()
    first = src.tensors[0].offset
    assert b_raw[:44] == a_raw[:44] and b_raw[48:first] == a_raw[48:first]  # header but ftype, mel, vocab
    assert [t.name for t in src.tensors] == [t.name for t in out.tensors]
    kinds = {"copied": 0, "to_f16": 0, "quantized": 0}
    for a, b in zip(src.tensors, out.tensors, strict=True):
        assert a.ne == b.ne, a.name
        data = a_raw[a.data_offset : a.data_offset + a.nbytes]
        got = b_raw[b.data_offset : b.data_offset + b.nbytes]
        if a.ggml_type == b.ggml_type:
            assert got == data, a.name
            kinds["copied"] += 1
            continue
        values = np.frombuffer(data, dtype="<f2" if a.ggml_type == TYPE_F16 else "<f4").astype(np.float32)
        if b.ggml_type == TYPE_F16:
            assert a.ggml_type == TYPE_F32 and got == values.astype("<f2").tobytes(), a.name
            kinds["to_f16"] += 1
            continue
        want = ctypes.create_string_buffer(b.nbytes)
        n = lib.ggml_quantize_chunk(
            b.ggml_type, values.ctypes.data, want, 0, values.size // a.ne[0], a.ne[0], None
        )
        assert n == b.nbytes and got == want.raw, (
            f"{a.name} ({GGML_TYPES[b.ggml_type].name}) differs from native ggml"
        )
        kinds["quantized"] += 1
    return kinds


def store_files(store: ModelStore) -> set[str]:
    """Everything in the store directory but the lock (temp files and directories included)."""
    return {p.name for p in store.root.iterdir() if p.name != ".index.lock"}


def guest_quantize(sandbox, in_dir: Path, out_dir: Path, request: Any) -> Any:
    """A raw quantize request to the executor: ``in_dir`` read-only at /in, ``out_dir`` writable at /out."""
    body = request if isinstance(request, bytes) else json.dumps(request).encode()
    preopens = [Preopen(in_dir, "/in"), Preopen(out_dir, "/out", writable=True)]
    return sandbox.run_bytes(body, Limits(), preopens)


def quantize_request(input_name: str, qtype: str, output: str = "/out/model.bin") -> dict[str, Any]:
    return {
        "command": "quantize",
        "quantize": {"input": f"/in/{input_name}", "output": output, "type": qtype},
    }


def f32_copy(source: Path, dest: Path) -> Path:
    """The model with every f16 tensor widened to f32 and header file type 0 (all f32): an exact
    f32 model whose quantization must equal the f16 model's."""
    info = read_model_info(source)
    raw = source.read_bytes()
    first = info.tensors[0].offset
    out = bytearray(raw[:first])
    struct.pack_into("<i", out, 44, 0)
    for t in info.tensors:
        data = raw[t.data_offset : t.data_offset + t.nbytes]
        ttype = t.ggml_type
        if ttype == TYPE_F16:
            data = np.frombuffer(data, dtype="<f2").astype("<f4").tobytes()
            ttype = TYPE_F32
        name = t.name.encode()
        out += (
            struct.pack("<3i", len(t.ne), len(name), ttype)
            + struct.pack(f"<{len(t.ne)}i", *t.ne)
            + name
            + data
        )
    dest.write_bytes(bytes(out))
    return dest


# ----------------------------------------------------------------------------- fixtures
@pytest.fixture(scope="module")
def store(tmp_path_factory, tiny_en_ggml) -> ModelStore:
    """A fresh store holding the f16 tiny.en (converted by our CTranslate2 converter)."""
    s = ModelStore(tmp_path_factory.mktemp("store") / "models")
    s.import_model(tiny_en_ggml["f16"], name="tiny.en")
    return s


@pytest.fixture(scope="module")
def quantized(store, sandbox) -> dict[str, Any]:
    """tiny.en quantized by the guest to each type tiny allows, once: {type: QuantizeResult}."""
    events: dict[str, list[dict]] = {}
    out = {}
    for qtype in QUICK:
        events[qtype] = []
        out[qtype] = quantize_model(
            "tiny.en", qtype, store=store, engine=sandbox, on_event=events[qtype].append
        )
    out["events"] = events
    return out


# ----------------------------------------------------------------------------- 1. q8_0 parity
def test_guest_q8_0_is_byte_identical_to_the_numpy_converter(quantized, tiny_en_ggml):
    """The guest's q8_0 of the f16 tiny.en equals our numpy converter's tiny.en-q8_0, byte for byte.

    They agree because both follow whisper.cpp's rules for what is quantized: its quantize tool
    (examples/quantize) quantizes every 2-D tensor except ``encoder.conv1.bias``,
    ``encoder.conv2.bias`` (stored as [1, n_state]) and the two positional embeddings, i.e. exactly
    the tensors the loader creates with the file's weight type — which is the set the converter
    writes as q8_0 (``whisper_layout.expected_tensors``). 1-D tensors stay f32 and the 3-D conv
    weights stay f16 in both. Within a quantized tensor both apply ggml's reference q8_0 rounding
    (``quantize_row_q8_0_ref``: scale amax/127 rounded to f16, values rounded half away from zero),
    and the header carries the quantization version the same way (ftype 2007).
    """
    result = quantized["q8_0"]
    numpy_file = Path(tiny_en_ggml["q8_0"])
    assert result.model.path.read_bytes() == numpy_file.read_bytes()
    assert result.model.name == "tiny.en-q8_0" and result.model.ftype == "q8_0"
    assert result.model.source == "quantize" and result.model.origin == "tiny.en"
    assert result.guest["quantized"] == 65 and result.guest["copied"] == 102
    assert result.guest["converted_to_f16"] == 0


def test_quantizing_an_f32_model_gives_the_same_bytes(store, sandbox, quantized, tmp_path):
    """f32 -> q8_0 equals f16 -> q8_0 for the same (f16-exact) weights. The conv weights are the
    one place the guest departs from upstream's tool, which would copy them as f32: whisper.cpp's
    loader sizes them as f16 in any quantized file and would reject the model, so the guest
    rounds them to f16 (exactly, here)."""
    f32_path = f32_copy(store.get("tiny.en").path, tmp_path / "tiny.en-f32.bin")
    model = store.import_model(f32_path, name="tiny.en-f32")
    assert model.ftype == "f32"
    result = quantize_model("tiny.en-f32", "q8_0", name="from-f32", store=store, engine=sandbox)
    # the bytes equal the stored tiny.en-q8_0, so the store keeps that one copy
    assert result.duplicate and result.model.name == "tiny.en-q8_0"
    assert result.guest["converted_to_f16"] == 2 and result.guest["input_type"] == "f32"
    assert store.get("from-f32") is None
    store.remove("tiny.en-f32")


@pytest.mark.parametrize("qtype", QUICK)
def test_every_quantized_tensor_matches_native_ggml(quantized, store, native_ggml, qtype):
    result = quantized[qtype]
    kinds = assert_matches_native_ggml(native_ggml, store.get("tiny.en").path, result.model.path)
    assert kinds == {"copied": 102, "to_f16": 0, "quantized": 65}
    info = read_model_info(result.model.path)  # whisper.cpp's loader rules
    assert info.ftype_name == qtype and info.qntvr == 2
    assert info.tensor_types == {"f32": 100, "f16": 2, qtype: 65}


@pytest.mark.parametrize("qtype", QUANTIZE_TYPES)
@pytest.mark.parametrize("ftype", [1, 0], ids=["f16", "f32"])
def test_every_type_on_a_synthetic_model_with_256_wide_rows(sandbox, native_ggml, tmp_path, qtype, ftype):
    """The k-quants need rows of a multiple of 256, which tiny (384) lacks: a small random model
    with a state of 256 covers all ten types, from f16 and from f32."""
    hp = SMALL.__class__(**{**SMALL.to_json(), "n_audio_state": 256, "n_text_state": 256, "ftype": ftype})
    (tmp_path / "in").mkdir()
    (tmp_path / "out").mkdir()
    src = build_ggml(tmp_path / "in" / "m.bin", hp, seed=7)
    result = guest_quantize(sandbox, tmp_path / "in", tmp_path / "out", quantize_request("m.bin", qtype))
    assert result.ok, result.error
    produced = tmp_path / "out" / "model.bin"
    kinds = assert_matches_native_ggml(native_ggml, src, produced)
    assert kinds["quantized"] == result.document["quantize"]["quantized"] > 0
    assert kinds["to_f16"] == (2 if ftype == 0 else 0)
    info = read_model_info(produced)
    assert info.ftype_name == qtype and info.hparams.ftype == 2000 + next(
        k for k, (name, _) in FILE_TYPES.items() if name == qtype
    )


def test_progress_events_per_tensor(quantized):
    progress = [e for e in quantized["events"]["q5_1"] if e.get("event") == "progress"]
    assert len(progress) == 167
    assert [e["index"] for e in progress] == list(range(1, 168))
    assert all(e["unit"] == "bytes" and e["count"] == 167 and e["node_id"] == "quantize" for e in progress)
    done = [e["done"] for e in progress]
    assert done == sorted(done) and done[-1] == progress[-1]["total"]
    by_name = {e["tensor"]: (e["from"], e["to"]) for e in progress}
    assert by_name["decoder.token_embedding.weight"] == ("f16", "q5_1")
    assert by_name["encoder.conv1.weight"] == ("f16", "f16")
    assert by_name["encoder.conv1.bias"] == ("f32", "f32")
    assert by_name["decoder.positional_embedding"] == ("f32", "f32")


def test_host_and_guest_offer_the_same_types(sandbox):
    out = sandbox.run_bytes(b'{"command": "describe"}')
    assert out.ok, out.error
    assert tuple(out.document["features"]["quantize_types"]) == QUANTIZE_TYPES


# ----------------------------------------------------------------------------- 2. whisper.cpp reads them
@pytest.mark.parametrize("engine", ["wasm", "native"])
@pytest.mark.parametrize("qtype", TRANSCRIBED)
def test_quantized_models_transcribe_jfk(quantized, jfk_wav, engine, qtype):
    """The guest's whisper.cpp and native whisper.cpp (pywhispercpp, a second reader) both load
    the guest-made file and hear the sentence."""
    path = quantized[qtype].model.path
    job = transcribe_file(jfk_wav, WhisperOptions(model=str(path)), engine=engine)
    assert job.transcript is not None, job.result.error
    text = job.transcript["text"]
    assert wer(JFK_TEXT, text).rate <= WER_TOLERANCE, text


# ----------------------------------------------------------------------------- 3. hostile inputs
@pytest.fixture
def dirs(tmp_path) -> tuple[Path, Path]:
    (tmp_path / "in").mkdir()
    (tmp_path / "out").mkdir()
    return tmp_path / "in", tmp_path / "out"


def _guest_error(sandbox, dirs, request, code: str) -> RMError:
    in_dir, out_dir = dirs
    result = guest_quantize(sandbox, in_dir, out_dir, request)
    assert not result.ok
    assert result.error.code == code, result.error
    assert result.error.hint or code == "invalid_request"
    assert list(out_dir.iterdir()) == [], "a failed run left a file behind"
    return result.error


def test_guest_truncated_model(sandbox, dirs, store):
    raw = store.get("tiny.en").path.read_bytes()
    (dirs[0] / "cut.bin").write_bytes(raw[: len(raw) // 2])
    err = _guest_error(sandbox, dirs, quantize_request("cut.bin", "q5_1"), "invalid_model")
    assert "file ends inside the data of tensor" in err.message and "at byte" in err.message
    assert err.path == "/quantize/input"


def test_guest_wrong_magic_and_gguf(sandbox, dirs, store):
    raw = bytearray(store.get("tiny.en").path.read_bytes()[:4096])
    raw[:4] = b"junk"
    (dirs[0] / "junk.bin").write_bytes(bytes(raw))
    err = _guest_error(sandbox, dirs, quantize_request("junk.bin", "q5_1"), "invalid_model")
    assert "ggml magic" in err.message and "(at byte 0)" in err.message
    (dirs[0] / "g.gguf").write_bytes(b"GGUF" + bytes(100))
    err = _guest_error(sandbox, dirs, quantize_request("g.gguf", "q5_1"), "invalid_model")
    assert "GGUF" in err.message


def test_guest_header_only_and_foreign_ggml_models(sandbox, dirs, whisper_src):
    for name in ("for-tests-ggml-tiny.en.bin", "for-tests-silero-v6.2.0-ggml.bin"):
        (dirs[0] / name).write_bytes((whisper_src / "models" / name).read_bytes())
    err = _guest_error(sandbox, dirs, quantize_request("for-tests-ggml-tiny.en.bin", "q8_0"), "invalid_model")
    assert "no tensors" in err.message
    err = _guest_error(
        sandbox, dirs, quantize_request("for-tests-silero-v6.2.0-ggml.bin", "q8_0"), "invalid_model"
    )
    assert "hyper-parameter" in err.message


def test_guest_too_many_tensor_records(sandbox, dirs):
    """A header followed by 65,537 one-value records: refused before the guest's list grows."""
    path = build_ggml(dirs[0] / "many.bin", SMALL, tensors=False)
    record = struct.pack("<4i", 1, 1, TYPE_F32, 1) + b"x" + struct.pack("<f", 0.0)
    path.write_bytes(path.read_bytes() + record * 65537)
    err = _guest_error(sandbox, dirs, quantize_request("many.bin", "q8_0"), "invalid_model")
    assert "more than 65536 tensors" in err.message


def test_guest_nan_weights(sandbox, dirs):
    path = build_ggml(dirs[0] / "m.bin", SMALL)
    info = read_model_info(path)
    t = next(t for t in info.tensors if t.name == "decoder.token_embedding.weight")
    raw = bytearray(path.read_bytes())
    raw[t.data_offset + 2 * 70 : t.data_offset + 2 * 71] = np.array([np.nan], dtype="<f2").tobytes()
    path.write_bytes(bytes(raw))
    err = _guest_error(sandbox, dirs, quantize_request("m.bin", "q8_0"), "invalid_model")
    assert "'decoder.token_embedding.weight' holds NaN or infinity at element 70" in err.message


def test_guest_refuses_quantized_input_unknown_type_and_short_rows(sandbox, dirs, quantized):
    (dirs[0] / "q.bin").write_bytes(quantized["q8_0"].model.path.read_bytes())
    err = _guest_error(sandbox, dirs, quantize_request("q.bin", "q4_0"), "unsupported_model")
    assert "q8_0 weights" in err.message
    err = _guest_error(sandbox, dirs, quantize_request("q.bin", "q3"), "unsupported_type")
    assert err.path == "/quantize/type" and "q5_1" in err.hint
    (dirs[0] / "f16.bin").write_bytes(b"")  # the type is checked before the file is opened
    _guest_error(sandbox, dirs, quantize_request("f16.bin", "iq2_xxs"), "unsupported_type")


def test_guest_rows_not_a_multiple_of_the_block(sandbox, dirs, store):
    os.link(store.get("tiny.en").path, dirs[0] / "tiny.bin")
    err = _guest_error(sandbox, dirs, quantize_request("tiny.bin", "q4_K"), "incompatible_type")
    assert "rows of 384 values, not a multiple of q4_K's block of 256" in err.message


def test_guest_io_and_request_errors(sandbox, dirs):
    in_dir, out_dir = dirs
    _guest_error(sandbox, dirs, quantize_request("missing.bin", "q8_0"), "file_not_found")
    build_ggml(in_dir / "m.bin", SMALL)
    err = _guest_error(sandbox, dirs, quantize_request("m.bin", "q8_0", output="/in/x.bin"), "io_error")
    assert err.path == "/quantize/output"  # /in is read-only
    assert not (in_dir / "x.bin").exists()
    err = _guest_error(
        sandbox, dirs, quantize_request("m.bin", "q8_0", output="/elsewhere/x.bin"), "io_error"
    )
    (out_dir / "taken.bin").write_bytes(b"keep")
    result = guest_quantize(
        sandbox, in_dir, out_dir, quantize_request("m.bin", "q8_0", output="/out/taken.bin")
    )
    assert result.error.code == "io_error" and "exists" in result.error.message
    assert (out_dir / "taken.bin").read_bytes() == b"keep"  # never overwritten, never removed
    (out_dir / "taken.bin").unlink()
    err = _guest_error(
        sandbox, dirs, {"command": "quantize", "quantize": {"input": "/in/m.bin"}}, "invalid_request"
    )
    assert err.path == "/quantize/output"
    err = _guest_error(sandbox, dirs, {"command": "quantize"}, "invalid_request")
    assert err.path == "/quantize"
    # the bare form without "command" works too
    result = guest_quantize(
        sandbox, in_dir, out_dir, {"quantize": quantize_request("m.bin", "q4_0")["quantize"]}
    )
    assert result.ok, result.error


def test_host_refuses_an_existing_name_and_leaves_the_store_alone(store, sandbox, quantized):
    before = store_files(store)
    sha = store.get("tiny.en-q5_1").sha256
    with pytest.raises(RMError) as err:
        quantize_model("tiny.en", "q5_1", store=store, engine=sandbox)
    assert err.value.code == "name_taken" and "--force" in (err.value.hint or "")
    with pytest.raises(RMError) as err:
        quantize_model("tiny.en", "Q9_9", store=store, engine=sandbox)
    assert err.value.code == "unsupported_type"
    with pytest.raises(RMError) as err:
        quantize_model("tiny.en-q5_1", "q4_0", name="requant", store=store, engine=sandbox)
    assert err.value.code == "unsupported_model" and "tiny.en" in (err.value.hint or "")
    with pytest.raises(RMError) as err:
        quantize_model("tiny.en", "q4_K", name="kq", store=store, engine=sandbox)
    assert err.value.code == "incompatible_type" and err.value.path is None
    with pytest.raises(RMError) as err:
        quantize_model("nothing", "q4_0", store=store, engine=sandbox)
    assert err.value.code == "model_not_found"
    assert store_files(store) == before
    assert store.get("tiny.en-q5_1").sha256 == sha


def test_host_damaged_store_file_leaves_nothing_behind(store, sandbox, tmp_path):
    path = build_ggml(tmp_path / "small.bin", SMALL)
    model = store.import_model(path, name="small")
    raw = bytearray(model.path.read_bytes())
    raw[:4] = b"lmgX"  # same size: the store's index does not notice, the guest must
    model.path.write_bytes(bytes(raw))
    before = store_files(store)
    with pytest.raises(RMError) as err:
        quantize_model("small", "q8_0", store=store, engine=sandbox)
    assert err.value.code == "invalid_model" and err.value.source == "small"
    assert store_files(store) == before
    store.remove("small")


def test_host_force_replaces_and_cancel_leaves_nothing(store, sandbox, tmp_path):
    store.import_model(build_ggml(tmp_path / "small.bin", SMALL, seed=3), name="small")
    first = quantize_model("small", "q4_1", name="swap", store=store, engine=sandbox)
    assert first.model.ftype == "q4_1" and not first.replaced and not first.duplicate
    second = quantize_model("small", "q5_0", name="swap", force=True, store=store, engine=sandbox)
    assert second.replaced and second.model.ftype == "q5_0" and not second.duplicate
    assert store.get("swap").sha256 == second.model.sha256 != first.model.sha256
    assert store.get("small-q4_1") is None  # the replaced model is gone, not renamed
    store.remove("swap")
    store.remove("small")

    before = store_files(store)
    control = RunControl()
    with pytest.raises(RMError) as err:
        quantize_model(
            "tiny.en",
            "q4_1",
            name="never",
            store=store,
            engine=sandbox,
            control=control,
            progress=lambda done, total: control.cancel(),
        )
    assert err.value.code == "cancelled"
    assert store_files(store) == before and store.get("never") is None


# ----------------------------------------------------------------------------- 4. the CLI
def _cli(args: list[str], data_dir: Path) -> subprocess.CompletedProcess:
    env = {**os.environ, "RMSTUDIO_DATA_DIR": str(data_dir), "PYTHONPATH": str(REPO)}
    return subprocess.run(
        [sys.executable, "-m", "rmstudio", "models", *args],
        capture_output=True,
        text=True,
        cwd=REPO,
        env=env,
        timeout=600,
    )


def test_cli_quantize(tmp_path, tiny_en_ggml):
    data = tmp_path / "data"
    ModelStore(data / "models").import_model(tiny_en_ggml["f16"], name="tiny.en")
    proc = _cli(["quantize", "tiny.en", "--type", "Q5_1"], data)
    assert proc.returncode == 0, proc.stderr
    assert re.fullmatch(
        r"quantized tiny\.en \(f16, 74\.1 MiB\) to tiny\.en-q5_1 \(q5_1, 30\.7 MiB\) in \d+\.\d s: "
        r"65 tensors quantized, 102 kept\n",
        proc.stdout,
    ), proc.stdout
    assert "100.0%" in proc.stderr  # the progress bar got to the end

    proc = _cli(["quantize", "tiny.en", "--type", "q5_1"], data)
    assert proc.returncode == 1
    assert proc.stderr.strip().splitlines()[-1] == (
        "error: a model named 'tiny.en-q5_1' is already in the store. "
        "Pass --force to replace it, or --name to choose another name."
    )
    proc = _cli(["quantize", "tiny.en", "--type", "q5_1", "--force", "--json"], data)
    assert proc.returncode == 0, proc.stderr
    doc = json.loads(proc.stdout)
    assert doc["duplicate"] is True and doc["model"]["name"] == "tiny.en-q5_1"

    proc = _cli(["quantize", "tiny.en", "--type", "q3"], data)
    assert proc.returncode == 1 and proc.stderr.startswith("error: cannot quantize to 'q3'.")
    proc = _cli(["quantize", "tiny.en", "--type", "q6_K"], data)
    assert proc.returncode == 1 and "not a multiple of q6_K's block of 256" in proc.stderr
    for p in (proc, _cli(["quantize", "tiny.en"], data)):
        assert "Traceback" not in p.stderr
    assert _cli(["quantize", "tiny.en"], data).returncode == 2  # --type is required (argparse)
    listing = _cli(["list"], data).stdout
    assert re.search(r"tiny\.en-q5_1 +tiny\.en +q5_1 .* quantize", listing), listing
    leftovers = [p.name for p in (data / "models").iterdir() if p.name.startswith(".quantize")]
    assert leftovers == []


def test_cli_ctrl_c_cancels(tmp_path, tiny_en_ggml):
    """SIGINT while the guest works: exit 130, "cancelled", nothing added to the store.

    tiny.en quantizes in about 0.3 s, and the interrupt is sent when the first tensor's
    progress line arrives, so most of the work is still ahead. An interrupt that lands after
    the end three times running means cancelling is far too slow: that fails, it is not skipped.
    """
    import signal

    data = tmp_path / "data"
    ModelStore(data / "models").import_model(tiny_en_ggml["f16"], name="tiny.en")
    env = {**os.environ, "RMSTUDIO_DATA_DIR": str(data), "PYTHONPATH": str(REPO)}

    def interrupted_run() -> tuple[subprocess.Popen[str], list[str], str]:
        proc = subprocess.Popen(
            [sys.executable, "-m", "rmstudio", "models", "quantize", "tiny.en", "--type", "q4_0"],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,  # universal newlines: each carriage-return update of the bar is a line
            cwd=REPO,
            env=env,
        )
        seen = threading.Event()
        lines: list[str] = []

        def watch() -> None:
            assert proc.stderr is not None
            for line in proc.stderr:
                if "quantizing tiny.en" in line:
                    seen.set()
                lines.append(line)

        reader = threading.Thread(target=watch, daemon=True)
        reader.start()
        assert seen.wait(120), "no progress line"
        proc.send_signal(signal.SIGINT)
        proc.wait(60)
        reader.join(10)
        assert proc.stdout is not None
        return proc, lines, proc.stdout.read()

    for _attempt in range(3):
        proc, lines, stdout = interrupted_run()
        if "quantized tiny.en" not in stdout:
            break
        assert proc.returncode == 0, "".join(lines)  # finished first: it must at least be whole
        ModelStore(data / "models").remove("tiny.en-q4_0")
    else:
        pytest.fail("three interrupts sent at the first progress line all arrived after the end")
    assert proc.returncode == 130, "".join(lines)
    assert lines[-1].strip() == "cancelled"
    files = {p.name for p in (data / "models").iterdir()}
    assert files == {".index.lock", "index.json", "ggml-tiny.en.bin"}

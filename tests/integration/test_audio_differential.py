"""Differential tests for audio: the sandboxed guest and the numpy reference executor agree.

Every request goes through both executors. Successful runs must produce the same items: the
same fields (exactly data, sample_rate, channels, start_time), the same frame counts and
start times, and samples within **2e-6 absolute** (docs/CONTRACT.md, "Tolerance between
executors": both compute the same formula in double, only the last bit of libm's sin/exp/pow
may differ). Failing runs must fail with the same code, path and node id, and for errors a
node reports, with the same message.
"""

from __future__ import annotations

import copy
import itertools
import json
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import soundfile
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from rmstudio.core import native, typed_arrays
from rmstudio.core.audio.item import to_item
from rmstudio.core.audio.load import Audio, load_audio
from rmstudio.core.engine import WasmEngine
from rmstudio.core.manifest.document import ManifestDocument
from rmstudio.core.prepare import prepare_run
from rmstudio.core.runs import RunRequest, RunResult

TOLERANCE = 2e-6
AUDIO_FIELDS = {"data", "sample_rate", "channels", "start_time"}
# The largest per-sample difference seen in this module (reported by the last test).
OBSERVED = {"max_abs_diff": 0.0, "samples_compared": 0}


# ---- helpers ----------------------------------------------------------------------------------


def chain(*nodes: tuple[str, dict[str, Any]]) -> dict[str, Any]:
    """A manifest running ``nodes`` one after the other."""
    ids = [f"n{i}" for i in range(len(nodes))]
    return {
        "version": "v1",
        "metadata": {"name": "audio-differential"},
        "nodes": [{"id": i, "node_type": t, "params": p} for i, (t, p) in zip(ids, nodes, strict=True)],
        "connections": [{"from": a, "to": b} for a, b in itertools.pairwise(ids)],
    }


def signal(frames: int, channels: int = 1, rate: int = 44100, seed: int = 0) -> np.ndarray:
    """(frames, channels) float32: a few sines plus noise, different per channel, within ±1."""
    rng = np.random.default_rng(seed)
    t = np.arange(frames) / rate
    out = np.empty((frames, channels), dtype=np.float64)
    for c in range(channels):
        f = 220.0 * (c + 1)
        out[:, c] = 0.4 * np.sin(2 * np.pi * f * t) + 0.2 * np.sin(2 * np.pi * 3.7 * f * t + c)
        out[:, c] += 0.1 * rng.standard_normal(frames)
    return out.astype(np.float32)


def item(samples: np.ndarray, rate: int, start_time: float | None = 0.0, **extra: Any) -> dict[str, Any]:
    """An audio item with ``data`` as a flat typed array of ``samples``' dtype."""
    a = np.asarray(samples)
    channels = a.shape[1] if a.ndim == 2 else 1
    out = {"data": typed_arrays.encode(np.ascontiguousarray(a).reshape(-1)), "sample_rate": rate}
    out["channels"] = channels
    if start_time is not None:
        out["start_time"] = start_time
    out.update(extra)
    return out


def samples_of(data: Any) -> np.ndarray:
    if isinstance(data, dict):
        arr = typed_arrays.decode(data, "")
        assert arr.dtype == np.float32, "audio data must be written as float32"
        return arr.reshape(-1).astype(np.float64)
    assert isinstance(data, list)
    return np.asarray(data, dtype=np.float64).reshape(-1)


def compare(wasm: RunResult, ref: RunResult, *, messages: bool = True) -> None:
    """Both succeeded with agreeing audio, or both failed the same way."""
    if not ref.ok or not wasm.ok:
        assert not wasm.ok and not ref.ok, (wasm.error, ref.error)
        w, r = wasm.error, ref.error
        assert (w.code, w.path, w.node_id) == (r.code, r.path, r.node_id), (w.to_json(), r.to_json())
        if messages:
            assert w.message == r.message
        return
    assert len(wasm.outputs) == len(ref.outputs)
    for k, (a, b) in enumerate(zip(wasm.outputs, ref.outputs, strict=True)):
        if not (isinstance(b, dict) and "data" in b):
            assert a == b
            continue
        assert set(a) == AUDIO_FIELDS == set(b), (k, sorted(a), sorted(b))
        assert (a["sample_rate"], a["channels"]) == (b["sample_rate"], b["channels"]), k
        assert a["start_time"] == pytest.approx(b["start_time"], abs=1e-12), k
        assert isinstance(a["data"], dict) == isinstance(b["data"], dict), "same data form on both sides"
        x, y = samples_of(a["data"]), samples_of(b["data"])
        assert x.shape == y.shape, (k, x.shape, y.shape)
        if x.size:
            diff = float(np.max(np.abs(x - y)))
            OBSERVED["max_abs_diff"] = max(OBSERVED["max_abs_diff"], diff)
            OBSERVED["samples_compared"] += int(x.size)
            assert diff <= TOLERANCE, f"item {k}: max abs difference {diff:.3g}"


def both(sandbox: WasmEngine, request: RunRequest, *, messages: bool = True) -> tuple[RunResult, RunResult]:
    wasm, ref = sandbox.run(request), native.run(request)
    compare(wasm, ref, messages=messages)
    return wasm, ref


def run_items(sandbox: WasmEngine, nodes: list, items: Any, **options: Any) -> tuple[RunResult, RunResult]:
    return both(sandbox, RunRequest(chain(*nodes), copy.deepcopy(items), options))


STEREO = signal(4410 * 3, 2, seed=1)  # 0.3 s at 44.1 kHz


# ---- every node and alias ---------------------------------------------------------------------

NODE_CASES = [
    ("MediaReaderNode", {}),
    ("AudioInput", {"chunk_size": 512}),
    ("AudioSource", {"path": ""}),
    ("AudioTrackSource", {}),
    ("AudioTransform", {"output_sample_rate": 16000, "output_channels": 1}),
    ("ResampleNode", {"target_rate": 22050, "output_channels": 2}),
    ("FastResampleNode", {"output_sample_rate": 8000, "quality": "low"}),
    ("AutoResampleNode", {"output_sample_rate": 48000, "output_channels": 6, "quality": "medium"}),
    ("AudioGain", {"gain_db": -6.5}),
    ("AudioGain", {"gain_db": 12}),
    ("AudioNormalize", {}),
    ("AudioNormalize", {"target_db": -20}),
    ("AudioBuffer", {"buffer_size_samples": 1000}),
    ("AudioBuffer", {"buffer_size_samples": 100000}),
    ("VADTrim", {}),
    ("VADTrim", {"threshold_db": -10, "frame_ms": 10, "padding_ms": 5}),
]


@pytest.mark.parametrize("encoding", ["auto", "json", "base64"])
@pytest.mark.parametrize(
    ("node_type", "params"), NODE_CASES, ids=[f"{t}-{i}" for i, (t, _) in enumerate(NODE_CASES)]
)
def test_every_node_and_alias(sandbox, node_type, params, encoding):
    wasm, _ = run_items(sandbox, [(node_type, params)], [item(STEREO, 44100, 0.25)], array_encoding=encoding)
    assert wasm.ok, wasm.error
    for out in wasm.outputs:
        # data is a typed float32 array unless the request asked for JSON lists
        assert isinstance(out["data"], list) == (encoding == "json")


@pytest.mark.parametrize(
    "node_type", ["MediaReaderNode", "AudioTransform", "AudioGain", "AudioNormalize", "VADTrim"]
)
def test_zero_items_and_empty_audio(sandbox, node_type):
    params: dict[str, Any] = {}
    wasm, _ = run_items(sandbox, [(node_type, params)], [])
    assert wasm.outputs == []
    empty = np.zeros((0, 2), dtype=np.float32)
    wasm, _ = run_items(sandbox, [(node_type, params)], [item(empty, 8000, 1.5)])
    assert len(wasm.outputs) == 1 and wasm.outputs[0]["start_time"] == 1.5


def test_buffer_without_frames_gives_no_chunks(sandbox):
    empty = np.zeros((0, 1), dtype=np.float32)
    for items in ([], [item(empty, 8000)], [item(empty, 8000), item(empty, 8000)]):
        wasm, _ = run_items(sandbox, [("AudioBuffer", {"buffer_size_samples": 4})], items)
        assert wasm.outputs == []


# ---- resampling ------------------------------------------------------------------------------

RATE_PAIRS = [
    (44100, 16000),
    (8000, 48000),
    (22050, 16000),
    (16000, 16000),
    (48000, 44100),
    (44100, 48000),
    (16000, 8000),
    (11025, 16000),
    (44100, 16001),  # L = 16001: large, coprime-ish ratio
    (96000, 1000),  # a long kernel: R = 24 / (0.97 / 96)
    (7, 1000),  # a tiny input rate, 1000 outputs per input sample
]


@pytest.mark.parametrize("quality", ["low", "medium", "high"])
@pytest.mark.parametrize(("in_rate", "out_rate"), RATE_PAIRS)
def test_resampling(sandbox, in_rate, out_rate, quality):
    frames = max(5, in_rate // 8)
    mono = signal(frames, 1, in_rate, seed=in_rate)
    wasm, _ = run_items(
        sandbox,
        [("AudioTransform", {"output_sample_rate": out_rate, "output_channels": 1, "quality": quality})],
        [item(mono, in_rate, 0.5)],
    )
    out = wasm.outputs[0]
    g = np.gcd(in_rate, out_rate)
    assert samples_of(out["data"]).size == -(-frames * (out_rate // g) // (in_rate // g))  # ceil
    if in_rate == out_rate:  # equal rates: untouched, bit for bit
        assert np.array_equal(samples_of(out["data"]), mono[:, 0].astype(np.float64))


def test_resampling_stereo_keeps_channels_apart(sandbox):
    stereo = signal(22050 // 4, 2, 22050, seed=3)
    stereo[:, 1] = 0.0
    wasm, _ = run_items(
        sandbox,
        [("AudioTransform", {"output_sample_rate": 16000, "output_channels": 2})],
        [item(stereo, 22050)],
    )
    out = samples_of(wasm.outputs[0]["data"]).reshape(-1, 2)
    assert np.all(out[:, 1] == 0.0) and np.any(out[:, 0] != 0.0)


# ---- channels --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("have", "want"), [(1, 1), (1, 2), (2, 1), (2, 6), (6, 2), (3, 1), (4, 4), (1, 32), (32, 1)]
)
@pytest.mark.parametrize("out_rate", [16000, 24000])
def test_channel_conversion(sandbox, have, want, out_rate):
    x = signal(2400, have, 24000, seed=have * 10 + want)
    run_items(
        sandbox,
        [("AudioTransform", {"output_sample_rate": out_rate, "output_channels": want})],
        [item(x, 24000, 0.0)],
    )


# ---- input forms -----------------------------------------------------------------------------


def _as_dtype(x: np.ndarray, dtype: str) -> np.ndarray:
    if dtype in ("float32", "float64"):
        return x.astype(dtype)
    info = np.iinfo(dtype)
    scaled = np.clip(np.round(x * (info.max + 1 if dtype != "uint8" else 128)), -(2**31), 2**31 - 1)
    if dtype == "uint8":
        scaled = scaled + 128
    return np.clip(scaled, info.min, info.max).astype(dtype)


@pytest.mark.parametrize("dtype", ["float32", "float64", "int8", "int16", "int32", "uint8"])
@pytest.mark.parametrize(
    "nodes",
    [
        [("MediaReaderNode", {})],
        [("AudioTransform", {"output_sample_rate": 16000, "output_channels": 1})],
        [("AudioGain", {"gain_db": 3})],
        [("VADTrim", {"threshold_db": -30})],
    ],
    ids=["reader", "transform", "gain", "vad"],
)
def test_input_dtypes(sandbox, dtype, nodes):
    x = _as_dtype(signal(3000, 2, 22050, seed=7), dtype)
    run_items(sandbox, nodes, [item(x, 22050, 0.1)])


def test_numpy_form_and_shaped_arrays(sandbox):
    x = signal(1000, 2, 8000, seed=9)
    numpy_form = {
        "__numpy__": True,
        "array": {
            "meta": {"shape": [1000, 2], "dtype": "float32", "size": 2000},
            "data": typed_arrays.encode(x)["data"],
        },
    }
    shaped = typed_arrays.encode(x)  # shape [1000, 2]: any shape whose size is a multiple of channels
    for data in (numpy_form, shaped):
        wasm, _ = run_items(
            sandbox,
            [("AudioTransform", {"output_sample_rate": 16000, "output_channels": 1})],
            [{"data": data, "sample_rate": 8000, "channels": 2}],
        )
        assert wasm.ok


@pytest.mark.parametrize("nested", [False, True])
def test_json_lists(sandbox, nested):
    x = signal(500, 2, 16000, seed=11).astype(np.float64)
    data = x.tolist() if nested else x.reshape(-1).tolist()
    data = [[round(a, 9), round(b, 9)] for a, b in data] if nested else [round(v, 9) for v in data]
    items = [{"data": data, "sample_rate": 16000.0, "channels": 2, "start_time": None}]
    for nodes in ([("MediaReaderNode", {})], [("AudioTransform", {"output_sample_rate": 44100})]):
        wasm, _ = run_items(sandbox, nodes, items)
        assert wasm.outputs[0]["start_time"] == 0


def test_channels_default_to_one_and_extra_fields_are_dropped(sandbox):
    x = signal(800, 1, 8000, seed=2)
    raw = {"data": typed_arrays.encode(x.reshape(-1)), "sample_rate": 8000, "label": "x", "start_time": -2.5}
    wasm, _ = run_items(sandbox, [("AudioGain", {"gain_db": 1})], [raw])
    assert wasm.outputs[0]["channels"] == 1 and wasm.outputs[0]["start_time"] == -2.5


def test_one_item_not_in_a_list(sandbox):
    x = signal(800, 1, 8000, seed=4)
    wasm, _ = run_items(sandbox, [("AudioNormalize", {})], item(x, 8000))
    assert len(wasm.outputs) == 1


# ---- file references through a read-only preopen ---------------------------------------------


def _file_request(tmp_path: Path, nodes: list, audio: Audio, start_time: float = 0.0) -> RunRequest:
    payload = to_item(audio, "file", file_dir=tmp_path / "input", start_time=start_time)
    assert payload.preopen is not None and payload.item["data"]["encoding"] == "file"
    from rmstudio.core.runs import Preopen

    request = RunRequest(chain(*nodes), [payload.item])
    request.preopens.append(Preopen(Path(payload.preopen[0]), payload.preopen[1]))
    return request


def test_file_encoded_input(sandbox, tmp_path):
    audio = Audio(signal(22050 // 2, 2, 22050, seed=5), 22050)
    for nodes in (
        [("MediaReaderNode", {})],
        [("AudioTransform", {"output_sample_rate": 16000, "output_channels": 1})],
        [("AudioBuffer", {"buffer_size_samples": 3000}), ("VADTrim", {})],
    ):
        wasm, _ = both(sandbox, _file_request(tmp_path, nodes, audio, start_time=3.0))
        assert wasm.ok and wasm.outputs[0]["start_time"] >= 3.0


def test_file_input_through_prepare(sandbox, tmp_path):
    wav = tmp_path / "tone.wav"
    soundfile.write(wav, signal(44100 // 4, 2, 44100, seed=6), 44100, subtype="PCM_16")
    doc = ManifestDocument(chain(("AudioTransform", {"output_sample_rate": 16000, "output_channels": 1})))
    with prepare_run(doc, audio_path=wav, mount=False) as prepared:
        assert prepared.request.preopens, "audio goes to the guest as a read-only file"
        wasm, _ = both(sandbox, prepared.request)
    assert wasm.outputs[0]["sample_rate"] == 16000


@pytest.mark.parametrize(
    "change",
    [
        {"path": "/elsewhere/x.f32"},  # not inside a preopened directory
        {"path": "/input/missing.f32"},
        {"path": "relative.f32"},
        {"path": "/input/../x.f32"},
        {"shape": [3]},  # the file holds more
        {"shape": "x"},
        {"dtype": "int16"},
    ],
)
def test_bad_file_references_fail_the_same_way(sandbox, tmp_path, change):
    audio = Audio(signal(100, 1, 8000), 8000)
    request = _file_request(tmp_path, [("MediaReaderNode", {})], audio)
    request.input_data[0]["data"].update(change)
    # The host-side reader names the preopened directories, the guest cannot list them.
    _, ref = both(sandbox, request, messages=False)
    assert ref.error.code == "invalid_input" and ref.error.path.startswith("/input_data/0/data/")


def test_unresolved_file_reference_is_a_node_error(sandbox):
    raw = {"data": {"encoding": "file", "path": "/input/x.f32"}, "sample_rate": 8000}  # no dtype
    wasm, _ = run_items(sandbox, [("AudioGain", {})], [raw])
    assert wasm.error.code == "invalid_input"


# ---- the real recording ----------------------------------------------------------------------


@pytest.mark.parametrize(("rate", "channels"), [(16000, 1), (8000, 1), (44100, 2)])
def test_jfk_wav(sandbox, jfk_wav, rate, channels):
    doc = ManifestDocument(
        chain(("AudioTransform", {"output_sample_rate": rate, "output_channels": channels}))
    )
    with prepare_run(doc, audio_path=jfk_wav, mount=False) as prepared:
        wasm, _ = both(sandbox, prepared.request)
    out = wasm.outputs[0]
    source = load_audio(jfk_wav)
    assert out["sample_rate"] == rate and out["channels"] == channels
    assert samples_of(out["data"]).size == channels * -(-source.frames * rate // source.sample_rate)
    if (rate, channels) == (16000, 1):  # the file is 16 kHz mono already: untouched
        assert np.array_equal(samples_of(out["data"]), source.samples[:, 0].astype(np.float64))


def test_jfk_wav_to_44100_stereo_and_back(sandbox, jfk_wav):
    source = load_audio(jfk_wav)
    nodes = [
        ("AudioTransform", {"output_sample_rate": 44100, "output_channels": 2}),
        ("AudioTransform", {"output_sample_rate": 16000, "output_channels": 1}),
    ]
    wasm, _ = run_items(sandbox, nodes, [item(source.samples, source.sample_rate)])
    back = samples_of(wasm.outputs[0]["data"])
    assert back.size == source.frames


# ---- chains and start_time -------------------------------------------------------------------

FULL_CHAIN = [
    ("AudioTransform", {"output_sample_rate": 16000, "output_channels": 1}),
    ("AudioGain", {"gain_db": 6}),
    ("AudioNormalize", {"target_db": -3}),
    ("AudioBuffer", {"buffer_size_samples": 1600}),
    ("VADTrim", {"threshold_db": -30, "frame_ms": 20, "padding_ms": 10}),
]


def _speechlike(rate: int, seconds: float, seed: int) -> np.ndarray:
    """Bursts of tone separated by silence, so VADTrim has something to cut."""
    x = signal(int(rate * seconds), 2, rate, seed=seed)
    envelope = (np.sin(2 * np.pi * 1.3 * np.arange(x.shape[0]) / rate) > 0.3).astype(np.float32)
    return x * envelope[:, None]


def test_full_chain(sandbox):
    items = [
        item(_speechlike(44100, 0.5, 1), 44100, 0.0),
        item(_speechlike(44100, 0.3, 2), 44100, 10.0),  # not contiguous with the first
    ]
    wasm, _ = run_items(sandbox, FULL_CHAIN, items)
    assert len(wasm.outputs) > 2
    starts = [o["start_time"] for o in wasm.outputs]
    assert any(s >= 10.0 for s in starts)


def test_buffer_chunk_start_times(sandbox):
    x = signal(1000, 1, 1000, seed=8)
    items = [
        item(x[:250], 1000, 5.0),
        item(x[:0], 1000, 99.0),  # empty: never holds a chunk's first frame
        item(x[250:700], 1000, 7.0),
        item(x[700:], 1000),
    ]
    wasm, _ = run_items(sandbox, [("AudioBuffer", {"buffer_size_samples": 300})], items)
    assert [o["start_time"] for o in wasm.outputs] == pytest.approx([5.0, 7.05, 7.35, 0.2])


def test_vad_trim_moves_start_time_and_silence_becomes_empty(sandbox):
    rate = 8000
    x = np.zeros((rate, 1), dtype=np.float32)
    x[3000:4000, 0] = 0.5
    wasm, _ = run_items(sandbox, [("VADTrim", {"padding_ms": 50})], [item(x, rate, 1.0)])
    out = wasm.outputs[0]
    assert out["start_time"] > 1.0
    silent = np.zeros((rate, 2), dtype=np.float32)
    wasm, _ = run_items(sandbox, [("VADTrim", {})], [item(silent, rate, 4.0)])
    assert samples_of(wasm.outputs[0]["data"]).size == 0 and wasm.outputs[0]["start_time"] == 4.0
    # Normalize leaves silence alone
    wasm, _ = run_items(sandbox, [("AudioNormalize", {})], [item(silent, rate)])
    assert not np.any(samples_of(wasm.outputs[0]["data"]))


# ---- generated signals and params ------------------------------------------------------------

RATES = [1000, 8000, 11025, 16000, 22050, 44100, 48000]


@st.composite
def audio_items(draw) -> dict[str, Any]:
    channels = draw(st.integers(1, 3))
    frames = draw(st.integers(0, 1500))
    rate = draw(st.sampled_from(RATES))
    seed = draw(st.integers(0, 2**16))
    amplitude = draw(st.sampled_from([0.0, 1e-4, 0.05, 0.5, 1.0]))
    x = signal(frames, channels, rate, seed) * np.float32(amplitude)
    dtype = draw(st.sampled_from(["float32", "float32", "float64", "int16", "uint8", "json"]))
    start = draw(st.one_of(st.none(), st.floats(-100, 100, allow_nan=False)))
    if dtype == "json":
        out = {"data": x.reshape(-1).astype(np.float64).tolist(), "sample_rate": rate, "channels": channels}
        if start is not None:
            out["start_time"] = start
        return out
    return item(_as_dtype(x, dtype), rate, start)


@st.composite
def audio_nodes(draw) -> tuple[str, dict[str, Any]]:
    kind = draw(st.sampled_from(["AudioTransform", "AudioGain", "AudioNormalize", "AudioBuffer", "VADTrim"]))
    if kind == "AudioTransform":
        return kind, {
            "output_sample_rate": draw(st.sampled_from([1000, 8000, 16000, 22050, 44100, 48000])),
            "output_channels": draw(st.integers(1, 4)),
            "quality": draw(st.sampled_from(["low", "medium", "high"])),
        }
    if kind == "AudioGain":
        return kind, {"gain_db": draw(st.floats(-96, 48))}
    if kind == "AudioNormalize":
        return kind, {"target_db": draw(st.floats(-96, 0))}
    if kind == "AudioBuffer":
        return kind, {"buffer_size_samples": draw(st.integers(1, 2000))}
    return kind, {
        "threshold_db": draw(st.floats(-120, 0)),
        "frame_ms": draw(st.floats(5, 200)),
        "padding_ms": draw(st.floats(0, 500)),
    }


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    nodes=st.lists(audio_nodes(), min_size=1, max_size=3),
    items=st.lists(audio_items(), max_size=3),
)
def test_generated_audio_pipelines_agree(sandbox, nodes, items):
    request = RunRequest(chain(*nodes), items)
    wasm, ref = sandbox.run(request), native.run(request)
    try:
        compare(wasm, ref)
    except AssertionError:
        print(json.dumps(request.to_json())[:3000])
        raise


# ---- errors ----------------------------------------------------------------------------------


def _error_cases() -> list[tuple[str, list, Any]]:
    x = signal(10, 2, 8000)
    f32 = typed_arrays.encode(x.reshape(-1))
    nan = x.copy()
    nan[3, 1] = np.nan
    inf64 = x.astype(np.float64)
    inf64[0, 0] = -np.inf
    big = np.full(4, 3e38, dtype=np.float32)
    reader = [("MediaReaderNode", {})]
    int64 = typed_arrays.encode(np.zeros(4, np.int64))
    uint16 = typed_arrays.encode(np.zeros(4, np.uint16))
    return [
        ("bad dtype int64", reader, [{"data": int64, "sample_rate": 8000}]),
        ("bad dtype uint16", reader, [{"data": uint16, "sample_rate": 8000}]),
        ("non-finite float32", reader, [item(nan, 8000)]),
        ("non-finite float64", [("AudioGain", {})], [item(inf64, 8000)]),
        ("channels multiple", reader, [{"data": f32, "sample_rate": 8000, "channels": 3}]),
        ("channels 0", reader, [{"data": f32, "sample_rate": 8000, "channels": 0}]),
        ("channels 33", reader, [{"data": f32, "sample_rate": 8000, "channels": 33}]),
        ("channels null", reader, [{"data": f32, "sample_rate": 8000, "channels": None}]),
        ("channels fraction", reader, [{"data": f32, "sample_rate": 8000, "channels": 1.5}]),
        ("rate 0", reader, [{"data": f32, "sample_rate": 0}]),
        ("rate fraction", reader, [{"data": f32, "sample_rate": 16000.5}]),
        ("rate too high", reader, [{"data": f32, "sample_rate": 768001}]),
        ("rate string", reader, [{"data": f32, "sample_rate": "16k"}]),
        ("rate boolean", reader, [{"data": f32, "sample_rate": True}]),
        ("start_time string", reader, [{"data": f32, "sample_rate": 8000, "start_time": "0"}]),
        ("start_time boolean", reader, [{"data": f32, "sample_rate": 8000, "start_time": False}]),
        ("missing sample_rate", reader, [{"data": f32}]),
        ("missing both", reader, [{"samples": f32, "rate": 8000}]),
        ("empty object", reader, [{}]),
        ("not an object", reader, [[0.1, 0.2]]),
        ("a number", reader, [3]),
        ("a typed array", reader, [f32]),
        ("data string", reader, [{"data": "abc", "sample_rate": 8000}]),
        ("data null", reader, [{"data": None, "sample_rate": 8000}]),
        ("ragged list", reader, [{"data": [[0.1, 0.2], [0.3]], "sample_rate": 8000}]),
        ("list with a string", reader, [{"data": [0.1, "x"], "sample_rate": 8000}]),
        ("list with a boolean", reader, [{"data": [0.1, True], "sample_rate": 8000}]),
        ("list with a list", reader, [{"data": [0.1, [0.2]], "sample_rate": 8000}]),
        ("list with an array", reader, [{"data": [f32], "sample_rate": 8000}]),
        ("second item bad", reader, [item(x, 8000), {"data": f32, "sample_rate": -1}]),
        (
            "AudioBuffer mismatched rates",
            [("AudioBuffer", {"buffer_size_samples": 4})],
            [item(x, 8000), item(x, 16000)],
        ),
        (
            "AudioBuffer mismatched channels",
            [("AudioBuffer", {"buffer_size_samples": 4})],
            [item(x, 8000), item(x[:, :1], 8000)],
        ),
        (
            "error in a later node",
            [("AudioGain", {}), ("AudioBuffer", {"buffer_size_samples": 4})],
            [item(x, 8000), item(x, 16000)],
        ),
        ("gain overflows float32", [("AudioGain", {"gain_db": 6})], [item(big, 8000)]),
        (
            "float64 beyond float32 then gain",
            [("AudioTransform", {"output_sample_rate": 8000, "output_channels": 1}), ("AudioGain", {})],
            [item(np.full(4, 1e300), 8000)],
        ),
        (
            "unresolved file reference",
            reader,
            [{"data": {"encoding": "file", "path": "/x"}, "sample_rate": 8}],
        ),
        ("one item, not a list", reader, {"data": f32, "sample_rate": 8000, "channels": 3}),
    ]


# numpy warns when the reference rounds 1e300 to float32 (the case expects exactly that).
@pytest.mark.filterwarnings("ignore:overflow encountered in cast:RuntimeWarning")
@pytest.mark.parametrize(("name", "nodes", "items"), _error_cases(), ids=[c[0] for c in _error_cases()])
def test_errors_are_the_same(sandbox, name, nodes, items):
    _, ref = run_items(sandbox, nodes, items)
    assert not ref.ok and ref.error.code in ("invalid_input", "node_failed"), ref.to_json()


def test_remotemedia_shapes_are_only_for_whisper(sandbox):
    x = signal(100, 1, 16000)
    flat = x.reshape(-1).tolist()
    for raw in ({"audio_data": flat, "sample_rate": 16000}, [flat, 16000]):
        wasm, _ = run_items(sandbox, [("AudioGain", {})], [raw])
        assert wasm.error.code == "invalid_input"


def test_report_largest_difference():
    """Not a check of its own: prints the largest per-sample difference this module saw."""
    print(
        f"\nlargest guest/reference difference: {OBSERVED['max_abs_diff']:.3g} "
        f"over {OBSERVED['samples_compared']} samples compared"
    )
    assert OBSERVED["max_abs_diff"] <= TOLERANCE


def test_a_resampled_item_too_large_to_exist_is_out_of_memory_in_both(sandbox):
    # 20000 samples labelled 1 Hz are 28.6 GiB at 384 kHz. The guest's size_t (32 bits) used to
    # wrap the length and abort; the reference executor raised MemoryError.
    slow = item(np.full((20000, 1), 0.1, np.float32), 1)
    wasm, _ = run_items(sandbox, [("AudioTransform", {"output_sample_rate": 384000})], [slow])
    assert wasm.error.code == "out_of_memory"  # and the same message from both (compare)
    assert "gives 28.6 GiB of samples; the sandbox holds at most 4 GiB" in wasm.error.message

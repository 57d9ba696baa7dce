"""Reference audio nodes (docs/CONTRACT.md, "Audio node semantics"), called directly.

The nodes are instantiated with complete params (the catalog's defaults) and run on items
as the executor hands them over (typed arrays already decoded to numpy).
"""

from __future__ import annotations

import importlib
import math
from types import ModuleType

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from rmstudio.core import typed_arrays
from rmstudio.core.errors import RMError
from rmstudio.core.native.audio_items import parse_audio
from rmstudio.core.native.base import NODES, Context
from rmstudio.core.native.values import to_output

# Defaults of the catalog entries (core/manifest/catalog.py).
DEFAULTS = {
    "MediaReaderNode": {"path": "", "chunk_size": 4096},
    "AudioTransform": {"output_sample_rate": 16000, "output_channels": 1, "quality": "high"},
    "AudioGain": {"gain_db": 0},
    "AudioNormalize": {"target_db": -1},
    "AudioBuffer": {"buffer_size_samples": 16000},  # required there; 16000 is this file's choice
    "VADTrim": {"threshold_db": -45, "frame_ms": 30, "padding_ms": 300},
}


CLASS_NAMES = {
    "MediaReaderNode": "MediaReader",
    "AudioTransform": "AudioTransform",
    "AudioGain": "AudioGain",
    "AudioNormalize": "AudioNormalize",
    "AudioBuffer": "AudioBuffer",
    "VADTrim": "VADTrim",
}


def import_nodes_audio() -> ModuleType:
    """The nodes module, imported without leaving its registrations behind.

    Until the reference executor imports the audio nodes itself (and the catalog lists them),
    registering them for the whole test session would make the executor disagree with the
    catalog; so the registry is restored after the import.
    """
    before = dict(NODES)
    try:
        return importlib.import_module("rmstudio.core.native.nodes_audio")
    finally:
        NODES.clear()
        NODES.update(before)


def run(name: str, items: list, *, source: bool = True, **params) -> list:
    cls = getattr(import_nodes_audio(), CLASS_NAMES[name])
    node = cls({**DEFAULTS[name], **params})
    return node.process(items, Context("n1", name, source, lambda event: None))


def fail(name: str, items: list, *, source: bool = True, **params) -> RMError:
    with pytest.raises(RMError) as info:
        run(name, items, source=source, **params)
    return info.value


def audio(data, rate=16000, channels=1, **extra) -> dict:
    return {"data": data, "sample_rate": rate, "channels": channels, **extra}


def sine(freq: float, rate: int, seconds: float, amplitude: float = 0.5) -> np.ndarray:
    return (amplitude * np.sin(2 * np.pi * freq * np.arange(int(rate * seconds)) / rate)).astype(np.float32)


def test_all_audio_nodes_register_under_their_catalog_names():
    module = import_nodes_audio()
    before = dict(NODES)
    try:
        importlib.reload(module)  # runs the @register decorators again
        for name, cls_name in CLASS_NAMES.items():
            assert NODES[name].__name__ == cls_name
    finally:
        NODES.clear()
        NODES.update(before)


def test_catalog_defaults_match():
    from rmstudio.core.manifest import catalog

    for name, params in DEFAULTS.items():
        spec = catalog.find_node(name)
        assert spec is not None, f"{name} is missing from the catalog"
        assert {p.name for p in spec.params} == set(params), name
        for key, value in params.items():
            param = spec.param(key)
            assert (
                param.required
                if (name, key) == ("AudioBuffer", "buffer_size_samples")
                else param.default == value
            )


# --------------------------------------------------------------------- item parsing


def test_float32_passes_through_bit_exact_and_items_are_normalised():
    x = np.random.default_rng(0).uniform(-1, 1, 200).astype(np.float32)
    (out,) = run("MediaReaderNode", [audio(x, 44100, 2, start_time=2.5, note="dropped")])
    assert set(out) == {"data", "sample_rate", "channels", "start_time"}
    assert out["data"].dtype == np.float32 and out["data"].ndim == 1
    assert np.array_equal(out["data"], x)
    assert (out["sample_rate"], out["channels"], out["start_time"]) == (44100, 2, 2.5)


@pytest.mark.parametrize(
    ("dtype", "values", "expected"),
    [
        ("int16", [-32768, -1, 0, 16384, 32767], [-1.0, -1 / 32768, 0.0, 0.5, 32767 / 32768]),
        ("int32", [-(2**31), 2**30, 2**31 - 1], [-1.0, 0.5, (2**31 - 1) / 2**31]),
        ("uint8", [0, 64, 128, 255], [-1.0, -0.5, 0.0, 127 / 128]),
        ("int8", [-128, -64, 0, 127], [-1.0, -0.5, 0.0, 127 / 128]),
    ],
)
def test_integer_arrays_are_scaled(dtype, values, expected):
    (out,) = run("MediaReaderNode", [audio(np.array(values, dtype=dtype))])
    assert np.array_equal(out["data"], np.array(expected, dtype=np.float64).astype(np.float32))


def test_json_lists_any_shape_and_float64():
    (a,) = run("MediaReaderNode", [audio([0.5, -0.25, 1, 0], channels=2)])
    assert a["data"].tolist() == [0.5, -0.25, 1.0, 0.0] and a["channels"] == 2
    (b,) = run("MediaReaderNode", [audio([[0.5, -0.25], [1, 0]], channels=2)])
    assert np.array_equal(a["data"], b["data"])
    (c,) = run("MediaReaderNode", [audio(np.array([[0.1, 0.2]], dtype=np.float64), channels=2)])
    assert np.array_equal(c["data"], np.array([0.1, 0.2], dtype=np.float32))
    (d,) = run("MediaReaderNode", [audio([])])
    assert d["data"].shape == (0,)


def test_defaults_and_integral_numbers():
    (out,) = run("MediaReaderNode", [{"data": [0.1, 0.2], "sample_rate": 16000.0}])
    assert (out["channels"], out["start_time"], out["sample_rate"]) == (1, 0.0, 16000)


@pytest.mark.parametrize(
    ("item", "needle"),
    [
        ("text", "got a string"),
        ([1, 2, 3], "got a list"),
        ({"sample_rate": 16000}, "missing data"),
        ({"data": [0.1]}, "missing sample_rate"),
        (audio([0.1, 0.2, 0.3], channels=2), "not a multiple of channels=2"),
        (audio(np.array([0.1, np.nan], np.float32)), "non-finite sample"),
        (audio(np.array([np.inf], np.float32)), "non-finite sample"),
        (audio(np.array([1, 2], np.int64)), "int64 array"),
        (audio(np.array([1, 2], np.uint16)), "uint16 array"),
        (audio([0.1], rate=0), "sample_rate must be"),
        (audio([0.1], rate=800_000), "sample_rate must be"),
        (audio([0.1], rate=True), "sample_rate must be"),
        (audio([0.1], rate=16000.5), "sample_rate must be"),
        (audio([0.1], rate="16000"), "sample_rate must be"),
        (audio([0.1], channels=0), "channels must be"),
        (audio([0.1], channels=33), "channels must be"),
        (audio([0.1], start_time=math.nan), "start_time"),
        (audio([0.1], start_time="0"), "start_time"),
        (audio([0.1, True]), "containing a boolean"),
        (audio([0.1, None]), "containing null"),
        (audio([[0.1, 0.2], [0.3]]), "ragged"),
        (audio("AAAA"), "typed float32 array or a list"),
        (
            audio({"dtype": "float32", "shape": [1], "encoding": "file", "path": "/input/a.f32"}),
            "file reference",
        ),
    ],
)
def test_invalid_items_are_rejected_precisely(item, needle):
    for name in DEFAULTS:
        if name == "AudioBuffer":
            continue
        err = fail(name, [audio([0.0]), item])
        assert err.code == "invalid_input" and err.node_id == "n1" and err.path == "/input_data/1"
        assert "item 1" in err.message and needle in err.message, err.message
    assert fail("AudioBuffer", [item]).code == "invalid_input"


def test_non_source_nodes_have_no_input_path():
    err = fail("AudioGain", ["text"], source=False)
    assert err.path is None and err.node_id == "n1"


def test_remotemedia_shapes_are_for_the_whisper_node_only():
    ctx = Context("w", "WhisperTranscriber", True, lambda e: None)
    a = parse_audio({"audio_data": [0.1, 0.2], "sample_rate": 16000}, 0, ctx, remotemedia=True)
    b = parse_audio(
        {"audio": np.array([0.1, 0.2], np.float32), "sample_rate": 16000}, 0, ctx, remotemedia=True
    )
    c = parse_audio([[0.1, 0.2], 16000], 0, ctx, remotemedia=True)
    assert a.channels == b.channels == c.channels == 1 and a.frames == b.frames == c.frames == 2
    assert "missing data" in fail("AudioGain", [{"audio_data": [0.1], "sample_rate": 16000}]).message


def test_outputs_encode_as_typed_float32_arrays():
    (out,) = run("AudioGain", [audio([0.25, -0.5])], gain_db=6)
    encoded = to_output(out, "auto")
    assert encoded["data"]["dtype"] == "float32" and encoded["data"]["shape"] == [2]
    assert np.array_equal(typed_arrays.decode(encoded["data"]), out["data"])
    assert to_output(out, "json")["data"] == [float(v) for v in out["data"]]


# ---------------------------------------------------------------------- gain, normalize


@pytest.mark.parametrize("gain_db", [-96, -20, -6, 0, 3.5, 6, 48])
def test_gain_is_one_multiplication_in_double(gain_db):
    x = np.random.default_rng(1).uniform(-0.01, 0.01, 1000).astype(np.float32)
    (out,) = run("AudioGain", [audio(x, start_time=4.0)], gain_db=gain_db)
    expected = (x.astype(np.float64) * 10.0 ** (gain_db / 20.0)).astype(np.float32)
    assert np.array_equal(out["data"], expected) and out["start_time"] == 4.0
    if gain_db == 0:
        assert np.array_equal(out["data"], x)


def test_gain_doubles_amplitude_at_6_db():
    (out,) = run("AudioGain", [audio(sine(440, 16000, 0.1))], gain_db=20 * math.log10(2))
    assert np.abs(out["data"]).max() == pytest.approx(1.0, abs=1e-3)


def test_gain_overflow_fails():
    err = fail("AudioGain", [audio(np.array([3e38], np.float32))], gain_db=48)
    assert err.code == "node_failed" and "float32" in err.message


def test_normalize_sets_the_peak():
    x = np.stack([sine(440, 8000, 0.1, 0.2), sine(300, 8000, 0.1, 0.05)], axis=1).reshape(-1)
    x[7] = -0.3  # the peak is negative and in the left channel
    (out,) = run("AudioNormalize", [audio(x, 8000, 2)], target_db=-3)
    peak = float(np.abs(out["data"]).max())
    assert peak == pytest.approx(10 ** (-3 / 20), rel=1e-6)
    assert out["data"][7] == pytest.approx(-(10 ** (-3 / 20)), rel=1e-6)
    peak_in = float(np.float32(0.3))  # the stored sample, not the decimal 0.3
    expected = (x.astype(np.float64) * (10 ** (-3 / 20) / peak_in)).astype(np.float32)
    assert np.array_equal(out["data"], expected)


def test_normalize_leaves_silence_and_empty_items_alone():
    silence = np.zeros(100, np.float32)
    (a, b) = run("AudioNormalize", [audio(silence), audio(np.zeros(0, np.float32))])
    assert np.array_equal(a["data"], silence) and b["data"].shape == (0,)


# ---------------------------------------------------------------------------- buffer


def test_buffer_chunks_and_start_times():
    x = np.arange(25, dtype=np.float32) / 100
    out = run(
        "AudioBuffer",
        [audio(x[:10], 10, start_time=1.0), audio(x[10:], 10, start_time=2.0)],
        buffer_size_samples=8,
    )
    assert [len(c["data"]) for c in out] == [8, 8, 8, 1]
    assert np.array_equal(np.concatenate([c["data"] for c in out]), x)
    # chunk 1 starts at frame 8 (item 0, offset 8); chunk 2 at frame 16 = item 1 offset 6
    assert [c["start_time"] for c in out] == [1.0, 1.8, 2.6, 3.4]


def test_buffer_counts_frames_not_samples():
    stereo = np.arange(20, dtype=np.float32)
    out = run("AudioBuffer", [audio(stereo, 1000, 2)], buffer_size_samples=4)
    assert [len(c["data"]) for c in out] == [8, 8, 4] and all(c["channels"] == 2 for c in out)
    assert [c["start_time"] for c in out] == pytest.approx([0.0, 0.004, 0.008])


def test_buffer_edge_cases():
    assert run("AudioBuffer", []) == []
    assert run("AudioBuffer", [audio([]), audio([])]) == []
    (only,) = run("AudioBuffer", [audio([]), audio([0.5, 0.5], start_time=3.0)], buffer_size_samples=10)
    assert only["start_time"] == 3.0 and len(only["data"]) == 2


def test_buffer_rejects_mixed_formats():
    err = fail("AudioBuffer", [audio([0.1], 16000), audio([0.1], 16000), audio([0.1], 44100)])
    assert err.code == "invalid_input" and err.path == "/input_data/2"
    assert "44100 Hz" in err.message and "16000 Hz" in err.message and "AudioTransform" in err.message
    err = fail("AudioBuffer", [audio([0.1, 0.1], 16000, 2), audio([0.1], 16000, 1)])
    assert "1 channel " in err.message and "2 channels" in err.message


@given(
    sizes=st.lists(st.integers(0, 40), min_size=1, max_size=6),
    chunk=st.integers(1, 50),
    channels=st.integers(1, 3),
)
@settings(max_examples=80, deadline=None)
def test_buffer_property(sizes, chunk, channels):
    rate = 100
    items, starts = [], []
    for i, n in enumerate(sizes):
        starts.append(10.0 * i)
        items.append(audio(np.full(n * channels, i, np.float32), rate, channels, start_time=10.0 * i))
    out = run("AudioBuffer", items, buffer_size_samples=chunk)
    total = sum(sizes)
    assert [len(c["data"]) // channels for c in out] == [
        min(chunk, total - k) for k in range(0, total, chunk)
    ]
    joined = np.concatenate([c["data"] for c in out]) if out else np.zeros(0, np.float32)
    assert np.array_equal(joined, np.concatenate([it["data"] for it in items]))
    for k, c in enumerate(out):
        first = k * chunk  # its first frame: in item i at offset first - (frames before item i)
        i = next(j for j in range(len(sizes)) if sum(sizes[: j + 1]) > first)
        assert c["data"][0] == i
        assert c["start_time"] == pytest.approx(starts[i] + (first - sum(sizes[:i])) / rate)


# ------------------------------------------------------------------------------- VAD


def vad_brute(x: np.ndarray, channels: int, rate: int, threshold_db, frame_ms, padding_ms):
    """(begin, end) frames kept, computed frame by frame from the contract's words."""
    frames = x.reshape(-1, channels)
    flen = max(1, math.floor(frame_ms * rate / 1000 + 0.5))
    pad = math.floor(padding_ms * rate / 1000 + 0.5)
    voiced = []
    for k in range(0, len(frames), flen):
        part = frames[k : k + flen].astype(np.float64)
        rms = math.sqrt(float(np.mean(part * part)))
        voiced.append(rms > 0 and 20 * math.log10(rms) >= threshold_db)
    if not any(voiced):
        return None
    first = voiced.index(True)
    last = len(voiced) - 1 - voiced[::-1].index(True)
    return max(0, first * flen - pad), min(len(frames), (last + 1) * flen + pad)


def test_vad_trims_silence_around_a_tone():
    rate = 16000
    x = np.concatenate([np.zeros(rate), sine(440, rate, 1.0), np.zeros(rate)]).astype(np.float32)
    noise = np.random.default_rng(0).normal(0, 10 ** (-70 / 20), len(x)).astype(np.float32)  # -70 dBFS hiss
    (out,) = run("VADTrim", [audio(x + noise, rate, start_time=5.0)])
    # 30 ms frames = 480 frames; the tone starts inside frame 33 (15840) and ends in frame 66.
    begin, end = 33 * 480 - 4800, 67 * 480 + 4800
    assert len(out["data"]) == end - begin
    assert out["start_time"] == pytest.approx(5.0 + begin / rate)
    assert np.array_equal(out["data"], (x + noise)[begin:end])


def test_vad_all_silent_gives_an_empty_item():
    quiet = (10 ** (-60 / 20) * np.sqrt(2) * np.sin(np.arange(16000) * 0.3)).astype(
        np.float32
    )  # -60 dBFS RMS
    (out,) = run("VADTrim", [audio(quiet, 16000, start_time=1.25)])
    assert out["data"].shape == (0,) and out["start_time"] == 1.25 and out["sample_rate"] == 16000
    (loud,) = run("VADTrim", [audio(quiet, 16000)], threshold_db=-65)
    assert len(loud["data"]) == 16000
    (empty,) = run("VADTrim", [audio([])])
    assert empty["data"].shape == (0,)


def test_vad_voice_at_the_edges_is_clipped_to_the_item():
    x = sine(300, 8000, 0.5)
    (out,) = run("VADTrim", [audio(x, 8000)])
    assert np.array_equal(out["data"], x) and out["start_time"] == 0.0


@given(
    seed=st.integers(0, 10_000),
    channels=st.integers(1, 2),
    rate=st.sampled_from([8000, 11025, 16000]),
    threshold=st.floats(-80, -10),
    frame_ms=st.floats(5, 60),
    padding_ms=st.floats(0, 500),
)
@settings(max_examples=60, deadline=None)
def test_vad_matches_a_frame_by_frame_reading_of_the_contract(
    seed, channels, rate, threshold, frame_ms, padding_ms
):
    rng = np.random.default_rng(seed)
    n = int(rng.integers(0, rate // 2))
    level = 10 ** (rng.uniform(-90, 0, size=(max(1, n // 500) + 1, 1)) / 20)
    envelope = np.repeat(level, 500, axis=0)[:n]
    x = (rng.uniform(-1, 1, (n, channels)) * envelope).astype(np.float32).reshape(-1)
    (out,) = run(
        "VADTrim",
        [audio(x, rate, channels, start_time=1.0)],
        threshold_db=threshold,
        frame_ms=frame_ms,
        padding_ms=padding_ms,
    )
    kept = vad_brute(x, channels, rate, threshold, frame_ms, padding_ms)
    if kept is None:
        assert out["data"].size == 0 and out["start_time"] == 1.0
    else:
        begin, end = kept
        assert np.array_equal(out["data"], x.reshape(-1, channels)[begin:end].reshape(-1))
        assert out["start_time"] == pytest.approx(1.0 + begin / rate)


# ------------------------------------------------------------------------- transform


def test_transform_44k_stereo_to_16k_mono():
    left, right = sine(1000, 44100, 0.5), sine(1000, 44100, 0.5, 0.25)
    x = np.stack([left, right], axis=1).reshape(-1)
    (out,) = run("AudioTransform", [audio(x, 44100, 2, start_time=7.0)])
    assert (out["sample_rate"], out["channels"], out["start_time"]) == (16000, 1, 7.0)
    assert len(out["data"]) == math.ceil(len(left) * 16000 / 44100)
    mid = out["data"][1000:-1000].astype(np.float64)
    n = np.arange(1000, len(out["data"]) - 1000)
    reference = 0.375 * np.sin(2 * np.pi * 1000 * n / 16000)  # mean of the channels
    assert np.abs(mid - reference).max() < 1e-3


def test_transform_passes_matching_audio_through():
    x = np.random.default_rng(2).uniform(-1, 1, 300).astype(np.float32)
    (out,) = run("AudioTransform", [audio(x, 16000)])
    assert np.array_equal(out["data"], x)
    (up,) = run("AudioTransform", [audio(x, 16000)], output_channels=2)
    assert np.array_equal(up["data"][0::2], x) and np.array_equal(up["data"][1::2], x)


def test_transform_int16_input_and_quality_param():
    x = (sine(440, 8000, 0.2) * 32767).astype(np.int16)
    (hi,) = run("AudioTransform", [audio(x, 8000)], output_sample_rate=16000)
    (lo,) = run("AudioTransform", [audio(x, 8000)], output_sample_rate=16000, quality="low")
    assert len(hi["data"]) == len(lo["data"]) == 3200
    assert not np.array_equal(hi["data"], lo["data"])
    assert np.abs(hi["data"] - lo["data"]).max() < 0.05


# -------------------------------------------------------------- through the executor


def test_a_pipeline_through_the_reference_executor_with_remotemedia_names():
    from rmstudio.core import native
    from rmstudio.core.manifest import catalog
    from rmstudio.core.runs import RunRequest

    assert catalog.find_node("AudioInput") is not None
    rate = 44100
    tone = np.concatenate([np.zeros(rate), sine(440, rate, 1.0), np.zeros(rate)])
    stereo = np.stack([tone, tone], axis=1).reshape(-1).astype(np.float32)
    manifest = {
        "version": "v1",
        "metadata": {"name": "audio"},
        "nodes": [
            {"id": "in", "node_type": "AudioInput"},
            {"id": "rs", "node_type": "ResampleNode", "params": {"target_rate": 16000, "output_channels": 1}},
            {"id": "vad", "node_type": "VADTrim", "params": {"padding_ms": 100}},
            {"id": "buf", "node_type": "AudioBuffer", "params": {"buffer_size_samples": 8000}},
        ],
        "connections": [
            {"from": "in", "to": "rs"},
            {"from": "rs", "to": "vad"},
            {"from": "vad", "to": "buf"},
        ],
    }
    item = {"data": typed_arrays.encode(stereo), "sample_rate": rate, "channels": 2, "start_time": 0}
    result = native.run(RunRequest(manifest, [item], {}))
    assert result.ok, result.error
    chunks = result.outputs
    assert all(c["sample_rate"] == 16000 and c["channels"] == 1 for c in chunks)
    assert all(c["data"]["dtype"] == "float32" for c in chunks)
    frames = [c["data"]["shape"][0] for c in chunks]
    assert frames[:-1] == [8000] * (len(frames) - 1)
    # The tone starts at 1 s: the first chunk starts one 30 ms frame boundary minus 100 ms before.
    assert chunks[0]["start_time"] == pytest.approx(33 * 480 / 16000 - 0.1)
    assert [c["start_time"] for c in chunks] == pytest.approx(
        [chunks[0]["start_time"] + k * 0.5 for k in range(len(chunks))]
    )
    assert sum(frames) == 67 * 480 + 1600 - (33 * 480 - 1600)

"""The guest's WhisperTranscriber with real weights and real speech (docs/CONTRACT.md, "Whisper").

Each full transcription costs a few seconds (whisper.cpp encodes a 30 s window however short
the clip), so the tests share runs where they can: one run of jfk.wav by model name serves the
transcript, segment, event and reference checks; inputs shorter than 100 ms (which whisper.cpp
returns from without encoding) serve the tests that only need the node to get that far.
"""

from __future__ import annotations

import re
import threading
import time
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import soundfile as sf

from rmstudio.core import typed_arrays
from rmstudio.core.engine.host import RunControl
from rmstudio.core.metrics.wer import wer
from rmstudio.core.runs import Limits, Preopen, RunRequest
from rmstudio.core.transcribe import WhisperOptions, transcribe_file

JFK_TEXT = (
    "And so my fellow Americans, ask not what your country can do for you, "
    "ask what you can do for your country."
)


def normalise(text: str) -> str:
    return " ".join(re.sub(r"[^a-z0-9' ]+", " ", text.lower()).split())


@pytest.fixture(scope="module")
def jfk_samples(jfk_wav: Path) -> np.ndarray:
    data, rate = sf.read(jfk_wav, dtype="float32")
    assert rate == 16000 and data.ndim == 1
    return data


@pytest.fixture(scope="module")
def model_file(tiny_en_ggml: dict[str, Path]) -> Path:
    return Path(tiny_en_ggml["q8_0"])


def item(samples: np.ndarray, rate: int = 16000, start_time: float = 0.0) -> dict[str, Any]:
    return {
        "data": typed_arrays.encode(np.ascontiguousarray(samples, dtype=np.float32)),
        "sample_rate": rate,
        "channels": 1,
        "start_time": start_time,
    }


def whisper_request(
    model_file: Path,
    items: list[Any],
    params: dict[str, Any] | None = None,
    *,
    node_type: str = "WhisperTranscriber",
    options: dict[str, Any] | None = None,
    limits: Limits | None = None,
) -> RunRequest:
    """A one-node Whisper pipeline; the model's directory is preopened at /models."""
    manifest = {
        "version": "v1",
        "metadata": {"name": "whisper-test"},
        "nodes": [{"id": "whisper", "node_type": node_type, "params": params or {}}],
        "connections": [],
    }
    return RunRequest(
        manifest,
        items,
        options=options or {},
        limits=limits or Limits(),
        preopens=[Preopen(model_file.parent, "/models")],
    )


@pytest.fixture(scope="module")
def jfk_run(sandbox, model_file, jfk_samples):
    """jfk.wav once, model by name through options.models, n_threads 4, events recorded."""
    events: list[dict] = []
    request = whisper_request(
        model_file,
        [item(jfk_samples)],
        {"model": "tiny.en", "n_threads": 4},
        options={"models": {"tiny.en": f"/models/{model_file.name}"}},
    )
    started = time.perf_counter()
    result = sandbox.run(request, on_event=events.append)
    return result, events, time.perf_counter() - started


def test_describe_reports_whisper_with_wasm_simd(sandbox):
    out = sandbox.run_bytes(b'{"command": "describe"}')
    assert out.ok, out.error
    features = out.document["features"]
    assert features["whisper"] is True
    assert "WASM_SIMD = 1" in features["whisper_system_info"]
    assert out.document["executor"]["whisper_cpp"] == "1.8.5"
    assert out.document["missing_implementations"] == []


def test_jfk_transcript_by_model_name(jfk_run):
    result, _, wall = jfk_run
    assert result.ok, result.error
    (out,) = result.outputs
    assert normalise(out["text"]) == normalise(JFK_TEXT)
    assert out["language"] == "en"  # "auto" with English-only weights
    assert out["model"] == "tiny.en"
    assert out["effective_threads"] == 1  # n_threads 4 was asked for
    assert abs(out["audio_duration"] - 11.0) < 1e-6
    segments = out["segments"]
    assert segments
    starts = [s["start"] for s in segments]
    assert starts == sorted(starts)
    assert all(0.0 <= s["start"] <= s["end"] <= 11.0 + 0.1 for s in segments)
    assert " ".join(s["text"] for s in segments) == out["text"]
    print(f"guest: jfk in {wall:.2f} s")


def test_events_stream_segments_progress_and_no_raw_stderr(jfk_run):
    result, events, _ = jfk_run
    assert result.ok, result.error
    # whisper.cpp and ggml never print into the event stream: every line the guest wrote to
    # stderr was a JSON event (the host marks anything else with source "guest").
    assert not [e for e in events if e.get("source") == "guest"]
    segs = [e for e in events if e["event"] == "segment"]
    assert [(e["start"], e["end"], e["text"]) for e in segs] == [
        (s["start"], s["end"], s["text"]) for s in result.outputs[0]["segments"]
    ]
    progress = [e for e in events if e["event"] == "progress" and e.get("node_id") == "whisper"]
    assert progress and all(e["unit"] == "s" for e in progress)
    done = [e["done"] for e in progress]
    assert done == sorted(done) and done[-1] == progress[-1]["total"] == pytest.approx(11.0)
    logs = [e["message"] for e in events if e["event"] == "log" and e.get("node_id") == "whisper"]
    line = next((m for m in logs if m.startswith("transcribed 11.0 s")), None)
    assert line is not None and "4 requested" in line, logs
    # whisper.cpp's own clocks for this request (what bench_encoder_gflops.py reads): one
    # 30-s encoder pass, shorter than the whole run, and some decoding.
    pattern = r"in ([0-9.]+) s .*; encoder ([0-9.]+) ms per pass, decoder ([0-9.]+) ms per token"
    timing = re.search(pattern, line)
    assert timing, line
    total_s, encode_ms, decode_ms = map(float, timing.groups())
    assert 0 < encode_ms < total_s * 1000 and decode_ms > 0, line


def test_same_transcript_as_the_reference_executor(jfk_run, jfk_wav, model_file):
    result, _, _ = jfk_run
    native = transcribe_file(jfk_wav, WhisperOptions(model=str(model_file), language="auto"), engine="native")
    assert native.transcript is not None, native.result.error
    guest = result.outputs[0]
    assert guest["text"] == native.transcript["text"]
    assert [(s["start"], s["end"]) for s in guest["segments"]] == [
        (s["start"], s["end"]) for s in native.transcript["segments"]
    ]
    assert guest["language"] == native.transcript["language"]


def test_memory_stays_flat_past_the_first_30_s(sandbox, model_file, jfk_samples):
    # jfk.wav three times with 1.5 s pauses (37.5 s): whisper.cpp decodes a second 30 s window
    # whose prompt carries the words of the first. Before the recipe's logits patch that prompt
    # pass computed and kept logits for every prompt token (0.4 MB each for tiny.en), so the
    # memory grew here by ~23 MiB (and by ~90 MiB once the prompt reaches its 224 tokens).
    pause = np.zeros(int(1.5 * 16000), np.float32)
    clip = np.tile(np.concatenate([jfk_samples, pause]), 3)
    events: list[dict] = []
    request = whisper_request(
        model_file, [item(clip)], {"model": f"/models/{model_file.name}", "language": "en"}
    )
    result = sandbox.run(request, on_event=events.append)
    assert result.ok, result.error
    (out,) = result.outputs
    assert wer(" ".join([JFK_TEXT] * 3), out["text"]).rate <= 0.05, out["text"]
    assert out["segments"][-1]["end"] > 30.0  # the second window was decoded
    peak = result.host["peak_memory_bytes"]
    assert peak < 200 * 2**20, f"peak linear memory {peak / 2**20:.1f} MiB"
    # Segment events carry the guest's memory: the first ones come when the first window is
    # done, before the second window's prompt is decoded.
    first_window = next(e["memory_bytes"] for e in events if e["event"] == "segment")
    assert peak - first_window <= 8 * 2**20, (
        f"memory grew from {first_window / 2**20:.1f} to {peak / 2**20:.1f} MiB in the second window"
    )


def test_remotemedia_names_shape_and_absolute_model_path(sandbox, model_file, jfk_samples):
    request = whisper_request(
        model_file,
        [{"audio_data": typed_arrays.encode(jfk_samples), "sample_rate": 16000}],
        {"model_source": f"/models/{model_file.name}", "language": "en"},
        node_type="RustWhisperTranscriber",
    )
    result = sandbox.run(request)
    assert result.ok, result.error
    assert normalise(result.outputs[0]["text"]) == normalise(JFK_TEXT)
    assert result.outputs[0]["model"] == f"/models/{model_file.name}"


def test_chunks_are_joined_and_start_time_shifts_segments(sandbox, model_file, jfk_samples):
    # jfk in two chunks starting at 100 s of some recording: one transcription, times from 100 s
    half = jfk_samples.size // 2
    chunks = [
        item(jfk_samples[:half], start_time=100.0),
        item(jfk_samples[half:], start_time=100.0 + half / 16000),
    ]
    prompt = "President Kennedy's inaugural address. " * 8
    params = {"model": f"/models/{model_file.name}", "initial_prompt": prompt}
    request = whisper_request(model_file, chunks, params)
    result = sandbox.run(request)
    assert result.ok, result.error
    (out,) = result.outputs  # accumulate_chunks defaults to true
    # the long initial prompt makes the decoder's first batch far larger than its reserved
    # buffer (runtime/whisper_build.py patches that reservation down): it must grow, not fail
    assert wer(JFK_TEXT, out["text"]).rate <= 0.1, out["text"]
    assert abs(out["audio_duration"] - 11.0) < 1e-6
    # (with this prompt tiny.en emits no timestamp tokens: one segment ending at the 30 s window
    # edge, as native whisper.cpp does; only the start is pinned down)
    segments = out["segments"]
    assert all(100.0 <= s["start"] <= 111.0 and s["end"] >= s["start"] for s in segments), segments
    assert out["segments"][0]["start"] == pytest.approx(100.0)


def test_each_item_on_its_own_without_accumulation(sandbox, model_file):
    # inputs under 100 ms: whisper.cpp returns at once (and warns), so this costs no encoding
    events: list[dict] = []
    quiet = np.zeros(800, np.float32)
    request = whisper_request(
        model_file,
        [item(quiet, start_time=3.0), item(quiet, start_time=7.5)],
        {"model": f"/models/{model_file.name}", "accumulate_chunks": False},
    )
    result = sandbox.run(request, on_event=events.append)
    assert result.ok, result.error
    assert [o["audio_duration"] for o in result.outputs] == [0.05, 0.05]
    assert [o["segments"] for o in result.outputs] == [[], []]
    warnings = [e["message"] for e in events if e["event"] == "log" and e["level"] == "warning"]
    assert any("whisper.cpp:" in m and "too short" in m for m in warnings), warnings


def test_unmapped_model_name_is_invalid_param(sandbox, model_file):
    request = whisper_request(model_file, [item(np.zeros(800))], {"model": "tiny.en"})
    result = sandbox.run(request)
    assert not result.ok
    assert result.error.code == "invalid_param"
    assert "tiny.en" in result.error.message and result.error.hint
    assert result.error.node_id == "whisper"


def test_missing_model_file_names_the_path(sandbox, model_file):
    request = whisper_request(model_file, [item(np.zeros(800))], {"model": "/models/nope.bin"})
    result = sandbox.run(request)
    assert not result.ok
    assert result.error.code == "node_failed"
    assert "/models/nope.bin" in result.error.message
    assert "preopen" in result.error.hint


@pytest.mark.parametrize("damage", ["not_ggml", "truncated"])
def test_damaged_model_is_a_clear_error(sandbox, model_file, tmp_path, damage):
    bad = tmp_path / "ggml-bad.bin"
    if damage == "not_ggml":
        bad.write_bytes(b"<html>404 Not Found</html>" + bytes(4096))
    else:
        with model_file.open("rb") as src, bad.open("wb") as dst:
            dst.write(src.read(model_file.stat().st_size // 3))
    request = whisper_request(bad, [item(np.zeros(800))], {"model": "/models/ggml-bad.bin"})
    result = sandbox.run(request)
    assert not result.ok
    assert result.error.code == "node_failed"
    assert "/models/ggml-bad.bin" in result.error.message
    if damage == "not_ggml":
        assert "not a whisper.cpp model" in result.error.message
    assert result.error.hint


def test_too_small_memory_limit_is_out_of_memory_not_a_trap(sandbox, model_file):
    request = whisper_request(
        model_file,
        [item(np.zeros(800))],
        {"model": f"/models/{model_file.name}"},
        limits=Limits(memory_bytes=48 << 20),  # the q8_0 weights alone are 43 MB
    )
    result = sandbox.run(request)
    assert not result.ok
    assert result.error.code == "out_of_memory", result.error


def test_cancel_during_transcription(sandbox, model_file, jfk_samples):
    control = RunControl()
    loaded = threading.Event()

    def on_event(event: dict) -> None:
        if event.get("event") == "log" and "loaded" in event.get("message", ""):
            loaded.set()

    def cancel_when_encoding() -> None:
        loaded.wait(30)
        time.sleep(0.3)  # inside whisper_full by now
        control.cancel()

    canceller = threading.Thread(target=cancel_when_encoding)
    canceller.start()
    request = whisper_request(model_file, [item(jfk_samples)], {"model": f"/models/{model_file.name}"})
    started = time.perf_counter()
    result = sandbox.run(request, on_event=on_event, control=control)
    canceller.join()
    assert loaded.is_set()
    assert not result.ok and result.error.code == "cancelled"
    assert time.perf_counter() - started < 3.0  # a full transcription takes several seconds

"""Warm guests (rmstudio/core/engine/warm.py): one reactor instance serving many requests.

What must hold: a warm request gives exactly what a fresh instance gives (the fresh command
module is the reference), it sees only its own input and files, and a request that fails
inside the guest never hands a damaged instance to the next one.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pytest

from rmstudio.core import native
from rmstudio.core.audio.item import to_item
from rmstudio.core.audio.load import Audio
from rmstudio.core.engine import WasmEngine
from rmstudio.core.metrics.wer import wer
from rmstudio.core.runs import Limits, Preopen, RunRequest
from tests.integration.test_audio_differential import chain, samples_of, signal
from tests.integration.test_whisper_guest import JFK_TEXT, item, whisper_request


@pytest.fixture()
def engine(sandbox: WasmEngine) -> WasmEngine:
    """An engine with its own (empty) pool, sharing the session's compiled-module cache."""
    eng = WasmEngine(sandbox.runtime)
    assert eng.runtime.reactor_path is not None, "the setup command builds the reactor beside the command"
    yield eng
    eng.warm_pool.clear()


def logs(events: list[dict[str, Any]]) -> list[str]:
    return [e["message"] for e in events if e.get("event") == "log"]


def test_a_warm_transcription_equals_a_fresh_one_and_skips_the_load(engine, jfk_wav, tiny_en_ggml):
    import soundfile as sf

    samples, _ = sf.read(jfk_wav, dtype="float32")
    request = whisper_request(
        Path(tiny_en_ggml["q8_0"]), [item(samples)], {"model": "/models/" + Path(tiny_en_ggml["q8_0"]).name}
    )
    fresh = engine.run(request)
    runs = []
    for _ in range(2):
        events: list[dict[str, Any]] = []
        runs.append((engine.run(request, events.append, warm=True), events))
    (first, first_events), (second, second_events) = runs
    assert fresh.ok and first.ok and second.ok, (fresh.error, first.error, second.error)
    assert first.host["warm"] == "started" and second.host["warm"] == "reused"
    assert any(m.startswith("loaded tiny model") for m in logs(first_events))
    assert any("already loaded" in m for m in logs(second_events)), logs(second_events)
    # Identical text and timestamps: the reused context carries nothing of the first request.
    assert first.outputs == fresh.outputs and second.outputs == fresh.outputs
    assert wer(JFK_TEXT, second.outputs[0]["text"]).rate <= 0.1
    # The events and metrics belong to each request alone.
    assert [e["event"] for e in second_events].count("finish") == 1
    assert second.metrics["peak_memory_bytes"] >= second.host["final_memory_bytes"] > 0


def test_each_request_sees_only_its_own_input_and_files(engine, tmp_path):
    gain = chain(("AudioGain", {"gain_db": 6.0}))
    factor = np.float32(10 ** (6.0 / 20))
    first_item = None
    for k in range(3):
        audio = Audio(signal(8000 + 1000 * k, 1, 16000, seed=k), 16000)
        payload = to_item(audio, "file", file_dir=tmp_path / f"in{k}")
        request = RunRequest(
            gain, [payload.item], preopens=[Preopen(Path(payload.preopen[0]), payload.preopen[1])]
        )
        first_item = first_item or payload.item
        result = engine.run(request, warm=True)
        assert result.ok, result.error
        assert result.host["warm"] == ("started" if k == 0 else "reused")
        got = samples_of(result.outputs[0]["data"])
        ref = native.run(request)  # the reference executor on the same request
        np.testing.assert_allclose(got, samples_of(ref.outputs[0]["data"]), atol=2e-6)
        np.testing.assert_allclose(got, audio.samples.reshape(-1) * factor, rtol=1e-5, atol=1e-6)
    # The first request's file was in a directory only that request could see.
    stale = RunRequest(gain, [first_item], preopens=[])
    result = engine.run(stale, warm=True)
    assert not result.ok and result.error.code == "invalid_input", result.error
    assert result.host["warm"] == "reused"  # a clean error keeps the guest


def test_errors_stay_with_their_request(engine):
    bad = RunRequest(
        {"version": "v1", "nodes": [{"id": "x", "node_type": "NoSuchNode"}], "connections": []}, [1]
    )
    good = RunRequest(chain(("MultiplyNode", {"multiplier": 3})), [1, 2, 3.5])
    first = engine.run(bad, warm=True)
    assert not first.ok and first.error.code == "unknown_node_type"
    second = engine.run(good, warm=True)
    assert second.ok and second.outputs == native.run(good).outputs == [3, 6, 10.5]
    assert second.host["warm"] == "reused" and second.error is None and second.warnings == []


def test_a_request_that_traps_ends_its_guest(engine, jfk_wav, tiny_en_ggml):
    import soundfile as sf

    samples, _ = sf.read(jfk_wav, dtype="float32")
    model = Path(tiny_en_ggml["q8_0"])
    slow = whisper_request(
        model, [item(samples)], {"model": "/models/" + model.name}, limits=Limits(timeout_s=0.3)
    )
    timed_out = engine.run(slow, warm=True)
    assert not timed_out.ok and timed_out.error.code == "timeout"
    assert engine.warm_pool.idle_count == 0, "an interrupted guest is closed, never pooled"
    after = engine.run(
        RunRequest(chain(("MultiplyNode", {"multiplier": 2})), [4], limits=Limits(timeout_s=0.3)), warm=True
    )
    assert after.ok and after.outputs == [8] and after.host["warm"] == "started"


def test_guests_are_pooled_per_memory_cap(engine):
    request = RunRequest(chain(("MultiplyNode", {"multiplier": 2})), [1])
    small = Limits(memory_bytes=256 << 20)
    assert engine.run(request, warm=True).host["warm"] == "started"
    other = RunRequest(request.manifest, [1], limits=small)
    assert engine.run(other, warm=True).host["warm"] == "started"
    assert engine.run(other, warm=True).host["warm"] == "reused"
    assert engine.warm_pool.idle_count == 2
    engine.warm_pool.clear()
    assert engine.warm_pool.idle_count == 0


def test_a_runtime_without_reactor_runs_fresh(tmp_path, sandbox):
    """A package's runtime.wasm is a command only: warm=True falls back to a fresh instance."""
    from rmstudio.core.engine.runtime_locator import GuestRuntime

    copy = tmp_path / "runtime.wasm"
    copy.write_bytes(sandbox.runtime.path.read_bytes())
    eng = WasmEngine(GuestRuntime(copy, dict(sandbox.runtime.build_info)))
    assert eng.runtime.reactor_path is None
    result = eng.run(RunRequest(chain(("MultiplyNode", {"multiplier": 2})), [5]), warm=True)
    assert result.ok and result.outputs == [10] and "warm" not in result.host


def test_guests_left_to_the_garbage_collector_do_not_crash_the_process(sandbox):
    """A warm guest and its epoch watch form a reference cycle; the collector frees its parts
    in any order, and a store deleted after its watch once jumped into a freed callback (a
    segfault that killed the GUI test run). Run in a child so a crash is a failure, not an abort."""
    script = """
import gc
import wasmtime
from rmstudio.core.engine import WasmEngine, wasmtime_ext
from rmstudio.core.engine.runtime_locator import locate
from rmstudio.core.runs import RunRequest
from tests.integration.test_audio_differential import chain

# The direct case: the watch goes first, then the store it was installed in.
engine = wasmtime.Engine(wasmtime.Config())
for _ in range(50):
    store = wasmtime.Store(engine)
    watch = wasmtime_ext.EpochWatch(store, lambda: None)
    del watch
    gc.collect()
    del store
# The way the app meets it: pooled guests dropped with their engine, never closed.
for _ in range(5):
    eng = WasmEngine(locate())
    result = eng.run(RunRequest(chain(("MultiplyNode", {"multiplier": 2})), [1]), warm=True)
    assert result.ok and eng.warm_pool.idle_count == 1, result.error
    del eng, result
    gc.collect()
assert not wasmtime_ext._watches, "every deleted store removed its entry"
print("survived")
"""
    import subprocess
    import sys

    repo = Path(__file__).parents[2]
    command = [sys.executable, "-c", script]
    done = subprocess.run(command, capture_output=True, text=True, cwd=repo, timeout=300)
    assert done.returncode == 0 and "survived" in done.stdout, (done.returncode, done.stderr[-2000:])

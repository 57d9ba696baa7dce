"""The wasmtime host against small hand-written WASI guests (WAT): limits, cancel, streams.

These run in real wasmtime and need no toolchain, so they pin the host's behaviour down
independently of the C++ guest.
"""

from __future__ import annotations

import json
import threading
import time
from pathlib import Path

import wasmtime

from rmstudio.core.engine import GuestRuntime, RunControl, WasmEngine, module_cache
from rmstudio.core.runs import Limits, RunRequest

LOOP = """(module
  (memory (export "memory") 1)
  (func (export "_start") (loop $l (br $l))))"""

GROW = """(module
  (memory (export "memory") 1)
  (func (export "_start")
    (loop $l (if (i32.ne (memory.grow (i32.const 16)) (i32.const -1)) (then (br $l))))
    unreachable))"""

TRAP = """(module
  (memory (export "memory") 1)
  (func (export "_start") unreachable))"""

# Copies stdin to stdout, then writes two event lines to stderr with a busy pause between them.
ECHO = """(module
  (import "wasi_snapshot_preview1" "fd_read" (func $read (param i32 i32 i32 i32) (result i32)))
  (import "wasi_snapshot_preview1" "fd_write" (func $write (param i32 i32 i32 i32) (result i32)))
  (memory (export "memory") 2)
  (data (i32.const 1024) "{\\"event\\":\\"log\\",\\"message\\":\\"one\\"}\\n")
  (data (i32.const 1100) "{\\"event\\":\\"log\\",\\"message\\":\\"two\\"}\\n")
  (func $err (param $ptr i32) (param $len i32)
    (i32.store (i32.const 16) (local.get $ptr))
    (i32.store (i32.const 20) (local.get $len))
    (drop (call $write (i32.const 2) (i32.const 16) (i32.const 1) (i32.const 24))))
  (func (export "_start") (local $n i32) (local $i i32)
    (call $err (i32.const 1024) (i32.const 32))
    (loop $spin (local.set $i (i32.add (local.get $i) (i32.const 1)))
      (br_if $spin (i32.lt_u (local.get $i) (i32.const 200000000))))
    (call $err (i32.const 1100) (i32.const 32))
    (block $done (loop $copy
      (i32.store (i32.const 0) (i32.const 4096))
      (i32.store (i32.const 4) (i32.const 60000))
      (drop (call $read (i32.const 0) (i32.const 0) (i32.const 1) (i32.const 8)))
      (local.set $n (i32.load (i32.const 8)))
      (br_if $done (i32.eqz (local.get $n)))
      (i32.store (i32.const 0) (i32.const 4096))
      (i32.store (i32.const 4) (local.get $n))
      (drop (call $write (i32.const 1) (i32.const 0) (i32.const 1) (i32.const 8)))
      (br $copy)))))"""


# Writes 1 MiB (zeros, no newline) to file descriptor FD, forever.
FLOOD = """(module
  (import "wasi_snapshot_preview1" "fd_write" (func $w (param i32 i32 i32 i32) (result i32)))
  (memory (export "memory") 32)
  (func (export "_start")
    (i32.store (i32.const 0) (i32.const 1024))
    (i32.store (i32.const 4) (i32.const 1048576))
    (loop $l (drop (call $w (i32.const FD) (i32.const 0) (i32.const 1) (i32.const 8))) (br $l))))"""


def make_engine(tmp_path: Path, wat: str, name: str) -> WasmEngine:
    path = tmp_path / f"{name}.wasm"
    path.write_bytes(wasmtime.wat2wasm(wat))
    return WasmEngine(GuestRuntime(path, {}), use_cache=False)


def test_timeout_stops_an_endless_guest(tmp_path):
    engine = make_engine(tmp_path, LOOP, "loop")
    t0 = time.perf_counter()
    result = engine.run(RunRequest({}, limits=Limits(timeout_s=0.3)))
    elapsed = time.perf_counter() - t0
    assert not result.ok and result.error.code == "timeout"
    assert "0.3 s" in result.error.message
    print(f"timeout 0.3 s took {elapsed:.3f} s")  # reported, not asserted: machines are noisy


def test_cancel_from_another_thread(tmp_path):
    engine = make_engine(tmp_path, LOOP, "loop")
    control = RunControl()
    threading.Timer(0.2, control.cancel).start()
    events = []
    result = engine.run(RunRequest({}), on_event=events.append, control=control)
    assert result.error.code == "cancelled"
    # the host samples guest memory while the guest computes, for the live graph
    assert any(e["event"] == "memory" and e["memory_bytes"] == 65536 for e in events)


def test_memory_cap_ends_in_a_clear_error(tmp_path):
    engine = make_engine(tmp_path, GROW, "grow")
    result = engine.run(RunRequest({}, limits=Limits(memory_bytes=64 << 20)))
    assert result.error.code == "memory_limit" and "64 MiB" in result.error.message
    assert result.host["peak_memory_bytes"] <= 64 << 20


def test_a_cap_below_what_the_module_needs_to_start_says_so(tmp_path):
    big = '(module (memory (export "memory") 200) (func (export "_start")))'  # 12.5 MiB
    engine = make_engine(tmp_path, big, "big-start")
    result = engine.run(RunRequest({}, limits=Limits(memory_bytes=8 << 20)))
    assert result.error.code == "memory_limit", result.error
    assert "needs 12.5 MiB of memory to start" in result.error.message and "13 MiB" in result.error.hint


def test_plain_trap_is_reported_as_a_guest_bug(tmp_path):
    result = make_engine(tmp_path, TRAP, "trap").run(RunRequest({}))
    assert result.error.code == "trap" and "unreachable" in result.error.message


def test_stdin_stdout_and_live_events(tmp_path):
    engine = make_engine(tmp_path, ECHO, "echo")
    seen: list[tuple[float, dict]] = []
    t0 = time.perf_counter()
    request = RunRequest({"nodes": [], "note": "é" * 3})
    result = engine.run(request, on_event=lambda e: seen.append((time.perf_counter() - t0, e)))
    # The echo guest answers with the request itself: stdin reached the guest intact, and a
    # stdout document that is not a result is reported as such, not as a crash.
    assert result.error.code == "internal_error"
    assert result.error.details["stdout"] == request.to_bytes().decode()
    logs = [(t, e["message"]) for t, e in seen if e["event"] == "log"]
    assert [m for _, m in logs] == ["one", "two"]
    # "one" arrived while the guest was still spinning, before "two" was written
    assert logs[0][0] < logs[1][0]


def test_concurrent_runs_are_isolated(tmp_path):
    engine = make_engine(tmp_path, LOOP, "loop")
    controls = [RunControl(), RunControl()]
    results: dict[int, object] = {}

    def go(i: int, limits: Limits) -> None:
        results[i] = engine.run(RunRequest({}, limits=limits), control=controls[i])

    threads = [
        threading.Thread(target=go, args=(0, Limits(timeout_s=5))),
        threading.Thread(target=go, args=(1, Limits(timeout_s=0.3))),
    ]
    for t in threads:
        t.start()
    threads[1].join()
    assert results[1].error.code == "timeout"
    assert threads[0].is_alive()  # the other run is untouched by its neighbour's timeout
    controls[0].cancel()
    threads[0].join()
    assert results[0].error.code == "cancelled"


def test_module_cache_round_trip_and_corruption(tmp_path, monkeypatch):
    monkeypatch.setattr(module_cache, "module_cache_dir", lambda: tmp_path / "modules")
    wasm = tmp_path / "loop.wasm"
    wasm.write_bytes(wasmtime.wat2wasm(LOOP))
    engine = wasmtime.Engine(wasmtime.Config())
    first = module_cache.load_module(engine, wasm, "fp")
    second = module_cache.load_module(engine, wasm, "fp")
    assert (first.cache, second.cache) == ("miss", "hit")
    for entry in (tmp_path / "modules").iterdir():
        entry.write_bytes(b"garbage")
    third = module_cache.load_module(engine, wasm, "fp")
    assert third.cache == "miss"  # a damaged entry is recompiled, not fatal
    assert module_cache.load_module(engine, wasm, "fp").cache == "hit"
    assert module_cache.load_module(engine, wasm, "other-config").cache == "miss"


def test_a_guest_flooding_stdout_is_stopped_at_the_result_limit(tmp_path):
    engine = make_engine(tmp_path, FLOOD.replace("FD", "1"), "flood-stdout")
    limits = Limits(timeout_s=60, max_result_bytes=8 << 20)
    result = engine.run(RunRequest({}, limits=limits))
    assert not result.ok and result.error.code == "output_too_large", result.error
    assert "8 MiB" in result.error.message and "standard output" in result.error.message


def test_a_guest_flooding_stderr_without_newlines_keeps_host_memory_bounded(tmp_path):
    engine = make_engine(tmp_path, FLOOD.replace("FD", "2"), "flood-stderr")
    events = []
    result = engine.run(RunRequest({}, limits=Limits(timeout_s=1.0)), on_event=events.append)
    assert result.error.code == "timeout"
    logs = [e for e in events if e["event"] == "log" and e.get("source") == "guest"]
    assert logs, "the unterminated output still shows up as log lines"
    # each unterminated stretch is cut at 1 MiB instead of piling up on the host
    assert max(len(e["message"]) for e in logs) <= 1 << 20


def test_code_compiled_without_epoch_checks_never_serves_the_app(tmp_path, monkeypatch):
    # Benchmarks compile the guest without epoch checks to measure their cost; that code
    # cannot be timed out, so the module cache must keep it apart from the app's.
    monkeypatch.setattr(module_cache, "module_cache_dir", lambda: tmp_path / "modules")
    path = tmp_path / "loop.wasm"
    path.write_bytes(wasmtime.wat2wasm(LOOP))
    ceiling = WasmEngine(GuestRuntime(path, {}), epoch_checks=False)
    assert ceiling.load().cache == "miss"
    app = WasmEngine(GuestRuntime(path, {}))
    assert app.load().cache == "miss"  # not the entry the benchmark engine stored
    assert len(list((tmp_path / "modules").iterdir())) == 2  # each kept under its own key
    result = app.run(RunRequest({}, limits=Limits(timeout_s=0.2)))
    assert not result.ok and result.error.code == "timeout"


def test_oversized_request_is_refused_before_running(tmp_path):
    engine = make_engine(tmp_path, LOOP, "loop")
    big = RunRequest({"x": "y" * 2000}, limits=Limits(max_request_bytes=1000))
    result = engine.run(big)
    assert result.error.code == "request_too_large"


def test_missing_preopen_dir_is_a_clear_error(tmp_path):
    from rmstudio.core.runs import Preopen

    engine = make_engine(tmp_path, LOOP, "loop")
    result = engine.run(RunRequest({}, preopens=[Preopen(tmp_path / "absent", "/models")]))
    assert result.error.code == "io_error" and "absent" in result.error.message


def test_cancel_before_the_guest_starts(tmp_path):
    engine = make_engine(tmp_path, LOOP, "loop")
    control = RunControl()
    control.cancel()
    result = engine.run(RunRequest({}), control=control)
    assert result.error.code == "cancelled"
    json.dumps(result.to_json())  # a failed run still serialises for --json and the GUI

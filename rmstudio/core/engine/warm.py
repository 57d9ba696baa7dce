"""Warm guests: long-lived reactor instances that serve one request after another.

Why: loading a Whisper model and building whisper.cpp's state takes 0.15-0.25 s, as long as
transcribing a short clip, and a fresh instance per run pays it every time — for every file
of a session and every window of a long recording. A warm guest is an instance of the
reactor build (``rm_executor.reactor.wasm``, same code as the command) whose ``rm_serve``
export handles one request per call; the guest keeps the model it loaded (runtime/src/
nodes_whisper.cpp, "Loaded models") and nothing else of a request.

Isolation that stays per request: stdin, stdout, stderr and the preopened directories are a
new WASI context for every call (``Store.set_wasi`` replaces the previous one, and the guest
re-reads its preopen table), the result and the events go to that request's callbacks, and
the timeout, cancel button and memory samples follow that request's ``_RunState``. What is
shared: linear memory (the guest's heap, the model), and the store's memory cap — so guests
are pooled per cap. A request that ends in a trap or ``proc_exit`` (out of memory, timeout,
cancel, an internal error) leaves an instance in an unknown state: it is closed, never reused.

Thread model: a guest is used by one thread at a time (checked out of the pool for the whole
request); the pool itself is locked. Idle guests hold their linear memory (~150-200 MiB with
tiny.en loaded), so at most ``max_idle`` stay, and one idle for ``IDLE_S`` is closed on the
next pool operation.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import wasmtime

from rmstudio.core.engine import wasmtime_ext
from rmstudio.core.engine.module_cache import load_module
from rmstudio.core.runs import Preopen

if TYPE_CHECKING:
    from rmstudio.core.engine.host import WasmEngine, _RunState

IDLE_S = 300.0
SERVE_EXPORT = "rm_serve"


class WarmGuest:
    """One reactor instance in its own Store; ``serve`` runs one request in it."""

    def __init__(self, engine: WasmEngine, pre: wasmtime.InstancePre, memory_cap: int) -> None:
        self.memory_cap = memory_cap
        self.requests = 0
        self.healthy = True
        self.last_used = time.monotonic()
        self._state: _RunState | None = None
        self._store = wasmtime.Store(engine.engine)
        self._store.set_limits(memory_size=memory_cap)
        self._watch = wasmtime_ext.EpochWatch(self._store, self._decide)
        self._store.set_wasi(wasmtime.WasiConfig())  # no streams until the first request
        t0 = time.perf_counter()
        instance = pre.instantiate(self._store)
        exports = instance.exports(self._store)
        self._memory = exports["memory"]
        self._serve: Callable[[wasmtime.Store], Any] = exports[SERVE_EXPORT]
        exports["_initialize"](self._store)  # C/C++ constructors, once per instance
        self.start_ms = (time.perf_counter() - t0) * 1000

    def _decide(self) -> str | None:
        state = self._state
        return state.decide() if state is not None else None

    def memory_bytes(self) -> int:
        return int(self._memory.data_len(self._store))

    def serve(self, wasi: Any, state: _RunState) -> tuple[int, Exception | None, int]:
        """Run one request; returns (exit status, trap, final memory). A trap or exit ends the guest."""
        self._state = state
        state.memory = self.memory_bytes
        state.started = time.perf_counter()
        self._store.set_wasi(wasi.config)
        exit_code = 0
        trap: Exception | None = None
        try:
            exit_code = int(self._serve(self._store) or 0)
        except wasmtime.ExitTrap as exc:
            exit_code = exc.code
            self.healthy = False
        except (wasmtime.Trap, wasmtime.WasmtimeError) as exc:
            trap = exc
            self.healthy = False
        finally:
            final_memory = state.sample_memory()
            state.memory = None
            self._state = None
            self.requests += 1
            self.last_used = time.monotonic()
            # Replacing the context drops this request's streams; wait for their last bytes.
            self._store.set_wasi(wasmtime.WasiConfig())
            wasi.release()
            state.flush()
        return exit_code, trap, final_memory

    def close(self) -> None:
        self.healthy = False
        self._serve = None  # type: ignore[assignment]
        self._memory = None
        self._store.close()


class WarmPool:
    """Idle warm guests of one engine, keyed by memory cap."""

    def __init__(self, engine: WasmEngine, max_idle: int = 2) -> None:
        self._engine = engine
        self._lock = threading.Lock()
        self._idle: list[WarmGuest] = []
        self._pre: wasmtime.InstancePre | None = None
        self._load: dict[str, Any] = {}
        self.max_idle = max_idle

    def _instance_pre(self) -> tuple[wasmtime.InstancePre, dict[str, Any]]:
        with self._lock:
            if self._pre is None:
                engine = self._engine
                path = engine.runtime.reactor_path
                assert path is not None
                loaded = load_module(engine.engine, path, engine.fingerprint, engine.use_cache)
                linker = wasmtime.Linker(engine.engine)
                linker.define_wasi()
                self._pre = linker.instantiate_pre(loaded.module)
                self._load = {"module_cache": loaded.cache, "module_load_ms": round(loaded.load_ms, 3)}
            return self._pre, dict(self._load)

    def checkout(self, memory_cap: int) -> tuple[WarmGuest, dict[str, Any]]:
        """An idle guest with this cap, or a new one; ``host`` tells which (and its cost)."""
        self._expire()
        with self._lock:
            for i, guest in enumerate(self._idle):
                if guest.memory_cap == memory_cap:
                    del self._idle[i]
                    return guest, {"warm": "reused", "warm_requests": guest.requests}
        pre, host = self._instance_pre()
        guest = WarmGuest(self._engine, pre, memory_cap)
        host.update({"warm": "started", "instantiate_ms": round(guest.start_ms, 3), "warm_requests": 0})
        return guest, host

    def checkin(self, guest: WarmGuest) -> None:
        """Return a guest after a request; closes it if it failed or the pool is full."""
        if guest.healthy:
            with self._lock:
                if len(self._idle) < self.max_idle:
                    self._idle.append(guest)
                    return
        guest.close()

    def _expire(self) -> None:
        now = time.monotonic()
        with self._lock:
            old = [g for g in self._idle if now - g.last_used > IDLE_S]
            self._idle = [g for g in self._idle if g not in old]
        for guest in old:
            guest.close()

    def clear(self) -> None:
        """Close every idle guest (frees their memory); busy ones close on return if unhealthy."""
        with self._lock:
            idle, self._idle = self._idle, []
        for guest in idle:
            guest.close()

    @property
    def idle_count(self) -> int:
        with self._lock:
            return len(self._idle)


def serve_warm(
    engine: WasmEngine,
    body: bytes,
    preopens: list[Preopen],
    state: _RunState,
    stdout: bytearray,
    memory_cap: int,
) -> dict[str, Any]:
    """Run one request in a pooled warm guest; the returned host dict carries any trap."""
    pool = engine.warm_pool
    with engine.ticking():
        try:
            guest, host = pool.checkout(memory_cap)
        except (wasmtime.Trap, wasmtime.WasmtimeError) as exc:
            return {"warm": "failed", "trap": exc, "exit_code": 0, "final_memory_bytes": 0}
        wasi = engine.make_wasi(body, preopens, state, stdout)
        try:
            exit_code, trap, host["final_memory_bytes"] = guest.serve(wasi, state)
        finally:
            pool.checkin(guest)
    host["exit_code"] = exit_code
    if trap is not None:
        host["trap"] = trap
    return host

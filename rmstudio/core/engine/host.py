"""The wasmtime host: one Engine per process, a fresh Store per run (or a warm guest, see
:mod:`rmstudio.core.engine.warm`, when the caller asks for one).

Thread model (wasmtime-py objects are not thread-safe): a run creates, uses and drops its
Store, WASI config and instance on the calling thread (a warm guest's Store is used by one
thread at a time). Other threads only ever call
``Engine.increment_epoch`` (the ticker) or set a flag (``RunControl.cancel``). wasmtime
calls release the GIL, so runs on worker threads execute in parallel and a GUI stays live.

Each run's epoch callback fires on every tick (TICK_S); it stops the guest when the run is
cancelled or past its deadline, and samples the guest's linear memory so the live graph
moves even while the guest is deep inside one long computation.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import threading
import time
from dataclasses import dataclass, field
from typing import Any

import wasmtime

from rmstudio.core.engine import wasmtime_ext
from rmstudio.core.engine.module_cache import LoadedModule, load_module
from rmstudio.core.engine.runtime_locator import GuestRuntime, locate
from rmstudio.core.engine.warm import WarmPool, serve_warm
from rmstudio.core.errors import RMError
from rmstudio.core.runs import (
    DEFAULT_MAX_RESULT_BYTES,
    MAX_MEMORY,
    EventCallback,
    Limits,
    Preopen,
    RunRequest,
    RunResult,
    cancelled_error,
    timeout_error,
)

TICK_S = 0.02
MEMORY_SAMPLE_S = 0.1
WASM_PAGE = 65536


def _rss_bytes() -> int | None:
    try:
        with open("/proc/self/statm") as f:
            pages = int(f.read().split()[1])
    except (OSError, ValueError, IndexError):
        return None
    return pages * os.sysconf("SC_PAGE_SIZE")


@dataclass
class RunControl:
    """Cancel a run from any thread; ``cancel()`` is safe to call at any time, even twice."""

    _cancelled: threading.Event = field(default_factory=threading.Event)

    def cancel(self) -> None:
        self._cancelled.set()

    @property
    def cancelled(self) -> bool:
        return self._cancelled.is_set()


def engine_fingerprint(epoch_checks: bool = True) -> str:
    """What the compiled-module cache keys on besides the module: in step with engine_config."""
    return f"epoch={int(epoch_checks)};simd=1;opt=speed"


def engine_config(epoch_checks: bool = True) -> wasmtime.Config:
    """The sandbox's code generation: epoch checks (timeouts, cancel), SIMD128, optimised.

    Benchmarks that measure what this engine can do (benchmarks/bench_encoder_gflops.py)
    compile with the same settings, epoch checks included. ``epoch_checks=False`` exists only
    to measure what the checks cost (bench_guest_ab.py --without-epoch-checks): such code can
    neither time out nor be cancelled, so the app never compiles it.
    """
    config = wasmtime.Config()
    config.epoch_interruption = epoch_checks
    config.wasm_simd = True
    config.cranelift_opt_level = "speed"
    return config


class _Ticker:
    """Advances the engine's epoch every TICK_S while at least one run is active."""

    def __init__(self, engine: wasmtime.Engine) -> None:
        self._engine = engine
        self._lock = threading.Lock()
        self._active = 0
        self._wake = threading.Condition(self._lock)
        self._thread: threading.Thread | None = None

    def __enter__(self) -> _Ticker:
        with self._lock:
            self._active += 1
            if self._thread is None:
                self._thread = threading.Thread(target=self._loop, name="rmstudio-epoch", daemon=True)
                self._thread.start()
            self._wake.notify()
        return self

    def __exit__(self, *exc: object) -> None:
        with self._lock:
            self._active -= 1

    def _loop(self) -> None:
        while True:
            with self._lock:
                while self._active == 0:
                    self._wake.wait()
            time.sleep(TICK_S)
            self._engine.increment_epoch()


class WasmEngine:
    """The sandbox: compiles (or loads from cache) the guest once and runs requests in it."""

    def __init__(
        self, runtime: GuestRuntime | None = None, use_cache: bool = True, *, epoch_checks: bool = True
    ) -> None:
        # epoch_checks=False: benchmarks only (see engine_config); deadlines and cancel do nothing.
        self.runtime = runtime or locate()
        self.fingerprint = engine_fingerprint(epoch_checks)
        self.engine = wasmtime.Engine(engine_config(epoch_checks))
        self._ticker = _Ticker(self.engine)
        self._module_lock = threading.Lock()
        self._loaded: LoadedModule | None = None
        self._linker: wasmtime.Linker | None = None
        self._pre: wasmtime.InstancePre | None = None
        self.use_cache = use_cache
        self.warm_pool = WarmPool(self, max_idle=max(1, min(4, os.cpu_count() or 1)))

    def load(self) -> LoadedModule:
        """Compile or deserialize the guest (once per engine); safe from any thread."""
        with self._module_lock:
            if self._loaded is None:
                loaded = load_module(self.engine, self.runtime.path, self.fingerprint, self.use_cache)
                linker = wasmtime.Linker(self.engine)
                linker.define_wasi()
                self._pre = linker.instantiate_pre(loaded.module)
                self._linker = linker
                self._loaded = loaded
            return self._loaded

    def run(
        self,
        request: RunRequest,
        on_event: EventCallback | None = None,
        control: RunControl | None = None,
        warm: bool = False,
    ) -> RunResult:
        """Run one request. Never raises for guest-side failures.

        ``warm=True`` serves it from a long-lived guest (:mod:`.warm`) when this runtime has
        a reactor build, so a model loaded by an earlier request is reused; otherwise, and by
        default, it runs in a fresh Store and instance.
        """
        return self.run_bytes(request.to_bytes(), request.limits, request.preopens, on_event, control, warm)

    def run_bytes(
        self,
        body: bytes,
        limits: Limits | None = None,
        preopens: list[Preopen] | None = None,
        on_event: EventCallback | None = None,
        control: RunControl | None = None,
        warm: bool = False,
    ) -> RunResult:
        """Run a request given as the exact bytes the guest reads on stdin."""
        t_start = time.perf_counter()
        control = control or RunControl()
        limits = limits or Limits()
        limit = limits.max_request_bytes
        if len(body) > limit:
            return RunResult(
                ok=False,
                engine="wasm",
                error=RMError(
                    "request_too_large",
                    f"the run request is {len(body) / 2**20:.1f} MiB, "
                    f"over the limit of {limit / 2**20:.0f} MiB",
                    hint="Pass large audio as a file input instead of inline data, or raise the limit",
                ),
            )
        for pre in preopens or []:
            if not pre.host_path.is_dir():
                return RunResult(
                    ok=False,
                    engine="wasm",
                    error=RMError(
                        "io_error",
                        f"directory to share with the guest does not exist: {pre.host_path}",
                    ),
                )
        memory_cap = min(limits.memory_bytes or MAX_MEMORY, MAX_MEMORY)
        state = _RunState(control, limits.timeout_s, on_event, limits.max_result_bytes)
        stdout = bytearray()
        if warm and self.runtime.reactor_path is not None:
            host = serve_warm(self, body, preopens or [], state, stdout, memory_cap)
            trap = host.pop("trap", None)
        else:
            host, trap = self._run_fresh(body, preopens or [], state, stdout, memory_cap)
        host["wall_ms"] = round((time.perf_counter() - t_start) * 1000, 3)
        host["peak_memory_bytes"] = state.peak_memory
        if state.rss_peak:
            host["peak_rss_bytes"] = state.rss_peak
        return self._finish(bytes(stdout), trap, state, memory_cap, host)

    def make_wasi(self, body: bytes, preopens: list[Preopen], state: _RunState, stdout: bytearray) -> _Wasi:
        """One request's WASI context: stdin = the request, stdout collected, stderr = events."""
        wasi = wasmtime.WasiConfig()
        wasi.argv = ["rm_executor"]
        wasmtime_ext.set_stdin_bytes(wasi, body)

        def on_stdout(data: bytes) -> None:
            if len(stdout) + len(data) > state.max_result_bytes:
                state.stop("output_limit")  # the guest stops at its next epoch check
                return
            stdout.extend(data)

        on_stderr = state.on_stderr  # keep one bound method: identity matters below
        wasi.stdout_custom = on_stdout
        wasi.stderr_custom = on_stderr
        for pre in preopens:
            wasi.preopen_dir(str(pre.host_path), pre.guest_path, pre.writable)
        return _Wasi(wasi, [on_stdout, on_stderr])

    def _run_fresh(
        self, body: bytes, preopens: list[Preopen], state: _RunState, stdout: bytearray, memory_cap: int
    ) -> tuple[dict[str, Any], Exception | None]:
        loaded = self.load()
        host: dict[str, Any] = {"module_cache": loaded.cache, "module_load_ms": round(loaded.load_ms, 3)}
        assert self._pre is not None
        wasi = self.make_wasi(body, preopens, state, stdout)
        store = wasmtime.Store(self.engine)
        store.set_limits(memory_size=memory_cap)
        store.set_wasi(wasi.config)
        instance = None
        trap: Exception | None = None
        exit_code = 0
        watch = wasmtime_ext.EpochWatch(store, state.decide)
        with self._ticker:
            t_inst = time.perf_counter()
            try:
                instance = self._pre.instantiate(store)
                memory = instance.exports(store)["memory"]
                state.memory = lambda m=memory, s=store: m.data_len(s)
                host["instantiate_ms"] = round((time.perf_counter() - t_inst) * 1000, 3)
                state.started = time.perf_counter()
                start = instance.exports(store)["_start"]
                start(store)
            except wasmtime.ExitTrap as exc:
                exit_code = exc.code
            except (wasmtime.Trap, wasmtime.WasmtimeError) as exc:
                trap = exc
            finally:
                final_memory = state.sample_memory()
                state.memory = None
                # Drop every per-run object here, on this thread (see module docstring).
                instance = None
                store.close()
                del store, watch
                wasi.release()
                state.flush()
        host["exit_code"] = exit_code
        host["final_memory_bytes"] = final_memory
        return host, trap

    def ticking(self) -> _Ticker:
        """``with engine.ticking():`` keeps the epoch advancing while a guest runs."""
        return self._ticker

    def _finish(
        self, stdout: bytes, trap: Exception | None, state: _RunState, memory_cap: int, host: dict[str, Any]
    ) -> RunResult:
        def failed(error: RMError) -> RunResult:
            return RunResult(ok=False, engine="wasm", host=host, error=error)

        if state.stop_reason == "cancelled":
            return failed(cancelled_error())
        if state.stop_reason == "output_limit":
            return failed(
                RMError(
                    "output_too_large",
                    "the guest wrote more than the result limit of "
                    f"{state.max_result_bytes / 2**20:.0f} MiB to its standard output, and was stopped",
                    hint="Return fewer or smaller outputs (an audio file instead of inline samples), "
                    "or raise Limits.max_result_bytes",
                ),
            )
        if state.stop_reason == "timeout":
            return failed(timeout_error(state.timeout_s))
        doc = None
        text = stdout.strip()
        if text:
            try:
                doc = json.loads(text)
            except ValueError:
                doc = None
        if isinstance(doc, dict) and "ok" in doc:
            result = RunResult.from_guest(doc, engine="wasm")
            result.host = host
            if result.ok:
                result.metrics.setdefault("peak_memory_bytes", state.peak_memory)
            return result
        if trap is not None:
            start_need = re.search(r"minimum size of (\d+) pages exceeds memory limits", str(trap))
            if start_need:  # the cap is below what the module declares it needs to start
                need = int(start_need.group(1)) * WASM_PAGE
                return failed(
                    RMError(
                        "memory_limit",
                        f"the guest needs {need / 2**20:.1f} MiB of memory to start, "
                        f"over the limit of {memory_cap / 2**20:g} MiB",
                        hint=f"Raise the memory limit (--memory-limit) to at least {-(-need // 2**20)} MiB",
                    ),
                )
            near_cap = state.peak_memory + 16 * WASM_PAGE >= memory_cap
            if near_cap:
                return failed(
                    RMError(
                        "memory_limit",
                        f"the guest ran out of memory at the limit of {memory_cap / 2**20:.0f} MiB",
                        hint="Raise the memory limit (--memory-limit) or use a smaller model or input",
                    ),
                )
            message = _trap_summary(trap)
            return failed(
                RMError(
                    "trap",
                    f"the guest stopped with a WebAssembly trap: {message}",
                    hint="This is a bug in the guest executor; run with --debug and report it",
                    details={"trap": str(trap)},
                ),
            )
        return failed(
            RMError(
                "internal_error",
                "the guest ended without writing a result"
                if not text
                else "the guest wrote an unreadable result",
                details={"stdout": text[:2000].decode("utf-8", "replace")},
            ),
        )


def _trap_summary(trap: Exception) -> str:
    """The cause line of a wasmtime trap ("wasm `unreachable` instruction executed")."""
    lines = [ln.strip() for ln in str(trap).splitlines() if ln.strip()]
    if "Caused by:" in lines:
        rest = lines[lines.index("Caused by:") + 1 :]
        if rest:
            return rest[0].removeprefix("wasm trap: ")
    return lines[0] if lines else type(trap).__name__


@dataclass
class _Wasi:
    """A WASI config and the output callbacks wasmtime must release before a run is over."""

    config: wasmtime.WasiConfig
    callbacks: list[object]

    def release(self) -> None:
        """Wait until every byte the guest wrote has been delivered (see wasmtime_ext)."""
        wasmtime_ext.wait_streams_released(self.callbacks)
        self.callbacks = []


class _RunState:
    """Per-run bookkeeping shared by the stderr callback and the epoch callback."""

    # Longest stderr line kept while waiting for its newline: events are short lines; a guest
    # writing without newlines must not grow the host's memory.
    MAX_LINE_BYTES = 1 << 20

    def __init__(
        self,
        control: RunControl,
        timeout_s: float | None,
        on_event: EventCallback | None,
        max_result_bytes: int = DEFAULT_MAX_RESULT_BYTES,
    ):
        self.control = control
        self.timeout_s = timeout_s
        self.max_result_bytes = max_result_bytes
        self.on_event = on_event
        self.started = time.perf_counter()
        self.stop_reason: str | None = None
        self.memory = None
        self.peak_memory = 0
        self.rss_peak = 0
        self._pending = bytearray()
        self._last_sample = 0.0

    def emit(self, event: dict[str, Any]) -> None:
        if self.on_event is None:
            return
        with contextlib.suppress(Exception):  # a broken listener must not break the run
            self.on_event(event)

    def on_stderr(self, data: bytes) -> None:
        self._pending.extend(data)
        while True:
            nl = self._pending.find(b"\n")
            if nl < 0:
                break
            line = bytes(self._pending[:nl])
            del self._pending[: nl + 1]
            self._line(line)
        if len(self._pending) > self.MAX_LINE_BYTES:  # no newline in sight: keep the start
            line = bytes(self._pending[: self.MAX_LINE_BYTES])
            self._pending.clear()
            self._line(line)

    def stop(self, reason: str) -> None:
        """Stop the guest at its next epoch check (for reasons found outside the callback)."""
        if self.stop_reason is None:
            self.stop_reason = reason

    def flush(self) -> None:
        if self._pending:
            line = bytes(self._pending)
            self._pending.clear()
            self._line(line)

    def _line(self, line: bytes) -> None:
        text = line.decode("utf-8", "replace").strip()
        if not text:
            return
        event: Any = None
        if text.startswith("{"):
            try:
                event = json.loads(text)
            except ValueError:
                event = None
        if not isinstance(event, dict) or "event" not in event:
            event = {"event": "log", "level": "info", "message": text, "source": "guest"}
        mem = event.get("memory_bytes")
        if isinstance(mem, int) and mem > self.peak_memory:
            self.peak_memory = mem
        self.emit(event)

    def sample_memory(self) -> int:
        getter = self.memory
        if getter is None:
            return self.peak_memory
        size = int(getter())
        self.peak_memory = max(self.peak_memory, size)
        return size

    def decide(self) -> str | None:
        """Epoch callback: stop the guest (return a reason) or let it continue (None)."""
        try:
            return self._decide()
        except KeyboardInterrupt:
            # Ctrl-C with Python's default handler lands here, in the only Python code running
            # during a guest call; raised out of a ctypes callback it would be printed and lost.
            self.control.cancel()
            self.stop_reason = "cancelled"
            return "cancelled"

    def _decide(self) -> str | None:
        if self.stop_reason is not None:
            return self.stop_reason
        now = time.perf_counter()
        if self.control.cancelled:
            self.stop_reason = "cancelled"
            return "cancelled"
        if self.timeout_s is not None and now - self.started > self.timeout_s:
            self.stop_reason = "timeout"
            return "timeout"
        if now - self._last_sample >= MEMORY_SAMPLE_S:
            self._last_sample = now
            size = self.sample_memory()
            rss = _rss_bytes()
            if rss:
                self.rss_peak = max(self.rss_peak, rss)
            self.emit(
                {
                    "event": "memory",
                    "source": "host",
                    "memory_bytes": size,
                    "rss_bytes": rss,
                    "t_ms": (now - self.started) * 1000,
                }
            )
        return None


_DEFAULT: WasmEngine | None = None
_DEFAULT_LOCK = threading.Lock()


def default_engine() -> WasmEngine:
    """The process-wide engine (created on first use)."""
    global _DEFAULT
    with _DEFAULT_LOCK:
        if _DEFAULT is None:
            _DEFAULT = WasmEngine()
        return _DEFAULT

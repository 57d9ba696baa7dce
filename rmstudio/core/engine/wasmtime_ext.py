"""Two wasmtime C-API features the Python classes do not wrap yet, in one place.

* ``wasmtime_store_epoch_deadline_callback``: lets each run decide at every epoch tick
  whether to continue (and sample its memory) or stop, so one shared ``Engine`` and one
  ticker thread give every run its own timeout and its own cancel button.
* ``wasi_config_set_stdin_bytes``: hands the request to the guest from memory instead of a
  temporary file.

And one behaviour to wait for: wasmtime delivers WASI output to ``stdout_custom`` /
``stderr_custom`` callbacks from its own (tokio) worker threads and releases them there, after
the Store is gone. :func:`wait_streams_released` blocks until that happened, so every byte
the guest wrote has been delivered when a run returns, and no release is left to run while
the interpreter shuts down (which panics a wasmtime thread and prints a Rust backtrace).

Both come from ``wasmtime._bindings`` of the pinned wasmtime-py (see pyproject.toml); the
engine tests exercise them, so a wasmtime upgrade that changes them fails loudly.
"""

from __future__ import annotations

import ctypes
import time
from collections.abc import Callable

import wasmtime
from wasmtime import _ffi as ffi
from wasmtime import _wasi

# What the callback returns: None to keep running, or a message to stop the guest with.
DeadlineDecision = Callable[[], str | None]

_CALLBACK_TYPE = ctypes.CFUNCTYPE(
    ctypes.c_size_t,
    ctypes.POINTER(ffi.wasmtime_context_t),
    ctypes.c_void_p,
    ctypes.POINTER(ctypes.c_uint64),
    ctypes.POINTER(ffi.wasmtime_update_deadline_kind_t),
)
_FINALIZER_TYPE = ctypes.CFUNCTYPE(None, ctypes.c_void_p)
_UPDATE_CONTINUE = 0


class EpochWatch:
    """Installs a per-store epoch callback; keep this object alive as long as the store."""

    def __init__(self, store: wasmtime.Store, decide: DeadlineDecision) -> None:
        self._decide = decide

        def on_deadline(_ctx, _data, delta, kind):  # runs on the thread executing the guest
            try:
                stop = self._decide()
            except Exception as exc:  # never let an exception cross the C boundary
                stop = f"internal error in deadline check: {exc}"
            if stop is not None:
                err = ffi.wasmtime_error_new(stop.encode("utf-8", "replace"))
                return ctypes.cast(err, ctypes.c_void_p).value or 0
            delta[0] = 1
            kind[0] = _UPDATE_CONTINUE
            return 0

        self._callback = _CALLBACK_TYPE(on_deadline)
        self._finalizer = _FINALIZER_TYPE(lambda _data: None)
        ffi.wasmtime_store_epoch_deadline_callback(store.ptr(), self._callback, None, self._finalizer)
        store.set_epoch_deadline(1)


def set_stdin_bytes(wasi: wasmtime.WasiConfig, data: bytes) -> None:
    """Make ``data`` the guest's stdin (the config takes its own copy)."""
    vec = ffi.wasm_byte_vec_t()
    buf = (ctypes.c_uint8 * len(data)).from_buffer_copy(data) if data else None
    ffi.wasm_byte_vec_new(ctypes.byref(vec), len(data), buf)
    ffi.wasi_config_set_stdin_bytes(wasi.ptr(), ctypes.byref(vec))


def wait_streams_released(callbacks: list[object], timeout_s: float = 5.0) -> bool:
    """Wait until wasmtime has released the given output callbacks; False on timeout."""
    deadline = time.monotonic() + timeout_s
    handles = _wasi.CUSTOM_OUTPUTS.handles
    while any(v is cb for v in list(handles.values()) for cb in callbacks):
        if time.monotonic() > deadline:
            return False
        time.sleep(0.001)
    return True

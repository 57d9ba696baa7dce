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
import itertools
import time
import weakref
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

# The store keeps raw pointers to the callback and finalizer until it is deleted, which may
# happen after the EpochWatch that installed them is gone (a garbage-collected cycle frees
# its members in any order). A freed ctypes thunk there is a jump into freed memory, so both
# are module-level thunks that live as long as the process; each store passes a token that
# finds its watch, held weakly so the registry never keeps a store alive.
_watches: dict[int, weakref.ref[EpochWatch]] = {}
_tokens = itertools.count(1)


def _on_deadline(_ctx, data, delta, kind):  # runs on the thread executing the guest
    watch = _watches.get(data or 0) if _watches is not None else None
    target = watch() if watch is not None else None
    try:
        stop = target.decide() if target is not None else None
    except Exception as exc:  # never let an exception cross the C boundary
        stop = f"internal error in deadline check: {exc}"
    if stop is not None:
        err = ffi.wasmtime_error_new(stop.encode("utf-8", "replace"))
        return ctypes.cast(err, ctypes.c_void_p).value or 0
    delta[0] = 1
    kind[0] = _UPDATE_CONTINUE
    return 0


def _on_store_deleted(data):
    if _watches is not None:  # None only while the interpreter tears this module down
        _watches.pop(data or 0, None)


_DEADLINE_THUNK = _CALLBACK_TYPE(_on_deadline)
_FINALIZER_THUNK = _FINALIZER_TYPE(_on_store_deleted)
# One extra reference each, never released: at interpreter exit module globals are cleared in
# no fixed order, and a store still alive then must not call a freed thunk.
for _thunk in (_DEADLINE_THUNK, _FINALIZER_THUNK):
    ctypes.pythonapi.Py_IncRef(ctypes.py_object(_thunk))


class EpochWatch:
    """Installs a per-store epoch callback; the guest keeps running if this object is dropped."""

    def __init__(self, store: wasmtime.Store, decide: DeadlineDecision) -> None:
        self.decide = decide
        token = next(_tokens)
        _watches[token] = weakref.ref(self)
        ffi.wasmtime_store_epoch_deadline_callback(
            store.ptr(), _DEADLINE_THUNK, ctypes.c_void_p(token), _FINALIZER_THUNK
        )
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

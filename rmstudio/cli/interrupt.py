"""Ctrl-C for commands that run guests: cancel the run, let it clean up, then exit 130.

While a guest computes, the only Python code that runs is wasmtime's epoch callback (and,
with parallel windows, the main thread waiting in ``join``). A KeyboardInterrupt raised in
the callback cannot cross the C boundary: ctypes prints it and the guest keeps running. So a
SIGINT handler only asks the run to stop (it ends at the next epoch tick, within ~20 ms), and
the command raises KeyboardInterrupt itself once the run has returned. A second Ctrl-C
raises at once, for a run that does not stop.
"""

from __future__ import annotations

import signal
import threading
from types import TracebackType

from rmstudio.core.engine.host import RunControl


class CancelOnCtrlC:
    """``with CancelOnCtrlC() as stop: run(..., control=stop.control)``; 130 if interrupted."""

    def __init__(self, control: RunControl | None = None) -> None:
        self.control = control or RunControl()
        self.interrupted = threading.Event()
        self._previous: object = None

    def _on_sigint(self, signum: int, frame: object) -> None:
        if self.interrupted.is_set():
            raise KeyboardInterrupt
        self.interrupted.set()
        self.control.cancel()

    def __enter__(self) -> CancelOnCtrlC:
        if threading.current_thread() is threading.main_thread():
            self._previous = signal.signal(signal.SIGINT, self._on_sigint)
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        if self._previous is not None:
            signal.signal(signal.SIGINT, self._previous)  # type: ignore[arg-type]
            self._previous = None
        if self.interrupted.is_set() and (exc_type is None or issubclass(exc_type, Exception)):
            raise KeyboardInterrupt from None  # the run ended as cancelled: exit as interrupted

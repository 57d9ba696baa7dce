"""Ctrl-C (and SIGTERM) for commands that run guests: cancel the run, let it clean up, then
exit 130 (143 for SIGTERM).

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


class Terminated(KeyboardInterrupt):
    """SIGTERM: handled like Ctrl-C (every cleanup path runs), reported as 'terminated', 143."""


def _raise_terminated(signum: int, frame: object) -> None:
    raise Terminated


class TerminateLikeCtrlC:
    """For a whole command: SIGTERM raises :class:`Terminated`, so half-written files are
    removed as they are for Ctrl-C (a package being packed left its temp file behind)."""

    def __enter__(self) -> TerminateLikeCtrlC:
        self._previous = None
        if threading.current_thread() is threading.main_thread():
            self._previous = signal.signal(signal.SIGTERM, _raise_terminated)
        return self

    def __exit__(self, *exc: object) -> None:
        if self._previous is not None:
            signal.signal(signal.SIGTERM, self._previous)  # type: ignore[arg-type]


class CancelOnCtrlC:
    """``with CancelOnCtrlC() as stop: run(..., control=stop.control)``; 130 if interrupted."""

    def __init__(self, control: RunControl | None = None) -> None:
        self.control = control or RunControl()
        self.interrupted = threading.Event()
        self.signal = signal.SIGINT
        self._previous: dict[int, object] = {}

    def _on_signal(self, signum: int, frame: object) -> None:
        if self.interrupted.is_set():
            raise Terminated if signum == signal.SIGTERM else KeyboardInterrupt
        self.signal = signum
        self.interrupted.set()
        self.control.cancel()

    def __enter__(self) -> CancelOnCtrlC:
        if threading.current_thread() is threading.main_thread():
            for sig in (signal.SIGINT, signal.SIGTERM):
                self._previous[sig] = signal.signal(sig, self._on_signal)
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        for sig, previous in self._previous.items():
            signal.signal(sig, previous)  # type: ignore[arg-type]
        self._previous = {}
        if self.interrupted.is_set() and (exc_type is None or issubclass(exc_type, Exception)):
            # the run ended as cancelled: exit as interrupted
            raise (Terminated if self.signal == signal.SIGTERM else KeyboardInterrupt) from None

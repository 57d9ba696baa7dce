"""Short jobs off the GUI thread (waveform summaries, model import, package verification).

Why not a ``QRunnable`` subclass with its own signals ``QObject`` per job: the pool deletes
the runnable on the worker thread when ``run()`` returns, while the GUI thread may drop the
last Python reference to the same wrapper (and so delete its signals object) as soon as the
queued "done" signal arrives. That race crashed the test suite with a segmentation fault.
Here the only QObject is a :class:`BackgroundJobs` owned by the panel and living on the GUI
thread; a job is a plain Python callable that the pool wraps itself, and the worker thread
only emits this object's signals (delivered queued on the GUI thread).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from PySide6.QtCore import QObject, QThreadPool, Signal

from rmstudio.core.errors import RMError


class BackgroundJobs(QObject):
    """A private thread pool whose results arrive as ``succeeded(token, value)`` or
    ``failed(token, RMError)`` on the thread this object lives on."""

    succeeded = Signal(object, object)
    failed = Signal(object, object)

    def __init__(self, parent: QObject, max_threads: int = 1, error_code: str = "internal_error") -> None:
        super().__init__(parent)
        self.pool = QThreadPool(self)
        self.pool.setMaxThreadCount(max_threads)
        self.error_code = error_code
        self.pending: set[Any] = set()
        self.succeeded.connect(self._forget)
        self.failed.connect(self._forget)

    def submit(self, token: Any, fn: Callable[[], Any], source: str | None = None) -> None:
        """Run ``fn()`` on the pool; ``token`` (hashable) names the job in the signals."""
        self.pending.add(token)
        self.pool.start(lambda: self._run(token, fn, source))

    def _run(self, token: Any, fn: Callable[[], Any], source: str | None) -> None:
        try:
            value = fn()
        except RMError as exc:
            self.failed.emit(token, exc)
        except Exception as exc:  # a damaged file or a bug must never take the window down
            self.failed.emit(token, RMError(self.error_code, f"{type(exc).__name__}: {exc}", source=source))
        else:
            self.succeeded.emit(token, value)

    def _forget(self, token: Any, _value: Any) -> None:
        self.pending.discard(token)

    def wait(self, msecs: int) -> bool:
        return self.pool.waitForDone(msecs)

    def shutdown(self, msecs: int = 5000) -> None:
        """Drop queued jobs and wait for running ones (call before the window closes)."""
        self.pool.clear()
        self.pool.waitForDone(msecs)

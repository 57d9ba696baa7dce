"""Running a pipeline off the GUI thread: a worker QObject on its own QThread.

``RunController.start(request, engine)`` creates a fresh :class:`RunWorker` and QThread per
run (so no state leaks between runs), moves the worker onto the thread and starts it; the
worker calls ``rmstudio.core.execute.execute`` there. The engine's event callback runs on
that worker thread: it appends the event to a locked list and, only when the list was
empty, emits ``events_ready`` - a queued signal the GUI thread answers by draining the whole
list. However fast the guest emits events, the GUI's event queue holds at most one pending
notification. The result comes back through the queued ``finished`` signal.

``cancel()`` is safe from the GUI thread at any time (``RunControl.cancel`` sets a flag the
engine's epoch callback reads). ``shutdown()`` cancels and waits for the thread, which is
what closing the window does. The native reference executor checks the same flag between
nodes and every 256 items, so a cancel there waits for the current step.
"""

from __future__ import annotations

import contextlib
import threading
import time
from collections.abc import Callable
from typing import Any

from PySide6.QtCore import QObject, QThread, Signal, Slot

from rmstudio.core.engine import RunControl
from rmstudio.core.errors import RMError
from rmstudio.core.execute import execute
from rmstudio.core.runs import RunRequest, RunResult


def _no_preview(_outputs: Any) -> str:
    return ""


# Runs on the worker thread before the run: returns the request to run and a clean-up
# callable (or None). Heavy input work - decoding an audio file - belongs here, off the GUI.
Prepare = Callable[[RunRequest], tuple[RunRequest, Callable[[], None] | None]]
# Executes a prepared request (default: core.execute with the chosen engine); a package
# run uses the package's own runtime instead.
Runner = Callable[[RunRequest, Callable[[dict[str, Any]], None], RunControl], RunResult]


class RunWorker(QObject):
    events_ready = Signal()
    finished = Signal(object, str)  # RunResult, display text of its outputs

    def __init__(
        self,
        request: RunRequest,
        engine: str,
        preview: Callable[[Any], str] = _no_preview,
        prepare: Prepare | None = None,
        runner: Runner | None = None,
    ) -> None:
        super().__init__()
        self.request = request
        self.engine = engine
        self.preview = preview
        self.prepare = prepare
        self.runner = runner
        self.control = RunControl()
        self._lock = threading.Lock()
        self._pending: list[dict[str, Any]] = []
        self.thread_id: int | None = None

    def take_events(self) -> list[dict[str, Any]]:
        with self._lock:
            events, self._pending = self._pending, []
        return events

    def _on_event(self, event: dict[str, Any]) -> None:
        with self._lock:
            notify = not self._pending
            self._pending.append(event)
        if notify:
            self.events_ready.emit()

    @Slot()
    def run(self) -> None:
        self.thread_id = threading.get_ident()
        t0 = time.perf_counter()
        cleanup = None
        try:
            if self.prepare is not None:
                self.request, cleanup = self.prepare(self.request)
            if self.runner is not None:
                result = self.runner(self.request, self._on_event, self.control)
            else:
                # Warm: a Whisper model loaded by an earlier run of this session is reused.
                result = execute(self.request, self.engine, self._on_event, self.control, warm=True)
        except RMError as exc:
            result = RunResult(ok=False, engine=self.engine, error=exc)
        except Exception as exc:  # never let a bug take the window down
            result = RunResult(
                ok=False,
                engine=self.engine,
                error=RMError(
                    "internal_error",
                    f"unexpected {type(exc).__name__}: {exc}",
                    hint="This is a bug in RM Studio; please report it with the event log",
                ),
            )
        finally:
            if cleanup is not None:
                with contextlib.suppress(OSError):
                    cleanup()
        result.host.setdefault("wall_ms", round((time.perf_counter() - t0) * 1000, 3))
        # Large outputs are formatted here, off the GUI thread.
        text = ""
        if result.ok:
            try:
                text = self.preview(result.outputs or [])
            except Exception as exc:  # a display problem must not lose the result
                text = f"(the outputs could not be shown: {type(exc).__name__}: {exc})"
        self.finished.emit(result, text)


class RunController(QObject):
    """Owns at most one running worker; relays its events and result to the GUI thread."""

    started = Signal()
    events = Signal(list)
    finished = Signal(object, str)  # RunResult, display text of its outputs

    def __init__(self, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self._thread: QThread | None = None
        self._worker: RunWorker | None = None
        # The last finished thread and worker, kept until the next run: they are dropped from
        # Python rather than with deleteLater (a finished thread processes no more events).
        self._retired: tuple[QThread, RunWorker] | None = None
        self.cancel_requested = False

    @property
    def running(self) -> bool:
        return self._worker is not None

    @property
    def worker(self) -> RunWorker | None:
        return self._worker

    def start(
        self,
        request: RunRequest,
        engine: str,
        preview: Callable[[Any], str] = _no_preview,
        prepare: Prepare | None = None,
        runner: Runner | None = None,
    ) -> None:
        if self.running:
            raise RMError("busy", "a run is already in progress", hint="Cancel it or wait for it to finish")
        self.cancel_requested = False
        thread = QThread()
        thread.setObjectName("rmstudio-run")
        worker = RunWorker(request, engine, preview, prepare, runner)
        worker.moveToThread(thread)
        thread.started.connect(worker.run)
        worker.events_ready.connect(self._drain)
        worker.finished.connect(self._on_finished)
        self._thread, self._worker = thread, worker
        thread.start()
        self.started.emit()

    def cancel(self) -> None:
        if self._worker is not None:
            self.cancel_requested = True
            self._worker.control.cancel()

    def _drain(self) -> None:
        if self._worker is not None:
            batch = self._worker.take_events()
            if batch:
                self.events.emit(batch)

    def _on_finished(self, result: RunResult, text: str) -> None:
        self._drain()
        self._stop_thread()
        self.finished.emit(result, text)

    def _stop_thread(self) -> None:
        thread, worker = self._thread, self._worker
        self._thread = self._worker = None
        if thread is not None and worker is not None:
            thread.quit()
            thread.wait()
            self._retired = (thread, worker)

    def shutdown(self, timeout_ms: int = 30_000) -> bool:
        """Cancel any run and wait for its thread; True when nothing is left running."""
        if self._thread is None:
            return True
        self.cancel()
        thread = self._thread
        thread.quit()  # the event loop starts only after run() returns; quit queues the exit
        done = thread.wait(timeout_ms)
        if done and self._worker is not None:
            self._worker.finished.disconnect(self._on_finished)
            self._worker.events_ready.disconnect(self._drain)
            self._retired = (thread, self._worker)
            self._thread = self._worker = None
        return done

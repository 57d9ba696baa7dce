"""Python's cyclic garbage collector, run on the GUI thread only.

Why: CPython collects cycles on whichever thread happens to allocate past the threshold. In
RM Studio that is usually a run's worker thread (decoding audio, converting a model), and
the cycles it finds include Python-owned Qt objects: pyqtgraph's scenes and menus, a retired
run's QThread, everything of a window or dialog whose C++ side was just deleted. Their C++
destructors then run on the worker while the GUI thread paints: a segmentation fault (seen
in CI, reproduced by collecting a closed window's garbage on another thread).

So, as Qt applications written in Python commonly do, automatic collection is switched off
and a GUI-thread timer runs the same generational collections Python would have run, at
the same thresholds. Objects without cycles are still freed at once, on any thread.
"""

from __future__ import annotations

import gc

from PySide6.QtCore import QCoreApplication, QObject, QTimer

CHECK_INTERVAL_MS = 250


class GuiThreadCollector(QObject):
    """Owned by the QApplication; ``uninstall()`` restores Python's own collection."""

    def __init__(self, app: QCoreApplication, interval_ms: int = CHECK_INTERVAL_MS) -> None:
        super().__init__(app)
        self.setObjectName("rmstudio-gui-thread-gc")
        self.thresholds = gc.get_threshold()
        self._was_enabled = gc.isenabled()
        self.collections = [0, 0, 0]
        self._long_lived = 0  # objects in the oldest generation after the last full collection
        gc.disable()
        self.timer = QTimer(self)
        self.timer.setInterval(interval_ms)
        self.timer.timeout.connect(self.check)
        self.timer.start()

    def check(self) -> None:
        """Collect the oldest generation whose count passed its threshold, as CPython does,
        including its rule that a full collection waits until the objects promoted to the
        oldest generation since the last one are a quarter of those that survived it."""
        counts = gc.get_count()
        if not self.thresholds[0] or counts[0] <= self.thresholds[0]:
            return  # CPython, too, considers collecting only when the youngest overflows
        for generation in (2, 1, 0):
            if not self.thresholds[generation] or counts[generation] <= self.thresholds[generation]:
                continue
            if generation == 2:
                oldest = len(gc.get_objects(generation=2))
                if oldest - self._long_lived <= self._long_lived / 4:
                    continue
            gc.collect(generation)
            self.collections[generation] += 1
            if generation == 2:
                self._long_lived = len(gc.get_objects(generation=2))
            return

    def uninstall(self) -> None:
        if not self.timer.isActive():
            return
        self.timer.stop()
        gc.collect()  # what is pending goes now, on this (the GUI) thread
        if self._was_enabled:
            gc.enable()
        self.deleteLater()


def install(app: QCoreApplication) -> GuiThreadCollector:
    """Collect cycles on ``app``'s thread from now on (idempotent: one collector per app)."""
    for existing in app.findChildren(GuiThreadCollector):
        if existing.timer.isActive():
            return existing
    return GuiThreadCollector(app)

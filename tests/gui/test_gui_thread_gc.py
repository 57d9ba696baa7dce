"""Cyclic garbage holding Qt objects is destroyed on the GUI thread, never on a worker.

CI once crashed with a segmentation fault while a Transcribe run converted the default
model on its worker thread: the allocations there set off a collection that destroyed the
previous test's window (Python-owned pyqtgraph scenes, menus, a QThread) off the GUI thread.
"""

from __future__ import annotations

import gc
import threading

from PySide6.QtCore import QObject, Qt


def _cyclic_qobject(destroyed_on: list[int]) -> QObject:
    """A Python-owned QObject in a reference cycle (once the caller drops it, only the cyclic
    collector can free it), reporting the thread it is destroyed on."""
    obj = QObject()
    obj.myself = obj
    obj.destroyed.connect(
        lambda: destroyed_on.append(threading.get_ident()), Qt.ConnectionType.DirectConnection
    )
    return obj


def _allocate_like_a_run(keep: list) -> None:
    """Container allocations, as converting a model or decoding audio makes on a worker: far
    past the threshold at which CPython would collect on the allocating thread."""
    for _ in range(50):
        keep.append([[] for _ in range(10_000)])


def test_a_workers_allocations_never_destroy_qt_objects_off_the_gui_thread(qtbot, _gui_thread_gc):
    assert not gc.isenabled()  # the collector (installed like ensure_app does) owns collection
    gc.collect()
    destroyed_on: list[int] = []
    _cyclic_qobject(destroyed_on)
    keep: list = []
    worker = threading.Thread(target=_allocate_like_a_run, args=(keep,))
    worker.start()
    worker.join()
    assert destroyed_on == []  # nothing was collected on the worker
    # The GUI thread's timer sees the counts past the thresholds and collects here.
    qtbot.waitUntil(lambda: bool(destroyed_on), timeout=10_000)
    assert destroyed_on == [threading.get_ident()]
    assert sum(_gui_thread_gc.collections) >= 1
    keep.clear()


def test_old_garbage_is_reached_by_full_collections(_gui_thread_gc):
    """A cycle that lived long enough to reach the oldest generation before it became garbage
    is freed too, once enough new objects have been promoted (CPython's own rule)."""
    destroyed_on: list[int] = []
    gc.collect()
    holder = [_cyclic_qobject(destroyed_on)]
    gc.collect(1)  # it survives (still held): promoted to the oldest generation
    holder.clear()  # now garbage, in the oldest generation
    assert destroyed_on == []
    full = _gui_thread_gc.collections[2]
    keep = []
    for _ in range(2000):  # what a long session allocates and keeps, checked by the timer
        keep.append([[] for _ in range(800)])
        _gui_thread_gc.check()
        if destroyed_on:
            break
    keep.clear()
    assert destroyed_on == [threading.get_ident()]
    assert _gui_thread_gc.collections[2] > full


def test_uninstalling_gives_collection_back_to_python(qapp, _gui_thread_gc):
    from rmstudio.gui import gui_thread_gc

    assert gui_thread_gc.install(qapp) is _gui_thread_gc  # one per application
    _gui_thread_gc.uninstall()
    assert gc.isenabled()  # as it was before the GUI test began
    _gui_thread_gc.uninstall()  # twice is harmless (the fixture does it again)
    assert gc.isenabled()

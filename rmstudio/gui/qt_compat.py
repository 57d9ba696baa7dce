"""A guard against PySide6 builds that drop references to ``None`` and ``True``.

PySide6 6.12.0's abi3 wheels (``cp310-abi3``) return ``None`` from every void C++ call and
``True`` from ``SignalInstance.emit()`` without taking a reference. That is harmless on
Python 3.12+, where those objects are immortal, and fatal on 3.11: each call lowers the
singleton's reference count by one, and after some thousands of calls - a few seconds of a
live plot - CPython aborts with "Fatal Python error: none_dealloc" (or ``bool_dealloc``).

:func:`apply` measures the leak with a few harmless calls and, only where it exists (a
CPython before 3.12, release build), raises the reference count of the affected singleton
by 2**48 - out of reach for any session. CPython's singletons are static objects that are
never freed, so a larger count changes nothing else. On a fixed PySide6 (or Python 3.12+)
it does nothing. See docs/GUI.md ("Known issues").
"""

from __future__ import annotations

import ctypes
import sys

BOOST = 1 << 48
PROBE_CALLS = 64

applied: dict[str, int] = {}


def _refcount_writable() -> bool:
    return (
        sys.implementation.name == "cpython"
        and sys.version_info < (3, 12)
        and not hasattr(sys, "gettotalrefcount")  # debug builds lay PyObject out differently
    )


def _leak(obj: object, call) -> int:
    before = sys.getrefcount(obj)
    for _ in range(PROBE_CALLS):
        call()
    return before - sys.getrefcount(obj)


def apply() -> dict[str, int]:
    """Detect and neutralise the leak; returns {name: calls-per-leak measured} for what it fixed."""
    if applied or not _refcount_writable():
        return applied
    from PySide6.QtCore import QObject, Signal

    class _Probe(QObject):
        ping = Signal()

    probe = _Probe()
    checks = {
        "None": (None, lambda: probe.setObjectName("probe")),
        "True": (True, lambda: probe.ping.emit()),
    }
    for name, (obj, call) in checks.items():
        lost = _leak(obj, call)
        if lost >= PROBE_CALLS // 2:
            ctypes.c_ssize_t.from_address(id(obj)).value += BOOST
            applied[name] = lost
    return applied

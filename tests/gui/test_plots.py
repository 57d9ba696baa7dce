"""Live plots: what the curves actually draw (pyqtgraph's displayed data), not what they were given."""

from __future__ import annotations

import numpy as np

from rmstudio.gui.plots import MAX_DRAWN_POINTS, LivePlots
from rmstudio.gui.telemetry import MIB, RunTelemetry


def _plots(qtbot) -> tuple[LivePlots, RunTelemetry]:
    tel = RunTelemetry()
    plots = LivePlots(tel)
    qtbot.addWidget(plots)
    plots.resize(450, 400)
    plots.show()
    plots.reset()
    return plots, tel


def test_a_whisper_windows_burst_of_rtf_points_is_drawn(qtbot):
    # One 30-s window: the guest reports progress only when the window's segments arrive,
    # all within a millisecond, after seconds of memory samples. Automatic downsampling
    # (which assumes evenly spaced x) used to decimate these two points to none.
    plots, tel = _plots(qtbot)
    tel.feed({"event": "start", "node_count": 3, "t_ms": 1.2, "memory_bytes": 10 * MIB})
    tel.feed({"event": "progress", "done": 0, "total": 11, "unit": "s", "t_ms": 183})
    for i in range(32):
        tel.feed({"event": "memory", "t_ms": 200 + 100 * i, "memory_bytes": 120 * MIB})
    tel.feed({"event": "progress", "done": 8, "total": 11, "unit": "s", "t_ms": 3437.2})
    tel.feed({"event": "progress", "done": 11, "total": 11, "unit": "s", "t_ms": 3437.7})
    tel.feed({"event": "finish", "ok": True, "t_ms": 3438.4, "peak_memory_bytes": 120 * MIB})
    assert plots.refresh(force=True)
    x, y = plots.progress_curve.getData()
    assert x.tolist() == [3.4372, 3.4377]
    assert y.tolist() == [3.4372 / 8, 3.4377 / 11]
    assert plots.progress_curve.opts["symbol"] == "o"  # isolated points stay visible


def test_an_hour_of_memory_samples_is_downsampled_keeping_the_peak(qtbot):
    plots, tel = _plots(qtbot)
    tel.feed({"event": "start", "node_count": 1, "t_ms": 0})
    n = 36_000  # ten samples a second for an hour
    mib = np.full(n, 130.0)
    mib[12_345] = 190.0  # one short spike
    for i in range(n):
        tel.feed({"event": "memory", "t_ms": 100.0 * i, "memory_bytes": int(mib[i] * MIB)})
    plots.refresh(force=True)
    x, y = plots.memory_curve.getData()
    assert 0 < len(x) <= 2 * MAX_DRAWN_POINTS  # peak mode keeps a min and a max per bin
    assert y.max() == 190.0 and y.min() == 130.0

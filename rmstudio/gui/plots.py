"""Live run plots (pyqtgraph): guest memory, and RTF or progress, redrawn from a timer.

The panel's timer calls :meth:`LivePlots.refresh` a few times a second; it redraws only
when :class:`~rmstudio.gui.telemetry.RunTelemetry` reports new data. The memory curve is
clipped to the view and peak-downsampled by its point count, so hour-long runs with tens of
thousands of points stay cheap. Not pyqtgraph's automatic downsampling: it assumes evenly
spaced x, and events arrive in bursts (a Whisper window's segments within a millisecond),
where it decimated a handful of points to none and left the RTF plot empty.
Dark-on-light colours, axis labels with units.
"""

from __future__ import annotations

import pyqtgraph as pg
from PySide6.QtCore import Qt
from PySide6.QtGui import QColor
from PySide6.QtWidgets import QVBoxLayout, QWidget

from rmstudio.gui.telemetry import MIB, RunTelemetry

pg.setConfigOptions(antialias=True, background="w", foreground="#3a3a3a")

MEMORY_COLOR = "#1f5fa8"
PROGRESS_COLOR = "#2e7d32"
RTF_COLOR = "#b35900"
# Points per curve drawn at most before peak downsampling (a few per horizontal pixel).
MAX_DRAWN_POINTS = 4000


def downsample_factor(points: int) -> int:
    """Every how many points one (peak) is drawn: 1 until a curve has MAX_DRAWN_POINTS."""
    return max(1, -(-points // MAX_DRAWN_POINTS))


def _plot(title: str, left: str, left_units: str | None) -> pg.PlotWidget:
    w = pg.PlotWidget()
    w.setMenuEnabled(False)
    w.setMouseEnabled(x=False, y=False)
    w.hideButtons()
    item = w.getPlotItem()
    item.setTitle(title, size="9pt", color="#303030")
    item.setLabel("left", left, units=left_units, **{"font-size": "8pt"})
    item.setLabel("bottom", "time", units="s", **{"font-size": "8pt"})
    # An opaque light grid on y only: alpha-blended full grids cost ~2x the redraw time.
    item.showGrid(x=False, y=True, alpha=1.0)
    for axis in ("left", "bottom"):
        ax = item.getAxis(axis)
        ax.setPen(pg.mkPen("#dedede"))
        ax.setTextPen(pg.mkPen("#3a3a3a"))
    item.getAxis("left").setWidth(46)
    w.setMinimumHeight(120)
    return w


class LivePlots(QWidget):
    def __init__(self, telemetry: RunTelemetry, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.telemetry = telemetry
        self.memory_plot = _plot("Guest linear memory", "memory", None)
        self.memory_plot.getPlotItem().setLabel("left", "memory (MiB)")
        fill = QColor(MEMORY_COLOR)
        fill.setAlpha(40)
        self.memory_curve = self.memory_plot.plot(
            pen=pg.mkPen(MEMORY_COLOR, width=2), fillLevel=0, brush=pg.mkBrush(fill)
        )
        self.progress_plot = _plot("Progress", "done (%)", None)
        # Progress moves in steps (a node finishes), so it is drawn as steps.
        self.progress_curve = self.progress_plot.plot(pen=pg.mkPen(PROGRESS_COLOR, width=2), stepMode="left")
        self.realtime_line = pg.InfiniteLine(
            pos=1.0,
            angle=0,
            pen=pg.mkPen("#9a9a9a", width=1, style=Qt.PenStyle.DashLine),
            label="real time",
            labelOpts={"position": 0.92, "color": "#7a7a7a"},
        )
        self.memory_curve.setClipToView(True)
        self._downsampling: dict[int, int] = {}
        self.hint = pg.TextItem(
            "Press Run (F5) to watch memory and progress", color="#9a9a9a", anchor=(0.5, 0.5)
        )
        self.memory_plot.addItem(self.hint, ignoreBounds=True)
        self.hint.setPos(0.5, 0.5)
        self.memory_plot.setXRange(0, 1, padding=0)
        self.memory_plot.setYRange(0, 1, padding=0)
        self.progress_plot.setXRange(0, 1, padding=0)
        self.progress_plot.setYRange(0, 110, padding=0)
        self._mode = "progress"
        self._titles: dict[int, str] = {}
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.setSpacing(4)
        layout.addWidget(self.memory_plot, 1)
        layout.addWidget(self.progress_plot, 1)
        self.redraws = 0

    def _title(self, plot: pg.PlotWidget, text: str) -> None:
        if self._titles.get(id(plot)) != text:  # a new title re-lays the plot out: only on change
            self._titles[id(plot)] = text
            plot.getPlotItem().setTitle(text, size="9pt", color="#303030")

    def reset(self) -> None:
        self.hint.setVisible(False)
        self.memory_curve.setData([], [])
        self.progress_curve.setData([], [])
        self._set_mode("progress")
        self._title(self.memory_plot, "Guest linear memory")
        self.refresh(force=True)

    def _set_mode(self, mode: str) -> None:
        if mode == self._mode:
            return
        self._mode = mode
        item = self.progress_plot.getPlotItem()
        if mode == "rtf":
            self.progress_curve.setPen(pg.mkPen(RTF_COLOR, width=2))
            self.progress_curve.opts["stepMode"] = None  # RTF is a rate: a line, not steps
            # Dots too: RTF points come per transcribed segment, often only at a window's end.
            self.progress_curve.setSymbol("o")
            self.progress_curve.setSymbolSize(5)
            self.progress_curve.setSymbolPen(None)
            self.progress_curve.setSymbolBrush(pg.mkBrush(RTF_COLOR))
            item.setLabel("left", "RTF (wall s / audio s)")
            self.progress_plot.addItem(self.realtime_line)
        else:
            self.progress_curve.setPen(pg.mkPen(PROGRESS_COLOR, width=2))
            self.progress_curve.opts["stepMode"] = "left"
            self.progress_curve.setSymbol(None)
            item.setLabel("left", "done (%)")
            self.progress_plot.removeItem(self.realtime_line)

    def _set_data(self, curve: pg.PlotDataItem, x, y) -> None:
        ds = downsample_factor(len(x))
        if self._downsampling.get(id(curve), 1) != ds:
            self._downsampling[id(curve)] = ds
            curve.setDownsampling(ds=ds, auto=False, method="peak")
        curve.setData(x, y)

    def refresh(self, force: bool = False) -> bool:
        """Redraw if the telemetry changed since the last call; True if it redrew."""
        tel = self.telemetry
        if not tel.take_dirty() and not force:
            return False
        if tel.event_count == 0:
            return False  # nothing run yet: keep the empty axes and the hint
        self.redraws += 1
        x_end = max(0.001, tel.last_t * 1.08)
        x, y = tel.memory.arrays()
        self._set_data(self.memory_curve, x, y)
        top = max(1.0, float(y.max()) * 1.2) if len(y) else 1.0
        self.memory_plot.setYRange(0, top, padding=0)
        self.memory_plot.setXRange(0, x_end, padding=0)
        peak = tel.peak_memory / MIB
        title = f"Guest linear memory · peak {peak:.1f} MiB" if tel.peak_memory else "Guest linear memory"
        self._title(self.memory_plot, title)
        if tel.is_audio:
            self._set_mode("rtf")
            x, y = tel.rtf.arrays()
            self._set_data(self.progress_curve, x, y)
            top = max(1.2, float(y.max()) * 1.2) if len(y) else 1.2
            self.progress_plot.setYRange(0, top, padding=0)
            now = tel.rtf_now
            speed = f" · {now:.2f} ({1 / now:.1f}× real time)" if now else ""
            self._title(self.progress_plot, f"Real-time factor{speed}")
        else:
            self._set_mode("progress")
            x, y = tel.progress.arrays()
            self._set_data(self.progress_curve, x, y)
            self.progress_plot.setYRange(0, 110, padding=0)
            pct = tel.percent
            label = f"Progress · {pct:.0f} % of {tel.node_count} nodes" if pct is not None else "Progress"
            self._title(self.progress_plot, label)
        self.progress_plot.setXRange(0, x_end, padding=0)
        return True

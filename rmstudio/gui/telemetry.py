"""What the live plots draw: ring buffers fed by run events, read by a timer.

Events arrive (in batches, on the GUI thread) from the run worker and are appended here in
O(1); nothing is drawn per event. The plot timer asks :meth:`RunTelemetry.take_dirty` a few
times a second and redraws only when something changed.

Series:

* guest linear memory in MiB over time (every event's ``memory_bytes``, including the
  host's 100 ms ``memory`` samples),
* real-time factor for audio pipelines: RTF = elapsed wall seconds / audio seconds done,
  from ``progress`` events with ``unit == "s"`` (below 1 means faster than real time),
* otherwise overall progress in percent: finished nodes plus the running node's
  ``done/total`` fraction, over the node count.

Time is the event's ``t_ms`` (milliseconds since the run started) when present.
"""

from __future__ import annotations

import time
from typing import Any

import numpy as np

MIB = 1024 * 1024


class Series:
    """A fixed-capacity ring buffer of (x, y) points; the oldest points fall off when full."""

    def __init__(self, capacity: int = 50_000) -> None:
        self.capacity = capacity
        self._x = np.zeros(capacity)
        self._y = np.zeros(capacity)
        self._next = 0
        self._count = 0

    def __len__(self) -> int:
        return self._count

    def append(self, x: float, y: float) -> None:
        self._x[self._next] = x
        self._y[self._next] = y
        self._next = (self._next + 1) % self.capacity
        self._count = min(self._count + 1, self.capacity)

    def clear(self) -> None:
        self._next = 0
        self._count = 0

    def arrays(self) -> tuple[np.ndarray, np.ndarray]:
        """Copies of the points in arrival order."""
        if self._count < self.capacity:
            return self._x[: self._count].copy(), self._y[: self._count].copy()
        order = np.r_[self._next : self.capacity, 0 : self._next]
        return self._x[order], self._y[order]

    def last(self) -> tuple[float, float] | None:
        if not self._count:
            return None
        i = (self._next - 1) % self.capacity
        return float(self._x[i]), float(self._y[i])


class RunTelemetry:
    """Aggregates one run's events into plottable series and a few running totals."""

    def __init__(self) -> None:
        self.memory = Series()
        self.rtf = Series()
        self.progress = Series()
        self.reset()

    def reset(self) -> None:
        self.memory.clear()
        self.rtf.clear()
        self.progress.clear()
        self.started = time.monotonic()
        self.node_count = 0
        self.nodes_done = 0
        self.node_fraction = 0.0
        self.current_node: str | None = None
        self.audio_done_s = 0.0
        self.audio_total_s: float | None = None
        self.peak_memory = 0
        self.peak_rss = 0
        self.last_t = 0.0
        self.is_audio = False
        self.event_count = 0
        self._dirty = True

    def _t(self, event: dict[str, Any]) -> float:
        t = event.get("t_ms")
        if isinstance(t, (int, float)) and not isinstance(t, bool):
            seconds = float(t) / 1000.0
        else:
            seconds = time.monotonic() - self.started
        self.last_t = max(self.last_t, seconds)
        return seconds

    def feed(self, event: dict[str, Any]) -> None:
        """Take one event (docs/CONTRACT.md "Events" plus the host's memory samples)."""
        self.event_count += 1
        kind = event.get("event")
        t = self._t(event)
        mem = event.get("memory_bytes")
        if isinstance(mem, int) and not isinstance(mem, bool) and mem >= 0:
            self.memory.append(t, mem / MIB)
            self.peak_memory = max(self.peak_memory, mem)
            self._dirty = True
        rss = event.get("rss_bytes")
        if isinstance(rss, int) and rss > 0:
            self.peak_rss = max(self.peak_rss, rss)
        if kind == "start":
            count = event.get("node_count")
            if isinstance(count, int) and count > 0:
                self.node_count = count
            self._add_progress(t)
        elif kind == "node_start":
            self.current_node = event.get("node_id")
            self.node_fraction = 0.0
        elif kind == "progress":
            done, total = event.get("done"), event.get("total")
            if event.get("unit") == "s" and isinstance(done, (int, float)) and done > 0:
                self.is_audio = True
                self.audio_done_s = float(done)
                if isinstance(total, (int, float)) and total > 0:
                    self.audio_total_s = float(total)
                if t > 0:
                    self.rtf.append(t, t / float(done))
                    self._dirty = True
            if isinstance(done, (int, float)) and isinstance(total, (int, float)) and total > 0:
                self.node_fraction = max(0.0, min(1.0, float(done) / float(total)))
                self._add_progress(t)
        elif kind == "node_finish":
            self.nodes_done += 1
            self.node_fraction = 0.0
            self.current_node = None
            self._add_progress(t)
        elif kind == "finish":
            peak = event.get("peak_memory_bytes")
            if isinstance(peak, int):
                self.peak_memory = max(self.peak_memory, peak)
            if event.get("ok"):
                self.nodes_done = max(self.nodes_done, self.node_count)
                self.node_fraction = 0.0
            self._add_progress(t)

    def _add_progress(self, t: float) -> None:
        if self.node_count <= 0:
            return
        percent = 100.0 * min(1.0, (self.nodes_done + self.node_fraction) / self.node_count)
        self.progress.append(t, percent)
        self._dirty = True

    @property
    def rtf_now(self) -> float | None:
        last = self.rtf.last()
        return last[1] if last else None

    @property
    def percent(self) -> float | None:
        last = self.progress.last()
        return last[1] if last else None

    def take_dirty(self) -> bool:
        """True once after each change (the plot timer redraws only then)."""
        dirty, self._dirty = self._dirty, False
        return dirty


def format_event(event: dict[str, Any]) -> str:
    """One log line for an event: ``[   12.3 ms] node_finish add  2.1 ms, 3 -> 3 items``."""
    t = event.get("t_ms")
    stamp = f"[{t:10.1f} ms] " if isinstance(t, (int, float)) and not isinstance(t, bool) else " " * 17
    kind = str(event.get("event", "?"))
    if kind == "node_start":
        detail = f"{event.get('node_id')} ({event.get('node_type')})"
    elif kind == "node_finish":
        dur = event.get("duration_ms")
        dur_text = f"{dur:.2f} ms" if isinstance(dur, (int, float)) else ""
        detail = (
            f"{event.get('node_id')}  {dur_text}, {event.get('items_in')} -> {event.get('items_out')} items"
        )
    elif kind == "progress":
        detail = f"{event.get('node_id')}  {event.get('done')}/{event.get('total')} {event.get('unit', '')}"
    elif kind == "log":
        level = event.get("level", "info")
        node = f"[{event['node_id']}] " if event.get("node_id") else ""
        detail = f"{level}: {node}{event.get('message', '')}"
    elif kind == "start":
        detail = f"{event.get('node_count')} nodes, {event.get('item_count')} input items"
    elif kind == "finish":
        detail = "ok" if event.get("ok") else "failed"
        peak = event.get("peak_memory_bytes")
        if isinstance(peak, int):
            detail += f", peak memory {peak / MIB:.1f} MiB"
    else:
        rest = {k: v for k, v in event.items() if k not in ("event", "t_ms")}
        detail = " ".join(f"{k}={v}" for k, v in rest.items())
    return f"{stamp}{kind:<11} {detail}".rstrip()

"""A terminal progress bar for long CLI work (conversions, downloads, transcriptions).

On a terminal it redraws one line in place; when stderr is not a terminal (CI logs, pipes)
it prints a plain line at most every few seconds so logs stay readable.
"""

from __future__ import annotations

import sys
import time
from typing import TextIO


class ProgressBar:
    def __init__(self, label: str, unit: str = "", stream: TextIO | None = None, width: int = 30) -> None:
        self.label = label
        self.unit = unit
        self.stream = stream or sys.stderr
        self.width = width
        self.tty = hasattr(self.stream, "isatty") and self.stream.isatty()
        self._last = 0.0
        self._shown = False
        self.started = time.monotonic()
        self.suffix = ""

    def _fmt(self, value: float) -> str:
        if self.unit == "B":
            for unit in ("B", "KiB", "MiB", "GiB"):
                if value < 1024 or unit == "GiB":
                    return f"{value:.0f} {unit}" if unit == "B" else f"{value:.1f} {unit}"
                value /= 1024
        if not self.unit:
            return f"{value:.0f}"
        return f"{value:.1f} {self.unit}"

    def update(self, done: float, total: float | None = None) -> None:
        now = time.monotonic()
        final = total is not None and done >= total
        if not final and now - self._last < (0.1 if self.tty else 5.0):
            return
        self._last = now
        if total:
            frac = max(0.0, min(1.0, done / total))
            bar = "#" * int(frac * self.width) + "." * (self.width - int(frac * self.width))
            text = f"{self.label} [{bar}] {frac * 100:5.1f}% {self._fmt(done)}/{self._fmt(total)}"
        else:
            text = f"{self.label} {self._fmt(done)}"
        if self.suffix:
            text += f"  {self.suffix}"
        if self.tty:
            self.stream.write("\r\x1b[2K" + text)
        else:
            self.stream.write(text + "\n")
        self.stream.flush()
        self._shown = True

    def __call__(self, done: float, total: float | None = None) -> None:
        self.update(done, total)

    def close(self, message: str | None = None) -> None:
        if self.tty and self._shown:
            self.stream.write("\r\x1b[2K")
        if message:
            self.stream.write(message + "\n")
        self.stream.flush()

    def __enter__(self) -> ProgressBar:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def progress_listener(bar: ProgressBar, audio_seconds: float | None = None):
    """An engine event callback that drives ``bar`` from the guest's ``progress`` events.

    Shows which node is working, audio seconds done of the total, and the real-time factor so
    far (processing time / audio time; below 1 is faster than real time).
    """
    started = time.monotonic()

    def on_event(event: dict) -> None:
        kind = event.get("event")
        if kind == "progress" and event.get("unit") == "s":
            done, total = float(event.get("done", 0)), float(event.get("total") or audio_seconds or 0)
            elapsed = time.monotonic() - started
            bar.label = f"{event.get('node_id', 'processing')}"
            bar.suffix = f"RTF {elapsed / done:.2f}" if done > 0 else ""
            bar.update(done, total or None)
        elif kind == "segment" and isinstance(event.get("text"), str):
            text = event["text"].strip()
            bar.suffix = (text[:40] + "...") if len(text) > 40 else text

    return on_event

"""Run telemetry (Qt-free): ring buffers, RTF from audio progress, node progress, log lines."""

from __future__ import annotations

import pytest

from rmstudio.gui.telemetry import MIB, RunTelemetry, Series, format_event


def test_series_is_a_ring_buffer_in_arrival_order():
    s = Series(capacity=4)
    for i in range(6):
        s.append(i, i * 10)
    x, y = s.arrays()
    assert x.tolist() == [2, 3, 4, 5] and y.tolist() == [20, 30, 40, 50]
    assert s.last() == (5.0, 50.0) and len(s) == 4
    s.clear()
    assert len(s) == 0 and s.last() is None


def test_audio_progress_gives_the_real_time_factor():
    tel = RunTelemetry()
    tel.feed({"event": "start", "t_ms": 0, "node_count": 2, "memory_bytes": 4 * MIB})
    tel.feed({"event": "node_start", "node_id": "whisper", "t_ms": 10})
    tel.feed(
        {"event": "progress", "node_id": "whisper", "done": 5.0, "total": 11.0, "unit": "s", "t_ms": 1000}
    )
    tel.feed(
        {"event": "progress", "node_id": "whisper", "done": 11.0, "total": 11.0, "unit": "s", "t_ms": 2200}
    )
    assert tel.is_audio
    assert tel.rtf_now == pytest.approx(2.2 / 11.0)
    assert tel.audio_done_s == 11.0 and tel.audio_total_s == 11.0
    assert tel.rtf.arrays()[1].tolist() == pytest.approx([0.2, 0.2])
    assert tel.percent == pytest.approx(50.0)  # one of two nodes, its progress complete


def test_node_progress_and_memory_peaks():
    tel = RunTelemetry()
    tel.feed({"event": "start", "t_ms": 0, "node_count": 4})
    tel.feed(
        {"event": "memory", "source": "host", "memory_bytes": 8 * MIB, "rss_bytes": 300 * MIB, "t_ms": 100}
    )
    tel.feed({"event": "node_finish", "node_id": "a", "t_ms": 150, "memory_bytes": 12 * MIB})
    tel.feed({"event": "progress", "node_id": "b", "done": 1, "total": 4, "unit": "items", "t_ms": 160})
    assert tel.percent == pytest.approx(100 * 1.25 / 4)
    tel.feed({"event": "finish", "ok": True, "t_ms": 200, "peak_memory_bytes": 16 * MIB})
    assert tel.percent == pytest.approx(100)
    assert tel.peak_memory == 16 * MIB and tel.peak_rss == 300 * MIB
    assert not tel.is_audio
    assert tel.take_dirty() and not tel.take_dirty()


def test_garbage_events_are_ignored_not_fatal():
    tel = RunTelemetry()
    for event in (
        {},
        {"event": "progress", "done": "x"},
        {"event": "memory", "memory_bytes": -1},
        {"t_ms": True},
    ):
        tel.feed(event)
    assert len(tel.memory) == 0


def test_log_lines():
    line = format_event(
        {
            "event": "node_finish",
            "node_id": "add",
            "duration_ms": 0.25,
            "t_ms": 3.5,
            "items_in": 3,
            "items_out": 3,
        }
    )
    assert "node_finish" in line and "add" in line and "0.25 ms" in line and "3 -> 3 items" in line
    assert format_event({"event": "log", "level": "warning", "message": "hi", "node_id": "n"}).endswith(
        "warning: [n] hi"
    )

"""The reference executor: the guest's semantics in plain Python and numpy.

It exists to check the sandbox, not to replace it: the same request run here and in the
guest must give the same outputs (bit-exact for the math nodes, within stated tolerances for
audio). It also lets a user compare timings (``--engine native``).
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import Any

from rmstudio.core.errors import RMError
from rmstudio.core.manifest import catalog
from rmstudio.core.manifest.validate import effective_params, validate_data
from rmstudio.core.native import nodes_audio, nodes_math, nodes_whisper  # noqa: F401  (register the nodes)
from rmstudio.core.native.base import NODES, Context
from rmstudio.core.native.values import to_internal, to_output
from rmstudio.core.runs import NO_INPUT, EventCallback, RunRequest, RunResult, cancelled_error, timeout_error

ARRAY_ENCODINGS = ("auto", "json", "base64")


def _fail(error: RMError, emit: EventCallback, t0: float) -> RunResult:
    emit({"event": "finish", "ok": False, "t_ms": (time.perf_counter() - t0) * 1000})
    if error.source is None:
        error.source = "request"
    return RunResult(ok=False, engine="native", error=error)


class _Deadline:
    """The run's time limit and cancel request, checked between nodes and while items are
    walked (the sandbox checks both at every loop head; this is the same promise, coarser)."""

    def __init__(self, t0: float, timeout_s: float | None, control: object | None) -> None:
        self.until = t0 + timeout_s if timeout_s is not None else None
        self.timeout_s = timeout_s
        self.control = control

    def check(self) -> None:
        if getattr(self.control, "cancelled", False):
            raise cancelled_error()
        if self.until is not None and time.perf_counter() > self.until:
            assert self.timeout_s is not None
            raise timeout_error(self.timeout_s)


class _CheckedItems(list):
    """A node's items: iterating them checks the deadline every 256 items (every node walks
    its items with ``for``/``enumerate``), so a long node honours --timeout too."""

    def __init__(self, items: list[Any], deadline: _Deadline) -> None:
        super().__init__(items)
        self._deadline = deadline

    def __iter__(self) -> Iterator[Any]:
        for i, item in enumerate(super().__iter__()):
            if i % 256 == 0:
                self._deadline.check()
            yield item


def run(
    request: RunRequest, on_event: EventCallback | None = None, control: object | None = None
) -> RunResult:
    """Execute ``request`` in-process and return the result the guest would return."""
    t0 = time.perf_counter()
    deadline = _Deadline(t0, request.limits.timeout_s if request.limits else None, control)
    options = request.options or {}
    events_on = options.get("events", True) is not False

    def emit(event: dict[str, Any]) -> None:
        if on_event is not None and events_on:
            on_event(event)

    def now_ms() -> float:
        return (time.perf_counter() - t0) * 1000

    encoding = options.get("array_encoding", "auto")
    if encoding not in ARRAY_ENCODINGS:
        return _fail(
            RMError(
                "invalid_request",
                f"options.array_encoding must be one of {', '.join(ARRAY_ENCODINGS)}",
                path="/options/array_encoding",
            ),
            emit,
            t0,
        )

    report = validate_data(request.manifest, prefix="/manifest")
    if report.errors:
        return _fail(report.errors[0], emit, t0)
    graph = report.graph
    assert graph is not None

    if request.input_data is NO_INPUT or request.input_data is None:
        items: list[Any] = []
    elif isinstance(request.input_data, list):
        items = list(request.input_data)
    else:
        items = [request.input_data]
    try:
        input_is_list = isinstance(request.input_data, list)
        preopens = {p.guest_path: p.host_path for p in request.preopens}
        items = [
            to_internal(v, f"/input_data/{i}" if input_is_list else "/input_data", preopens)
            for i, v in enumerate(_CheckedItems(items, deadline))
        ]
    except RMError as exc:
        return _fail(exc, emit, t0)
    except RecursionError:  # deeper than parse_json allows: only from a request built in code
        return _fail(RMError("invalid_input", "input_data is nested too deeply"), emit, t0)

    nodes_by_id = {n["id"]: n for n in request.manifest["nodes"]}
    emit({"event": "start", "t_ms": now_ms(), "node_count": len(graph.ids), "item_count": len(items)})
    produced: dict[str, list[Any]] = {}
    node_metrics = []
    for node_id in graph.order() or []:
        node = nodes_by_id[node_id]
        spec = catalog.find_node(node.get("node_type", node.get("nodeType")))
        assert spec is not None
        impl = NODES.get(spec.name)
        if impl is None:
            return _fail(
                RMError(
                    "unknown_node_type",
                    f"the reference executor does not implement {spec.name}",
                    node_id=node_id,
                ),
                emit,
                t0,
            )
        is_source = not graph.inputs[node_id]
        node_in = items if is_source else [x for src in graph.inputs[node_id] for x in produced[src]]
        ctx = Context(node_id, spec.name, is_source, emit, input_is_list, options)
        start = now_ms()
        emit({"event": "node_start", "node_id": node_id, "node_type": spec.name, "t_ms": start})
        try:
            deadline.check()
            params = effective_params(spec, node.get("params") or {})
            out = impl(params).process(_CheckedItems(node_in, deadline), ctx)
        except RMError as exc:
            return _fail(exc, emit, t0)
        except MemoryError:
            return _fail(
                RMError(
                    "out_of_memory",
                    f"node '{node_id}' ({spec.name}) needs more memory than this machine has",
                    node_id=node_id,
                    hint="Use shorter input or settings that produce less data",
                ),
                emit,
                t0,
            )
        end = now_ms()
        produced[node_id] = out
        metric = {
            "node_id": node_id,
            "node_type": spec.name,
            "duration_ms": end - start,
            "items_in": len(node_in),
            "items_out": len(out),
        }
        node_metrics.append(metric)
        emit({"event": "node_finish", "t_ms": end, **metric})

    try:
        outputs = [
            to_output(x, encoding) for sink in graph.sinks for x in _CheckedItems(produced[sink], deadline)
        ]
    except RMError as exc:
        return _fail(exc, emit, t0)
    total = now_ms()
    emit({"event": "finish", "ok": True, "t_ms": total})
    return RunResult(
        ok=True,
        engine="native",
        outputs=outputs,
        graph_info=graph.info(),
        metrics={"total_ms": total, "nodes": node_metrics},
        warnings=[{**w.to_json(), "severity": "warning"} for w in report.warnings],
    )

"""The numpy reference executor against RemoteMedia's documented results and the contract."""

from __future__ import annotations

import base64

import numpy as np
import pytest

from rmstudio.core import native, typed_arrays
from rmstudio.core.runs import RunRequest
from tests.unit.test_manifest_validation import CALC

FAN = {  # RemoteMedia's DAG example: a source fans out to x2 and +100
    "version": "v1",
    "metadata": {"name": "fan"},
    "nodes": [
        {"id": "src", "node_type": "PassThroughNode"},
        {"id": "double", "node_type": "MultiplyNode", "params": {"multiplier": 2}},
        {"id": "shift", "node_type": "AddNode", "params": {"addend": 100}},
    ],
    "connections": [{"from": "src", "to": "double"}, {"from": "src", "to": "shift"}],
}


def run(manifest, data, **options):
    return native.run(RunRequest(manifest, data, options))


def test_calculator_golden_run():
    result = run(CALC, [5, 7, 3])
    assert result.ok
    assert result.outputs == [20, 24, 16]
    assert all(type(x) is int for x in result.outputs)  # whole results are JSON integers
    assert result.graph_info["execution_order"] == ["multiply", "add"]


def test_single_item_stays_a_list():
    # RemoteMedia unwraps a lone result to 20; RM Studio keeps the list (documented).
    assert run(CALC, [5]).outputs == [20]
    assert run(CALC, 5).outputs == [20]  # a non-list input is one item


def test_fan_out_gives_every_branch_the_same_input():
    assert run(FAN, [10]).outputs == [20, 110]


def test_fan_in_concatenates_in_connection_order():
    m = {
        **FAN,
        "nodes": [*FAN["nodes"], {"id": "join", "node_type": "PassThroughNode"}],
        "connections": [
            *FAN["connections"],
            {"from": "shift", "to": "join"},
            {"from": "double", "to": "join"},
        ],
    }
    assert run(m, [1, 2]).outputs == [101, 102, 2, 4]


def test_factor_alias_and_default():
    m = {
        **CALC,
        "nodes": [{"id": "m", "node_type": "MultiplyNode", "params": {"factor": 5}}],
        "connections": [],
    }
    assert run(m, [1]).outputs == [5]
    m["nodes"][0]["params"] = {}
    assert run(m, [1]).outputs == [2]


def test_non_finite_and_fractional_numbers():
    m = {
        **CALC,
        "nodes": [
            {"id": "c", "node_type": "CalculatorNode", "params": {"operation": "multiply", "operand": 1e308}}
        ],
        "connections": [],
    }
    assert run(m, [10, 0.5]).outputs == [None, 5e307]
    m["nodes"][0]["params"] = {"operation": "divide", "operand": 4}
    assert run(m, [1, [2, [3]]]).outputs == [0.25, [0.5, [0.75]]]


def test_division_by_zero_fails_the_node():
    m = {
        **CALC,
        "nodes": [
            {"id": "c", "node_type": "CalculatorNode", "params": {"operation": "divide", "operand": 0}}
        ],
        "connections": [],
    }
    result = run(m, [1])
    assert not result.ok and result.error.code == "node_failed" and result.error.node_id == "c"


def test_wrong_input_kind_names_node_and_item():
    result = run(CALC, [1, "two"])
    assert result.error.code == "invalid_input"
    assert result.error.path == "/input_data/1" and result.error.node_id == "multiply"


def test_typed_float32_arithmetic_rounds_once_per_node():
    a = (np.arange(8, dtype=np.float32).reshape(2, 4) / 3).astype(np.float32)
    result = run(CALC, [typed_arrays.encode(a)])
    out = typed_arrays.decode(result.outputs[0])
    # each node computes in double and rounds once to float32 (docs/CONTRACT.md, "Data")
    step = (a.astype(np.float64) * 2).astype(np.float32)
    expected = (step.astype(np.float64) + 10).astype(np.float32)
    assert out.dtype == np.float32 and out.shape == (2, 4)
    assert out.tobytes() == expected.tobytes()


def test_integer_arrays_become_float64_and_numpy_form_is_accepted():
    a = np.array([[1, 2], [3, 4]], dtype=np.int16)
    numpy_form = {
        "__numpy__": True,
        "array": {
            "meta": {"shape": [2, 2], "dtype": "int16", "size": 4},
            "data": base64.b64encode(a.tobytes()).decode(),
        },
    }
    out = typed_arrays.decode(run(CALC, [numpy_form]).outputs[0])
    assert out.dtype == np.float64 and out.tolist() == [[12, 14], [16, 18]]


@pytest.mark.parametrize("encoding", ["json", "base64", "auto"])
def test_array_encoding_option(encoding):
    a = np.array([1.5, 2.5], dtype=np.float32)
    result = run(CALC, [typed_arrays.encode(a), [1, 2]], array_encoding=encoding)
    first, second = result.outputs
    if encoding == "json":
        assert first == [13, 15] and second == [12, 14]
    elif encoding == "base64":
        assert typed_arrays.decode(first).tolist() == [13, 15]
        assert typed_arrays.decode(second).dtype == np.float64
    else:
        assert typed_arrays.is_typed_array(first) and second == [12, 14]


@pytest.mark.parametrize(
    "bad",
    [
        {"dtype": "float16", "shape": [1], "data": "AAA="},
        {"dtype": "float32", "shape": [3], "data": base64.b64encode(b"\0" * 8).decode()},
        {"dtype": "float32", "shape": [1], "data": "not base64!"},
        {"dtype": "float32", "shape": [-1], "data": ""},
    ],
)
def test_malformed_typed_arrays_are_invalid_input(bad):
    result = run(CALC, [bad])
    assert result.error.code == "invalid_input" and result.error.path.startswith("/input_data/0")


def test_events_are_emitted_in_order():
    events = []
    native.run(RunRequest(CALC, [1]), events.append)
    kinds = [e["event"] for e in events]
    assert kinds == ["start", "node_start", "node_finish", "node_start", "node_finish", "finish"]


def test_the_reference_executor_honours_the_time_limit_and_cancel():
    from rmstudio.core.engine.host import RunControl
    from rmstudio.core.runs import Limits

    many = list(range(400_000))  # seconds of per-item Python work
    late = native.run(RunRequest(CALC, many, limits=Limits(timeout_s=0.05)))
    assert not late.ok and late.error.code == "timeout" and "0.05 s" in late.error.message
    control = RunControl()
    control.cancel()
    stopped = native.run(RunRequest(CALC, many), control=control)
    assert not stopped.ok and stopped.error.code == "cancelled"
    assert native.run(RunRequest(CALC, [1, 2], limits=Limits(timeout_s=60))).ok

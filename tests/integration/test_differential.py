"""Differential tests: the sandboxed guest and the numpy reference executor must agree.

Generated pipelines (hypothesis) and a corpus of broken requests go through both; outputs
must be identical (typed arrays byte for byte), failures must carry the same code, path
and node id.
"""

from __future__ import annotations

import copy
import json

import numpy as np
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from rmstudio.core import native, typed_arrays
from rmstudio.core.runs import RunRequest
from tests.unit.test_manifest_validation import CALC

finite = st.floats(allow_nan=False, allow_infinity=False, width=64)
constants = st.one_of(st.integers(-1000, 1000), finite, st.sampled_from([0, 0.5, -0.25, 1e300, 3]))


@st.composite
def math_node(draw, node_id: str) -> dict:
    kind = draw(
        st.sampled_from(["MultiplyNode", "AddNode", "CalculatorNode", "PassThroughNode", "PassThrough"])
    )
    node: dict = {"id": node_id, "node_type": kind}
    if kind == "MultiplyNode":
        key = draw(st.sampled_from(["multiplier", "factor", None]))
        node["params"] = {key: draw(constants)} if key else {}
    elif kind == "AddNode":
        node["params"] = {"addend": draw(constants)}
    elif kind == "CalculatorNode":
        node["params"] = {
            "operation": draw(st.sampled_from(["add", "subtract", "multiply", "divide"])),
            "operand": draw(constants),
        }
    return node


@st.composite
def pipelines(draw) -> dict:
    n = draw(st.integers(1, 6))
    ids = [f"n{i}" for i in range(n)]
    nodes = [draw(math_node(i)) for i in ids]
    edges = [{"from": ids[a], "to": ids[b]} for a in range(n) for b in range(a + 1, n) if draw(st.booleans())]
    order = draw(st.permutations(range(n)))  # manifest order need not be topological
    return {
        "version": "v1",
        "metadata": {"name": "generated"},
        "nodes": [nodes[i] for i in order],
        "connections": draw(st.permutations(edges)),
    }


@st.composite
def typed_array(draw) -> dict:
    dtype = draw(
        st.sampled_from(["float32", "float64", "int8", "int16", "int32", "uint8", "uint16", "int64"])
    )
    shape = draw(st.lists(st.integers(0, 4), min_size=1, max_size=3))
    count = int(np.prod(shape))
    raw = draw(
        st.binary(min_size=count * np.dtype(dtype).itemsize, max_size=count * np.dtype(dtype).itemsize)
    )
    arr = np.frombuffer(raw, dtype=np.dtype(dtype).newbyteorder("<")).reshape(shape)
    return typed_arrays.encode(arr.astype(np.dtype(dtype)))


numbers = st.one_of(st.integers(-(2**60), 2**60), finite)
items = st.one_of(
    numbers,
    st.recursive(st.lists(numbers, max_size=4), lambda inner: st.lists(inner, max_size=3), max_leaves=12),
    typed_array(),
)


def normalise(result) -> dict:
    if result.ok:
        return {
            "ok": True,
            "outputs": result.outputs,
            "graph_info": result.graph_info,
            "warnings": sorted((w["code"], w.get("path")) for w in result.warnings),
        }
    e = result.error
    return {"ok": False, "code": e.code, "path": e.path, "node_id": e.node_id}


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    manifest=pipelines(),
    data=st.lists(items, max_size=4),
    encoding=st.sampled_from(["auto", "json", "base64"]),
)
def test_generated_pipelines_agree(sandbox, manifest, data, encoding):
    request = RunRequest(manifest, data, {"array_encoding": encoding})
    wasm, ref = sandbox.run(request), native.run(request)
    assert normalise(wasm) == normalise(ref), json.dumps(request.to_json())[:2000]


def broken_requests():
    def m(change):
        data = copy.deepcopy(CALC)
        change(data)
        return data

    cases = [
        (m(lambda d: d.__setitem__("version", "v2")), [1]),
        (m(lambda d: d.__setitem__("nodes", [])), [1]),
        (m(lambda d: d["nodes"][1].__setitem__("id", "multiply")), [1]),
        (m(lambda d: d["nodes"][1].__setitem__("id", "bad id")), [1]),
        (m(lambda d: d["nodes"][1].__setitem__("node_type", "AddNod")), [1]),
        (m(lambda d: d["nodes"][1]["params"].__setitem__("addend", "ten")), [1]),
        (m(lambda d: d["nodes"][1].__setitem__("params", {"addend": None})), [1]),
        (m(lambda d: d["nodes"].append({"id": "c", "node_type": "CalculatorNode"})), [1]),
        (m(lambda d: d["connections"].append({"from": "add", "to": "ghost"})), [1]),
        (m(lambda d: d["connections"].append({"from": "multiply", "to": "add"})), [1]),
        (m(lambda d: d["connections"].append({"from": "add", "to": "multiply"})), [1]),
        (m(lambda d: d["connections"].append({"from": "add", "to": "add"})), [1]),
        (CALC, ["x"]),
        (CALC, [[1, [2, {"a": 1}]]]),
        (CALC, [True]),
        (CALC, [{"dtype": "float16", "shape": [1], "data": "AAA="}]),
        (CALC, [{"dtype": "float32", "shape": [2], "data": "AAAAAA=="}]),
        (CALC, {"dtype": "float16", "shape": [1], "data": "AAA="}),  # one item, not a list
        (CALC, "text"),
        (CALC, [{"__numpy__": True, "array": {"meta": {"dtype": "complex64", "shape": [1]}, "data": ""}}]),
        (CALC, [{"__numpy__": True, "array": {"meta": {"dtype": "int16", "shape": "x"}, "data": ""}}]),
        (
            m(
                lambda d: d["nodes"].__setitem__(
                    1,
                    {
                        "id": "add",
                        "node_type": "CalculatorNode",
                        "params": {"operation": "divide", "operand": 0},
                    },
                )
            ),
            [1],
        ),
    ]
    return cases


def test_broken_requests_fail_the_same_way():
    from rmstudio.core.engine import WasmEngine, locate

    sandbox = WasmEngine(locate())
    for manifest, data in broken_requests():
        request = RunRequest(manifest, data)
        wasm, ref = normalise(sandbox.run(request)), normalise(native.run(request))
        assert not ref["ok"], manifest
        assert wasm == ref, json.dumps(request.to_json())

"""Manifest validation: every finding has the right code, JSON pointer and line."""

from __future__ import annotations

import copy
import json

import pytest

from rmstudio.core.manifest import from_text, load, save, validate, validate_data
from tests.conftest import EXAMPLES, FIXTURES

CALC = {
    "version": "v1",
    "metadata": {"name": "calc"},
    "nodes": [
        {"id": "multiply", "node_type": "MultiplyNode", "params": {"multiplier": 2}},
        {"id": "add", "node_type": "AddNode", "params": {"addend": 10}},
    ],
    "connections": [{"from": "multiply", "to": "add"}],
}


def codes(report):
    return [e.code for e in report.errors]


def mutated(fn):
    data = copy.deepcopy(CALC)
    fn(data)
    return validate_data(data)


def test_examples_are_valid():
    for path in sorted(EXAMPLES.glob("*.json")):
        report = validate(load(path))
        assert report.ok, (path, [e.describe() for e in report.errors])


def test_calculator_graph_info():
    report = validate_data(CALC)
    assert report.ok
    assert report.graph.info() == {
        "node_count": 2,
        "source_count": 1,
        "sink_count": 1,
        "connection_count": 1,
        "execution_order": ["multiply", "add"],
    }


@pytest.mark.parametrize(
    ("change", "code", "path"),
    [
        (lambda d: d.__setitem__("version", "v2"), "invalid_manifest", "/version"),
        (lambda d: d.__setitem__("nodes", []), "invalid_manifest", "/nodes"),
        (lambda d: d.pop("nodes"), "invalid_manifest", ""),
        (lambda d: d["nodes"][0].pop("id"), "invalid_manifest", "/nodes/0"),
        (lambda d: d["nodes"][1].__setitem__("id", "add me"), "invalid_manifest", "/nodes/1/id"),
        (lambda d: d["nodes"][1].__setitem__("id", "multiply"), "duplicate_node_id", "/nodes/1/id"),
        (
            lambda d: d["nodes"][1].__setitem__("node_type", "AddNod"),
            "unknown_node_type",
            "/nodes/1/node_type",
        ),
        (
            lambda d: d["nodes"][1]["params"].__setitem__("addend", "ten"),
            "invalid_param",
            "/nodes/1/params/addend",
        ),
        (
            lambda d: d["nodes"][1]["params"].__setitem__("addend", True),
            "invalid_param",
            "/nodes/1/params/addend",
        ),
        (
            lambda d: d["nodes"].append({"id": "c", "node_type": "CalculatorNode"}),
            "missing_param",
            "/nodes/2/params",
        ),
        (
            lambda d: d["nodes"].append(
                {"id": "c", "node_type": "CalculatorNode", "params": {"operation": "pow"}}
            ),
            "invalid_param",
            "/nodes/2/params/operation",
        ),
        (
            lambda d: d["connections"].append({"from": "add", "to": "nowhere"}),
            "dangling_connection",
            "/connections/1/to",
        ),
        (
            lambda d: d["connections"].append({"from": "multiply", "to": "add"}),
            "duplicate_connection",
            "/connections/1",
        ),
        (lambda d: d["connections"].append({"from": "add", "to": "multiply"}), "cycle", "/connections/0"),
        (lambda d: d["connections"].append({"from": "add", "to": "add"}), "cycle", "/connections/1"),
    ],
)
def test_each_error_has_code_and_pointer(change, code, path):
    report = mutated(change)
    assert report.errors, "expected an error"
    first = report.errors[0]
    assert (first.code, first.path) == (code, path), first.describe()
    assert first.message


def test_cycle_is_spelled_out():
    report = mutated(lambda d: d["connections"].append({"from": "add", "to": "multiply"}))
    assert "multiply -> add -> multiply" in report.errors[0].message


def test_unknown_type_suggests_the_close_name():
    report = mutated(lambda d: d["nodes"][1].__setitem__("node_type", "AddNod"))
    assert "AddNode" in report.errors[0].hint


def test_multiplier_and_factor_aliases():
    report = mutated(lambda d: d["nodes"][0].__setitem__("params", {"factor": 3}))
    assert report.ok and [w.code for w in report.warnings] == ["param_alias"]
    report = mutated(lambda d: d["nodes"][0].__setitem__("params", {"factor": 3, "multiplier": 5}))
    assert report.ok and [w.code for w in report.warnings] == ["both_aliases"]


def test_tolerated_spellings_warn():
    def legacy(d):
        d["version"] = "1.0"
        d["nodes"][0]["nodeType"] = d["nodes"][0].pop("node_type")
        d.pop("connections")
        d.pop("metadata")

    report = mutated(legacy)
    assert report.ok, [e.describe() for e in report.errors]
    assert {w.code for w in report.warnings} == {
        "version_alias",
        "field_alias",
        "missing_connections",
        "missing_metadata",
    }


def test_unknown_params_are_warnings_and_kept(tmp_path):
    data = copy.deepcopy(CALC)
    data["nodes"][1]["params"]["adend"] = 1
    report = validate_data(data)
    assert report.ok
    assert report.warnings[0].code == "unknown_param" and "addend" in report.warnings[0].hint


def test_type_mismatch_between_ports(monkeypatch):
    from rmstudio.core.manifest import catalog

    audio_sink = catalog.NodeType("AudioSinkForTest", "test", "test only", input="audio", output="audio")
    monkeypatch.setitem(catalog._BY_NAME, "AudioSinkForTest", audio_sink)
    report = mutated(
        lambda d: (
            d["nodes"].append({"id": "s", "node_type": "AudioSinkForTest"}),
            d["connections"].append({"from": "add", "to": "s"}),
        )
    )
    assert codes(report) == ["type_mismatch"]
    assert report.errors[0].path == "/connections/1"


def test_line_numbers_point_into_the_file(tmp_path):
    text = json.dumps(CALC, indent=2).replace('"addend": 10', '"addend": "ten"')
    path = tmp_path / "m.json"
    path.write_text(text)
    report = validate(load(path))
    err = report.errors[0]
    assert err.source == str(path)
    assert text.splitlines()[err.line - 1].strip().startswith('"addend": "ten"')


def test_invalid_json_names_line_and_column():
    from rmstudio.core.errors import RMError

    with pytest.raises(RMError) as info:
        from_text('{"version": "v1",\n "nodes": [}', "broken.json")
    assert info.value.code == "invalid_json" and info.value.line == 2


def test_round_trip_keeps_unknown_fields_and_order(tmp_path):
    data = copy.deepcopy(CALC)
    data["plugins"] = ["whisper@v0.2.4"]
    data["nodes"][0]["capabilities"] = {"gpu": {"type": "cuda", "min_memory_gb": 4}}
    data["nodes"][0]["host"] = "gpu-server:50051"
    data["metadata"]["author"] = "someone"
    path = tmp_path / "in.json"
    path.write_text(json.dumps(data))
    doc = load(path)
    out = save(doc, tmp_path / "out.json")
    again = json.loads(out.read_text())
    assert again == data
    assert list(again) == list(data) and list(again["nodes"][0]) == list(data["nodes"][0])


def test_request_file_splits_manifest_and_input():
    doc = load(FIXTURES / "manifests" / "calc_with_input.json")
    assert doc.has_input and doc.input_data == [5, 7, 3]
    assert doc.pointer_prefix == "/manifest"
    report = validate(doc)
    assert report.ok
    bad = load(FIXTURES / "manifests" / "calc_with_input.json")
    bad.data["nodes"][0]["node_type"] = "Nope"
    assert validate_data(bad.data, bad.pointer_prefix).errors[0].path == "/manifest/nodes/0/node_type"


def test_hostile_shapes_never_raise():
    for data in (
        None,
        [],
        "x",
        1,
        {"nodes": "x"},
        {"version": "v1", "nodes": [1, None, "x"]},
        {"version": "v1", "nodes": [{"id": 3, "node_type": []}], "connections": [1, {"from": 2}]},
        {"version": "v1", "nodes": [{"id": "a", "node_type": "AddNode", "params": []}]},
    ):
        report = validate_data(data)
        assert not report.ok
        assert all(e.code and e.message for e in report.errors)


def test_long_chain_does_not_exhaust_the_stack():
    n = 5000
    data = {
        "version": "v1",
        "metadata": {"name": "chain"},
        "nodes": [{"id": f"n{i}", "node_type": "PassThroughNode"} for i in range(n)],
        "connections": [{"from": f"n{i}", "to": f"n{i + 1}"} for i in range(n - 1)]
        + [{"from": f"n{n - 1}", "to": "n0"}],
    }
    report = validate_data(data)
    assert report.errors[0].code == "cycle"


def test_a_node_without_a_type_gets_one_error_and_no_alias_warning():
    report = validate_data(
        {"version": "v1", "metadata": {"name": "t"}, "nodes": [{"id": "a"}], "connections": []}
    )
    assert [e.message for e in report.errors] == ["node is missing required field 'node_type'"]
    assert report.warnings == []

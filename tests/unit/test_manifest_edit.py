"""Manifest editing operations (core/manifest/edit.py): pure, reversible, validation-friendly."""

from __future__ import annotations

import copy
import json
import random

import pytest

from rmstudio.core.errors import RMError
from rmstudio.core.manifest import edit, validate_data
from tests.conftest import EXAMPLES, FIXTURES

CALC = json.loads((EXAMPLES / "calculator.json").read_text())
FAN = json.loads((EXAMPLES / "fan_out_in.json").read_text())


def conns(data):
    return [(c["from"], c["to"]) for c in data["connections"]]


@pytest.mark.parametrize("name", ["calculator.json", "fan_out_in.json"])
def test_format_reproduces_the_examples_layout(name):
    text = (EXAMPLES / name).read_text()
    assert edit.format_manifest(json.loads(text)) == text


def test_format_round_trips_any_value():
    rng = random.Random(7)
    for _ in range(200):
        value = _random_json(rng, 4)
        assert json.loads(edit.format_manifest(value)) == value


def _random_json(rng, depth):
    kind = rng.randrange(7 if depth else 4)
    if kind == 0:
        return rng.randint(-1000, 1000)
    if kind == 1:
        return rng.choice(["", "x", "ünï", 'q"uote', "a" * 120])
    if kind == 2:
        return rng.choice([True, False, None, 1.5])
    if kind == 3:
        return rng.random()
    if kind in (4, 5):
        return [_random_json(rng, depth - 1) for _ in range(rng.randrange(5))]
    return {f"k{n}": _random_json(rng, depth - 1) for n in range(rng.randrange(5))}


def test_operations_do_not_mutate_their_input():
    before = copy.deepcopy(CALC)
    edit.add_node(CALC, "AddNode", after="multiply")
    edit.remove_node(CALC, "multiply")
    edit.move_node(CALC, "add", 0)
    edit.rename_node(CALC, "add", "plus")
    edit.set_param(CALC, "add", "addend", 3)
    edit.remove_param(CALC, "add", "addend")
    edit.add_connection(CALC, "add", "multiply")
    edit.set_connection(CALC, 0, "add", "multiply")
    edit.remove_connection(CALC, 0)
    assert before == CALC


def test_add_node_appends_with_catalog_defaults_and_unique_id():
    data, new = edit.add_node(CALC, "AddNode")
    assert new == "add_2"
    assert data["nodes"][-1] == {"id": "add_2", "node_type": "AddNode", "params": {"addend": 0}}
    assert conns(data) == [("multiply", "add")]
    data, new = edit.add_node(data, "CalculatorNode")
    assert data["nodes"][-1]["params"] == {"operation": "add", "operand": 0}
    data, new = edit.add_node(data, "PassThrough")  # alias resolves to the canonical type
    assert data["nodes"][-1] == {"id": "pass_through", "node_type": "PassThroughNode"}


def test_add_node_after_splices_into_the_chain():
    data, new = edit.add_node(CALC, "PassThroughNode", after="multiply")
    assert [n["id"] for n in data["nodes"]] == ["multiply", new, "add"]
    assert conns(data) == [("multiply", new), (new, "add")]
    assert validate_data(data).ok


def test_add_node_after_a_sink_connects_it():
    data, new = edit.add_node(CALC, "MultiplyNode", after="add")
    assert conns(data) == [("multiply", "add"), ("add", new)]
    assert validate_data(data).ok


def test_add_node_rejects_bad_requests():
    with pytest.raises(RMError, match="unknown node type"):
        edit.add_node(CALC, "NoSuchNode")
    with pytest.raises(RMError, match="already used"):
        edit.add_node(CALC, "AddNode", node_id="add")
    with pytest.raises(RMError, match="may only contain"):
        edit.add_node(CALC, "AddNode", node_id="a b")
    with pytest.raises(RMError, match="no node 'ghost'"):
        edit.add_node(CALC, "AddNode", after="ghost")


def test_remove_node_bridges_its_neighbours():
    data, new = edit.add_node(CALC, "PassThroughNode", after="multiply")
    assert edit.remove_node(data, new) == CALC
    no_bridge = edit.remove_node(data, new, bridge=False)
    assert conns(no_bridge) == []


def test_remove_fan_out_source_bridges_nothing_and_keeps_the_rest():
    data = edit.remove_node(FAN, "join")
    assert conns(data) == [("source", "triple"), ("source", "shift")]
    data = edit.remove_node(FAN, "source")
    assert conns(data) == [("triple", "join"), ("shift", "join")]


def test_move_and_rename():
    data = edit.move_node(CALC, "add", 0)
    assert edit.node_ids(data) == ["add", "multiply"]
    assert edit.move_node(data, "add", 99) == CALC
    renamed = edit.rename_node(CALC, "multiply", "double")
    assert edit.node_ids(renamed) == ["double", "add"]
    assert conns(renamed) == [("double", "add")]
    with pytest.raises(RMError, match="already used"):
        edit.rename_node(CALC, "multiply", "add")


def test_params_keep_the_files_spelling():
    data = copy.deepcopy(CALC)
    data["nodes"][0]["params"] = {"factor": 4}
    changed = edit.set_param(data, "multiply", "multiplier", 5)
    assert changed["nodes"][0]["params"] == {"factor": 5}
    assert edit.remove_param(changed, "multiply", "multiplier")["nodes"][0]["params"] == {}
    fresh = edit.set_param(CALC, "add", "addend", 1.5)
    assert fresh["nodes"][1]["params"] == {"addend": 1.5}


def test_connections():
    data = edit.add_connection(FAN, "source", "join")
    assert conns(data)[-1] == ("source", "join")
    with pytest.raises(RMError, match="already exists"):
        edit.add_connection(data, "source", "join")
    with pytest.raises(RMError, match="cannot feed itself"):
        edit.add_connection(data, "join", "join")
    with pytest.raises(RMError, match="not a node"):
        edit.add_connection(data, "ghost", "join")
    moved = edit.set_connection(FAN, 0, "shift", "triple")
    assert conns(moved)[0] == ("shift", "triple")
    assert validate_data(moved).ok
    assert conns(edit.remove_connection(FAN, 0))[0] == ("source", "shift")
    cyclic = edit.add_connection(CALC, "add", "multiply")
    assert [e.code for e in validate_data(cyclic).errors] == ["cycle"]


def test_set_param_text_rewrites_only_the_value():
    text = (EXAMPLES / "calculator.json").read_text()
    new = edit.set_param_text(text, "multiply", "multiplier", 3)
    assert new == text.replace('"multiplier": 2', '"multiplier": 3')
    # A param not present yet is added and the file laid out again.
    added = edit.set_param_text(new, "add", "addend", 11)
    assert json.loads(added)["nodes"][1]["params"] == {"addend": 11}


def test_text_edits_inside_a_run_request_keep_the_input():
    text = (FIXTURES / "manifests" / "calc_with_input.json").read_text()
    new = edit.set_param_text(text, "add", "addend", 1)
    assert new == text.replace('"addend": 10', '"addend": 1')
    added = json.loads(edit.edit_text(text, edit.add_node, "PassThroughNode", after="multiply"))
    assert added["input_data"] == [5, 7, 3]
    assert len(added["manifest"]["nodes"]) == 3


def test_edit_text_on_broken_json_is_a_readable_error():
    with pytest.raises(RMError, match="not valid JSON"):
        edit.edit_text("{", edit.add_node, "AddNode")


def test_wrap_request():
    req = edit.wrap_request(CALC, [1], {"options": {"events": False}, "input_data": "ignored"})
    assert req == {"manifest": CALC, "input_data": [1], "options": {"events": False}}


def test_layout_layers_fan_out_and_cycles():
    layout = edit.layout_layers(FAN)
    where = {n.node_id: (n.layer, n.row) for n in layout.nodes}
    assert where == {"source": (0, 0), "triple": (1, 0), "shift": (1, 1), "join": (2, 0)}
    assert layout.layer_count == 3 and layout.max_rows == 2
    cyclic = edit.add_connection(CALC, "add", "multiply")
    placed = {n.node_id: n.layer for n in edit.layout_layers(cyclic).nodes}
    assert set(placed) == {"multiply", "add"}
    broken = {
        "nodes": [{"id": "a"}, {"id": "a"}, "junk", {"id": "b"}],
        "connections": [{"from": "a", "to": "x"}],
    }
    layout = edit.layout_layers(broken)
    assert [n.node_id for n in layout.nodes] == ["a", "b"] and layout.edges == ()
    assert edit.layout_layers("not a manifest").nodes == ()


def test_structure_key_ignores_params_and_sees_ids_types_and_connections():
    base = json.loads((EXAMPLES / "fan_out_in.json").read_text())
    key = edit.structure_key(base)

    def changed(fn) -> bool:
        data = copy.deepcopy(base)
        fn(data)
        return edit.structure_key(data) != key

    assert not changed(lambda d: d["nodes"][1].setdefault("params", {}).update(multiplier=7))
    assert not changed(lambda d: d["metadata"].update(name="other"))
    assert changed(lambda d: d["nodes"][1].update(id="renamed"))
    assert changed(lambda d: d["nodes"][1].update(node_type="AddNode"))
    assert changed(lambda d: d["nodes"].reverse())
    assert changed(lambda d: d["connections"].pop())
    assert changed(lambda d: d["connections"][0].update(to="join"))

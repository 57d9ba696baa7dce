"""parse_json and parse_input: JSON as the guest reads it, with errors that say what is wrong."""

from __future__ import annotations

import json

import pytest

from rmstudio.core.errors import RMError
from rmstudio.core.inputs import parse_input
from rmstudio.core.manifest.document import MAX_JSON_DEPTH, from_text, parse_json


@pytest.mark.parametrize(
    ("text", "words"),
    [
        ("[NaN]", "NaN is not a JSON number"),
        ("[-Infinity]", "-Infinity is not a JSON number"),
        ("[1e400]", "too large for a 64-bit float"),
        ('{"a": 1, "a": 2}', "the key 'a' appears twice"),
        ("[" + "9" * 5000 + "]", "over 4300 digits"),
        ("[" * (MAX_JSON_DEPTH + 1) + "]" * (MAX_JSON_DEPTH + 1), f"more than {MAX_JSON_DEPTH} levels"),
        ("[" * 100_000 + "]" * 100_000, f"more than {MAX_JSON_DEPTH} levels"),  # past Python's recursion
    ],
)
def test_what_python_accepts_but_json_does_not_is_an_error(text, words):
    with pytest.raises(RMError) as exc:
        parse_json(text, "x.json")
    assert exc.value.code == "invalid_json" and words in exc.value.message and exc.value.source == "x.json"


def test_ordinary_json_is_unchanged():
    text = '{"a": [1, 2.5, -3e-7, true, null, "NaN"], "b": {"c": [[[]]]}}'
    assert parse_json(text) == json.loads(text)
    assert parse_json("[" * MAX_JSON_DEPTH + "]" * MAX_JSON_DEPTH) is not None


def test_a_manifest_with_a_duplicate_section_is_refused():
    text = '{"version": "v1", "nodes": [{"id": "a", "node_type": "AddNode"}], "nodes": [], "connections": []}'
    with pytest.raises(RMError) as exc:
        from_text(text, "m.json")
    assert "'nodes' appears twice" in exc.value.message


def test_input_values(tmp_path, monkeypatch):
    assert parse_input("[5, 7, 3]") == [5, 7, 3]
    with pytest.raises(RMError) as exc:
        parse_input("[NaN]")
    assert exc.value.message.startswith("the input is not valid JSON: NaN")
    with pytest.raises(RMError) as exc:
        parse_input("x" * 300)  # too long for a file name: not an OSError
    assert (
        exc.value.code == "invalid_input" and "neither valid JSON nor an existing file" in exc.value.message
    )
    monkeypatch.chdir(tmp_path)
    (tmp_path / "2024-data.json").write_text("[1]")  # starts like a number, is a file
    assert parse_input("2024-data.json") == [1]


def test_an_input_file_that_is_a_fifo_is_refused_without_blocking(tmp_path):
    import os

    fifo = tmp_path / "items.json"
    os.mkfifo(fifo)
    with pytest.raises(RMError) as exc:  # reading it would wait for a writer forever
        parse_input(f"@{fifo}")
    assert "not a regular file" in exc.value.message


def test_text_depth_ignores_brackets_in_strings():
    from rmstudio.core.manifest.document import text_depth

    assert text_depth('{"a": "[[[[", "b": [1, [2, {"c": "]}"}]]}') == 4
    assert text_depth("42") == 0 and text_depth('"[["') == 0
    assert text_depth('["a\\\\", [["b\\"["]]]') == 3  # escaped quote and backslash inside strings

"""The CLI as a user runs it: exit codes, readable errors, no tracebacks."""

from __future__ import annotations

import json
import subprocess
import sys

from rmstudio.cli import main
from rmstudio.cli.nodes_cmd import markdown
from tests.conftest import EXAMPLES, FIXTURES, REPO


def rmstudio(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "rmstudio", *args], capture_output=True, text=True, cwd=REPO, timeout=120
    )


def test_native_run_prints_the_calculator_result():
    proc = rmstudio("run", str(EXAMPLES / "calculator.json"), "--input", "[5, 7, 3]", "--engine", "native")
    assert proc.returncode == 0, proc.stderr
    assert "outputs: [20, 24, 16]" in proc.stdout


def test_run_request_file_with_its_own_input(capsys):
    code = main(["run", str(FIXTURES / "manifests" / "calc_with_input.json"), "--engine", "native", "--json"])
    out = json.loads(capsys.readouterr().out)
    assert code == 0 and out["outputs"] == [20, 24, 16]


def test_validate_exit_status_and_messages(tmp_path):
    good = rmstudio("validate", str(EXAMPLES / "calculator.json"))
    assert good.returncode == 0 and "valid" in good.stdout
    bad = tmp_path / "bad.json"
    bad.write_text(
        json.dumps({"version": "v1", "nodes": [{"id": "a", "node_type": "Nope"}], "connections": []})
    )
    proc = rmstudio("validate", str(bad))
    assert proc.returncode == 1
    assert "unknown node type 'Nope'" in proc.stderr and f"{bad}:1" in proc.stderr
    assert "Traceback" not in proc.stderr


def test_bad_inputs_never_show_a_traceback(tmp_path):
    garbage = tmp_path / "garbage.json"
    garbage.write_bytes(b"\x89PNG\r\n\x1a\n\x00\x00")
    for args in (
        ("run", str(tmp_path / "missing.json")),
        ("run", str(garbage)),
        ("run", str(EXAMPLES / "calculator.json"), "--input", "[1, 2"),
        ("run", str(EXAMPLES / "calculator.json"), "--input", '["a"]', "--engine", "native"),
        ("validate", str(tmp_path)),
        ("run", str(EXAMPLES / "calculator.json"), "--input", str(tmp_path)),
    ):
        proc = rmstudio(*args)
        assert proc.returncode == 1, args
        assert proc.stderr.startswith("error: ") and "Traceback" not in proc.stderr, proc.stderr
    proc = rmstudio("run", str(EXAMPLES / "calculator.json"), "--input", str(tmp_path))
    assert "it is a directory" in proc.stderr  # not "neither valid JSON nor an existing file"


def test_nodes_json_lists_the_catalog():
    proc = rmstudio("nodes", "--json")
    data = json.loads(proc.stdout)
    names = {n["node_type"] for n in data["nodes"]}
    assert {"MultiplyNode", "AddNode", "PassThroughNode"} <= names


def test_node_reference_page_is_generated_from_the_catalog():
    page = (REPO / "docs" / "NODES.md").read_text()
    assert page == markdown(), "docs/NODES.md is stale: run `rmstudio nodes --markdown > docs/NODES.md`"


def test_limits_that_would_mean_no_limit_or_crash_are_usage_errors(tmp_path, capsys):
    calc = str(EXAMPLES / "calculator.json")
    cases = [
        ["run", calc, "--memory-limit", "nan"],
        ["run", calc, "--memory-limit", "0"],
        ["run", calc, "--memory-limit", "5000"],  # over wasm32's 4 GiB
        ["run", calc, "--timeout", "-1"],
        ["run", calc, "--timeout", "inf"],
        ["transcribe", "x.wav", "--beam-size", "0"],
        ["transcribe", "x.wav", "--beam-size", "17"],  # the catalog's maximum is 16
        ["verify", "x.rmpkg", "--max-size", "nan"],
    ]
    for args in cases:
        try:
            code = main(args)
        except SystemExit as exc:
            code = exc.code
        err = capsys.readouterr().err
        assert code == 2 and "error: argument" in err and "Traceback" not in err, (args, err)


def test_creation_times_outside_iso_years_are_refused(tmp_path, capsys, monkeypatch):
    calc = str(EXAMPLES / "calculator.json")
    out = str(tmp_path / "c.rmpkg")
    assert main(["pack", calc, "-o", out, "--created", "9999-12-31T23:59:59-01:00"]) == 1
    assert "outside the years 1970 to 9999" in capsys.readouterr().err
    monkeypatch.setenv("SOURCE_DATE_EPOCH", "-62135596800")  # year 1: once written as "1-01-01"
    assert main(["pack", calc, "-o", out]) == 1
    assert "outside the years 1970 to 9999" in capsys.readouterr().err
    monkeypatch.setenv("SOURCE_DATE_EPOCH", "0")
    assert main(["pack", calc, "-o", out]) == 0


def test_run_json_always_prints_a_document_and_names_the_file(tmp_path):
    typo = tmp_path / "typo.json"
    typo.write_text('{"version": "v1", "nodes": [{"id": "a", "node_type": "AddNod"}], "connections": []}')
    broken = tmp_path / "broken.json"
    broken.write_text('{"version": "v1",\n')
    for path, code in ((typo, "unknown_node_type"), (broken, "invalid_json")):
        proc = rmstudio("run", str(path), "--json")
        assert proc.returncode == 1
        doc = json.loads(proc.stdout)  # a document on stdout, the message on stderr
        assert doc["ok"] is False and doc["error"]["code"] == code and str(path) in doc["error"]["source"]
        assert proc.stderr.startswith("error: ")
    aliased = tmp_path / "aliased.json"  # RemoteMedia's 'factor' is read as 'multiplier': a warning
    aliased.write_text(
        '{"version": "v1", "nodes": [{"id": "a", "node_type": "MultiplyNode", "params": {"factor": 3}}], '
        '"connections": []}'
    )
    proc = rmstudio("run", str(aliased), "--input", "[1]")
    assert proc.returncode == 0, proc.stderr
    assert f"({aliased}, at /nodes/0/params/factor, node 'a')" in proc.stderr  # the file, no /manifest
    proc = rmstudio("run", str(aliased), "--input", "[1]", "--json")
    (warning,) = [w for w in json.loads(proc.stdout)["warnings"] if w["code"] == "param_alias"]
    assert warning["source"] == str(aliased) and warning["path"] == "/nodes/0/params/factor"


def test_nodes_markdown_of_one_type(capsys):
    assert main(["nodes", "AddNode", "--markdown"]) == 0
    out = capsys.readouterr().out
    assert out.startswith("## AddNode\n") and "## MultiplyNode" not in out
    assert main(["nodes", ""]) == 1  # not "every node"

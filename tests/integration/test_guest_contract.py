"""The real guest module against docs/CONTRACT.md, run in wasmtime."""

from __future__ import annotations

import base64
import importlib.util
import json
import shutil
import subprocess
import sys
import threading

import numpy as np
import pytest

from rmstudio.core import native, typed_arrays
from rmstudio.core.manifest import catalog
from rmstudio.core.native.base import NODES
from rmstudio.core.runs import Limits, RunRequest
from tests.conftest import EXAMPLES, FIXTURES, REPO
from tests.unit.test_manifest_validation import CALC


def test_guest_implements_exactly_the_catalog(sandbox):
    out = sandbox.run_bytes(b'{"command": "describe"}')
    assert out.ok, out.error
    doc = out.document
    catalog_names = sorted(catalog.known_type_names())
    assert sorted(doc["node_types"]) == catalog_names
    assert sorted(doc["catalog_node_types"]) == catalog_names
    assert doc["executor"]["contract"] == 1
    # and the reference executor implements the same list (canonical names)
    assert {n.name for n in catalog.all_nodes()} == set(NODES)


def test_calculator_golden_run(sandbox):
    result = sandbox.run(RunRequest(CALC, [5, 7, 3]))
    assert result.ok, result.error
    assert result.outputs == [20, 24, 16]
    assert result.graph_info == {
        "node_count": 2,
        "source_count": 1,
        "sink_count": 1,
        "connection_count": 1,
        "execution_order": ["multiply", "add"],
    }
    assert result.metrics["peak_memory_bytes"] > 0
    assert [m["node_id"] for m in result.metrics["nodes"]] == ["multiply", "add"]


def test_cli_runs_the_wasm_guest_by_default():
    proc = subprocess.run(
        [
            sys.executable,
            "-m",
            "rmstudio",
            "run",
            str(FIXTURES / "manifests" / "calc_with_input.json"),
            "--json",
            "--events",
        ],
        capture_output=True,
        text=True,
        cwd=REPO,
        timeout=120,
    )
    assert proc.returncode == 0, proc.stderr
    result = json.loads(proc.stdout)
    assert result["engine"] == "wasm" and result["outputs"] == [20, 24, 16]
    events = [json.loads(line) for line in proc.stderr.splitlines()]
    kinds = [e["event"] for e in events]
    assert kinds[0] == "start" and "node_finish" in kinds and kinds[-1] == "finish"
    assert all(e["memory_bytes"] > 0 for e in events if "memory_bytes" in e)


def test_events_arrive_during_the_run(sandbox):
    seen = []
    result = sandbox.run(RunRequest(CALC, list(range(1000))), on_event=seen.append)
    assert result.ok
    finishes = [e for e in seen if e["event"] == "node_finish"]
    assert [e["node_id"] for e in finishes] == ["multiply", "add"]
    assert all(e["items_in"] == 1000 and e["items_out"] == 1000 for e in finishes)


def test_invalid_json_reports_line_and_column(sandbox):
    result = sandbox.run_bytes(b'{"manifest": {\n  "version": "v1",\n  "nodes": [}\n}')
    assert result.error.code == "invalid_json"
    assert "line 3" in result.error.message and "column" in result.error.message


@pytest.mark.parametrize(
    "body",
    [
        b"",
        b"   ",
        b"[1, 2]",
        b'"text"',
        b'{"manifest": 5}',
        b'{"manifest": {}, "options": 3}',
        b"\xff\xfe\x00garbage",
        b'{"manifest": {"version": "v1"',
        b"{" * 100000,
    ],
)
def test_hostile_stdin_always_gets_a_json_error(sandbox, body):
    result = sandbox.run_bytes(body)
    assert not result.ok
    assert result.error.code in {"invalid_json", "invalid_request", "invalid_manifest"}, result.error


def test_typed_arrays_are_bit_exact_with_the_reference(sandbox):
    rng = np.random.default_rng(7)
    a = rng.standard_normal((2, 4)).astype(np.float32)
    request = RunRequest(CALC, [typed_arrays.encode(a)])
    wasm, ref = sandbox.run(request), native.run(request)
    assert wasm.ok and ref.ok
    assert wasm.outputs == ref.outputs
    out = typed_arrays.decode(wasm.outputs[0])
    step = (a.astype(np.float64) * 2).astype(np.float32)
    assert out.tobytes() == (step.astype(np.float64) + 10).astype(np.float32).tobytes()


def test_numpy_form_and_array_encodings(sandbox):
    a = np.arange(6, dtype=np.int32).reshape(2, 3)
    numpy_form = {
        "__numpy__": True,
        "array": {
            "meta": {"shape": [2, 3], "dtype": "int32", "size": 6},
            "data": base64.b64encode(a.tobytes()).decode(),
        },
    }
    for encoding in ("auto", "json", "base64"):
        request = RunRequest(CALC, [numpy_form, [1.5, [2.5]]], {"array_encoding": encoding})
        wasm, ref = sandbox.run(request), native.run(request)
        assert wasm.ok, wasm.error
        assert wasm.outputs == ref.outputs, encoding


def test_memory_cap_gives_out_of_memory_not_a_crash(sandbox):
    big = np.zeros(24 << 20, dtype=np.float32)  # 96 MiB of samples, 128 MiB as base64
    request = RunRequest(CALC, [typed_arrays.encode(big)], limits=Limits(memory_bytes=64 << 20))
    result = sandbox.run(request)
    assert not result.ok
    assert result.error.code in {"out_of_memory", "memory_limit"}, result.error
    # and the engine is still usable afterwards
    assert sandbox.run(RunRequest(CALC, [1])).outputs == [12]


def test_concurrent_runs_give_identical_results(sandbox):
    expected = native.run(RunRequest(CALC, list(range(50)))).outputs
    results: list = []

    def worker():
        for _ in range(10):
            results.append(sandbox.run(RunRequest(CALC, list(range(50)))).outputs)

    threads = [threading.Thread(target=worker) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(results) == 40 and all(r == expected for r in results)


def test_examples_run_in_the_sandbox(sandbox):
    inputs = {"calculator.json": [5, 7, 3], "fan_out_in.json": [10], "scale_signal.json": [[1, 2, 3]]}
    for path in sorted(EXAMPLES.glob("*.json")):
        manifest = json.loads(path.read_text())
        if path.name not in inputs:
            continue
        request = RunRequest(manifest, inputs[path.name])
        wasm, ref = sandbox.run(request), native.run(request)
        assert wasm.ok, (path.name, wasm.error)
        assert wasm.outputs == ref.outputs and wasm.graph_info == ref.graph_info, path.name


@pytest.mark.skipif(shutil.which("node") is None, reason="Node.js (the second WASI runtime) is not installed")
def test_runs_under_another_wasi_runtime(sandbox):
    """The module needs nothing from our host: Node's WASI runs it with the same stdin/stdout."""
    request = (FIXTURES / "manifests" / "calc_with_input.json").read_bytes()
    proc = subprocess.run(
        ["node", "--no-warnings", str(REPO / "runtime" / "run_wasi.mjs"), str(sandbox.runtime.path)],
        input=request,
        capture_output=True,
        timeout=120,
    )
    assert proc.returncode == 0, proc.stderr
    result = json.loads(proc.stdout)
    assert result["ok"] is True and result["outputs"] == [20, 24, 16]
    events = [json.loads(line) for line in proc.stderr.decode().splitlines()]
    assert events[0]["event"] == "start" and events[-1]["event"] == "finish"
    bad = subprocess.run(
        ["node", "--no-warnings", str(REPO / "runtime" / "run_wasi.mjs"), str(sandbox.runtime.path)],
        input=b"{nope",
        capture_output=True,
        timeout=120,
    )
    assert bad.returncode == 1 and json.loads(bad.stdout)["error"]["code"] == "invalid_json"


def test_process_exit_after_a_run_is_clean():
    """wasmtime releases WASI output streams on its own threads; a run must wait for that, or a
    release during interpreter shutdown panics a Rust thread (seen about every other exit)."""
    for _ in range(8):
        proc = subprocess.run(
            [sys.executable, "-m", "rmstudio", "run", str(EXAMPLES / "calculator.json"), "--input", "[1]"],
            capture_output=True,
            text=True,
            cwd=REPO,
            timeout=120,
        )
        assert proc.returncode == 0
        assert proc.stderr == "", proc.stderr


@pytest.mark.parametrize("which", ["command", "reactor"])
def test_modules_name_their_functions_and_carry_no_dwarf(sandbox, which):
    """Traps and profiles name the guest's functions (the name section is kept); the ~16 MB of
    DWARF from zig's libc is not shipped."""
    # runtime/build.py by its path: `import build` can find the repo's build/ directory first.
    spec = importlib.util.spec_from_file_location("rm_runtime_build", REPO / "runtime" / "build.py")
    build = sys.modules.setdefault(spec.name, importlib.util.module_from_spec(spec))
    spec.loader.exec_module(build)

    path = sandbox.runtime.path if which == "command" else sandbox.runtime.reactor_path
    module = path.read_bytes()
    sections = [name for _, name, _, _ in build.module_sections(module) if name is not None]
    assert "name" in sections, sections
    assert not [s for s in sections if s.startswith(".debug_")], sections
    assert b"ggml_vec_dot_q8_0_q8_0" in module and b"whisper_full" in module
    assert len(module) < 4 << 20

"""Packages through the real sandbox: pack -> verify -> inspect -> unpack -> run with the real
guest, a package moved to "another machine", and proof that a package's guest sees only the
package's own models/ and deps/.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import wasmtime

from rmstudio.core.engine import locate
from rmstudio.core.errors import RMError
from rmstudio.core.manifest import catalog
from rmstudio.core.package import (
    BuildOptions,
    build_package,
    extract_package,
    inspect_package,
    prepare_run,
    render,
    verify_package,
)
from rmstudio.core.runs import Preopen, RunRequest
from tests.conftest import EXAMPLES, REPO

CREATED = "2026-11-25T00:00:00Z"


@pytest.fixture(autouse=True)
def _private_dirs(tmp_path, monkeypatch):
    monkeypatch.setenv("RMSTUDIO_CACHE_DIR", str(tmp_path / "cache"))
    monkeypatch.setenv("RMSTUDIO_DATA_DIR", str(tmp_path / "data"))


@pytest.fixture(scope="module")
def guest():
    try:
        return locate()
    except RMError as exc:  # not a skip: the setup command must have built it
        pytest.fail(exc.describe())


def rmstudio(*args: str, env=None, cwd=REPO) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "rmstudio", *args],
        capture_output=True,
        text=True,
        cwd=cwd,
        timeout=300,
        env=env,
    )


def machine(root: Path) -> dict[str, str]:
    """The environment of a different user on a different machine: every per-user dir elsewhere."""
    env = dict(os.environ)
    for var, sub in (
        ("HOME", "home"),
        ("XDG_CACHE_HOME", "home/.cache"),
        ("XDG_DATA_HOME", "home/.local/share"),
        ("XDG_CONFIG_HOME", "home/.config"),
        ("RMSTUDIO_CACHE_DIR", "rmstudio-cache"),
        ("RMSTUDIO_DATA_DIR", "rmstudio-data"),
        ("RMSTUDIO_CONFIG_DIR", "rmstudio-config"),
    ):
        (root / sub).mkdir(parents=True, exist_ok=True)
        env[var] = str(root / sub)
    return env


def test_round_trip_pack_verify_inspect_unpack_run(tmp_path, guest):
    out = tmp_path / "calc.rmpkg"
    result = build_package(EXAMPLES / "calculator.json", out, BuildOptions(created=CREATED))
    assert result.warnings == []
    report = verify_package(out)
    assert report.ok
    assert report.member("runtime.wasm").sha256 == hashlib.sha256(guest.path.read_bytes()).hexdigest()
    summary = inspect_package(out)
    assert summary["verification"]["status"] == "verified"
    assert summary["runtime"]["executor_version"] == guest.build_info.get("executor_version")
    assert "verification: OK" in render(summary)
    unpacked = tmp_path / "unpacked"
    extract_package(out, unpacked)
    assert (unpacked / "runtime.wasm").read_bytes() == guest.path.read_bytes()
    # the unpacked manifest runs as a plain manifest too
    proc = rmstudio("run", str(unpacked / "manifest.json"), "--input", "[5, 7, 3]", "--json")
    assert proc.returncode == 0, proc.stderr
    assert json.loads(proc.stdout)["outputs"] == [20, 24, 16]
    # and the package runs through the core API with its own runtime
    prepared = prepare_run(out)
    assert (
        prepared.runtime.path != guest.path and prepared.runtime.path.read_bytes() == guest.path.read_bytes()
    )
    run = prepared.run(RunRequest(prepared.manifest, [5, 7, 3]))
    assert run.ok, run.error
    assert run.outputs == [20, 24, 16]
    assert run.graph_info["execution_order"] == ["multiply", "add"]


def test_cli_runs_a_package_detected_by_its_bytes(tmp_path, guest):
    pkg = tmp_path / "calc.rmpkg"
    assert rmstudio("pack", str(EXAMPLES / "calculator.json"), "-o", str(pkg)).returncode == 0
    for name in ("calc.rmpkg", "calc.zip", "calc-without-extension"):
        path = tmp_path / name
        if not path.exists():
            shutil.copy(pkg, path)
        proc = rmstudio("run", str(path), "--input", "[5, 7, 3]")
        assert proc.returncode == 0, proc.stderr
        assert "outputs: [20, 24, 16]" in proc.stdout
        assert ("packages are normally named *.rmpkg" in proc.stderr) == (name != "calc.rmpkg")
        assert "Traceback" not in proc.stderr


def test_a_package_built_on_one_machine_runs_on_another(tmp_path, guest):
    a = tmp_path / "machine-a"
    env_a = machine(a)
    pkg = a / "work" / "calc.rmpkg"
    pkg.parent.mkdir(parents=True)
    proc = rmstudio("pack", str(EXAMPLES / "calculator.json"), "-o", str(pkg), env=env_a, cwd=a / "work")
    assert proc.returncode == 0, proc.stderr
    proc = rmstudio("run", str(pkg), "--input", "[5, 7, 3]", "--json", env=env_a, cwd=a / "work")
    assert proc.returncode == 0 and json.loads(proc.stdout)["outputs"] == [20, 24, 16], proc.stderr
    package_id = hashlib.sha256(pkg.read_bytes()).hexdigest()
    assert (a / "rmstudio-cache" / "packages" / package_id / "runtime.wasm").is_file()

    b = tmp_path / "machine-b"
    env_b = machine(b)
    # machine B has no RM Studio runtime of its own at the usual place: only the package's counts
    env_b["RMSTUDIO_RUNTIME"] = str(b / "no-runtime-installed" / "rm_executor.wasm")
    moved = b / "downloads" / "calculator from a friend.rmpkg"
    moved.parent.mkdir(parents=True)
    shutil.move(pkg, moved)
    shutil.rmtree(a / "rmstudio-cache")  # no extraction cache anywhere
    proc = rmstudio("run", str(moved), "--input", "[5, 7, 3]", "--json", env=env_b, cwd=b)
    assert proc.returncode == 0, proc.stderr
    assert json.loads(proc.stdout)["outputs"] == [20, 24, 16]
    assert (b / "rmstudio-cache" / "packages" / package_id / "runtime.wasm").is_file()
    assert not (a / "rmstudio-cache").exists()
    proc = rmstudio("verify", str(moved), env=env_b, cwd=b)
    assert proc.returncode == 0 and package_id in proc.stdout


def test_host_paths_in_a_manifest_are_harmless_under_the_real_guest(tmp_path, guest):
    doc = json.loads((EXAMPLES / "calculator.json").read_text())
    doc["nodes"][0]["params"].update({"path": "../../../../etc/passwd", "file": "/etc/passwd"})
    doc["nodes"][1]["params"].update({"model": str(Path.home()), "input": "/proc/self/environ"})
    manifest = tmp_path / "paths.json"
    manifest.write_text(json.dumps(doc))
    pkg = tmp_path / "paths.rmpkg"
    build_package(manifest, pkg, BuildOptions(created=CREATED))
    prepared = prepare_run(pkg)
    assert prepared.preopens == []  # nothing bundled: not one directory is visible
    request = prepared.apply(
        RunRequest(prepared.manifest, [5, 7, 3], preopens=[Preopen(Path("/etc"), "/etc")])
    )
    assert request.preopens == []
    result = prepared.run(RunRequest(prepared.manifest, [5, 7, 3]))
    assert result.ok, result.error
    assert result.outputs == [20, 24, 16]
    assert {w["code"] for w in result.warnings} == {"unknown_param"}
    assert "root:" not in json.dumps(result.to_json())


def _model_node_type() -> str:
    """A node type that opens a model file (the Whisper node)."""
    return next(node.name for node in catalog.all_nodes() if node.param("model") is not None)


@pytest.mark.parametrize("model", ["/etc/passwd", "../../../../../etc/passwd", "/models/../../metadata.json"])
def test_a_model_path_can_not_leave_the_sandbox(tmp_path, guest, whisper_src, model):
    node_type = _model_node_type()
    doc = {
        "version": "v1",
        "metadata": {"name": "escape"},
        "nodes": [{"id": "stt", "node_type": node_type, "params": {"model": model}}],
        "connections": [],
    }
    manifest = tmp_path / "escape.json"
    manifest.write_text(json.dumps(doc))
    pkg = tmp_path / "escape.rmpkg"
    test_model = whisper_src / "models" / "for-tests-ggml-tiny.en.bin"
    build_package(manifest, pkg, BuildOptions(created=CREATED, models=[f"tiny.en={test_model}"]))
    prepared = prepare_run(pkg)
    # with a path the package does not bundle, the host substitutes its own choice or refuses;
    # run the guest with the raw path regardless, to see that the sandbox itself holds
    request = prepared.apply(
        RunRequest(prepared.manifest, {"data": [0.0] * 1600, "sample_rate": 16000, "channels": 1})
    )
    request.manifest = doc
    (request.options.get("models") or {}).pop(model, None)  # no substitute for the raw value either
    result = prepared.engine().run(request)
    assert not result.ok
    assert "root:" not in json.dumps(result.to_json())


# ---------------------------------------------------------------------- the WASI probe
PROBE_PATHS = [
    "hello.txt",
    "../../../../../../etc/passwd",
    "/etc/passwd",
    "../metadata.json",
    "../runtime.wasm",
    "..",
    "../deps/hello.txt",
]


def probe_module() -> bytes:
    """A WASI command that lists its preopened directories and tries to open paths from each.

    It prints one JSON result whose outputs are strings "<dir> <path> <errno>[ <first bytes>]",
    so the test sees exactly what a package's guest can reach. It is a probe of the host's
    sandbox setup, run through the same package runner as the real executor.
    """

    def wat_str(s: str) -> str:
        return s.replace("\\", "\\\\").replace('"', '\\"')

    table = []
    data = []
    addr = 3000
    for path in PROBE_PATHS:
        raw = path.encode()
        data.append(f'(data (i32.const {addr}) "{wat_str(path)}")')
        table.append((addr, len(raw)))
        addr += len(raw) + 8
    table_bytes = b"".join(p.to_bytes(4, "little") + n.to_bytes(4, "little") for p, n in table)
    table_wat = "".join(f"\\{b:02x}" for b in table_bytes)
    head = '{"ok":true,"outputs":['
    tail = '"end"]}'
    return wasmtime.wat2wasm(
        f"""(module
  (import "wasi_snapshot_preview1" "fd_prestat_get" (func $prestat_get (param i32 i32) (result i32)))
  (import "wasi_snapshot_preview1" "fd_prestat_dir_name"
    (func $prestat_name (param i32 i32 i32) (result i32)))
  (import "wasi_snapshot_preview1" "path_open"
    (func $path_open (param i32 i32 i32 i32 i32 i64 i64 i32 i32) (result i32)))
  (import "wasi_snapshot_preview1" "fd_read" (func $fd_read (param i32 i32 i32 i32) (result i32)))
  (import "wasi_snapshot_preview1" "fd_write" (func $fd_write (param i32 i32 i32 i32) (result i32)))
  (memory (export "memory") 2)
  (global $pos (mut i32) (i32.const 16384))
  (data (i32.const 1024) "{wat_str(head)}")
  (data (i32.const 1100) "{wat_str(tail)}")
  (data (i32.const 2048) "{table_wat}")
  {" ".join(data)}
  (func $emit (param $p i32) (param $n i32)
    (memory.copy (global.get $pos) (local.get $p) (local.get $n))
    (global.set $pos (i32.add (global.get $pos) (local.get $n))))
  (func $byte (param $b i32)
    (i32.store8 (global.get $pos) (local.get $b))
    (global.set $pos (i32.add (global.get $pos) (i32.const 1))))
  (func $num (param $n i32)
    (if (i32.ge_u (local.get $n) (i32.const 10))
      (then (call $byte (i32.add (i32.const 48)
        (i32.rem_u (i32.div_u (local.get $n) (i32.const 10)) (i32.const 10))))))
    (call $byte (i32.add (i32.const 48) (i32.rem_u (local.get $n) (i32.const 10)))))
  (func (export "_start")
    (local $fd i32) (local $len i32) (local $i i32) (local $err i32) (local $p i32) (local $pl i32)
    (call $emit (i32.const 1024) (i32.const {len(head)}))
    (local.set $fd (i32.const 3))
    (block $done (loop $fds
      (br_if $done (i32.gt_u (local.get $fd) (i32.const 16)))
      (if (i32.eqz (call $prestat_get (local.get $fd) (i32.const 256)))
        (then
          (local.set $len (i32.load (i32.const 260)))
          (drop (call $prestat_name (local.get $fd) (i32.const 512) (local.get $len)))
          (local.set $i (i32.const 0))
          (block $pdone (loop $paths
            (br_if $pdone (i32.ge_u (local.get $i) (i32.const {len(PROBE_PATHS)})))
            (local.set $p (i32.load (i32.add (i32.const 2048) (i32.mul (local.get $i) (i32.const 8)))))
            (local.set $pl (i32.load (i32.add (i32.const 2052) (i32.mul (local.get $i) (i32.const 8)))))
            (i32.store (i32.const 816) (i32.const 0))
            (local.set $err (call $path_open (local.get $fd) (i32.const 0) (local.get $p) (local.get $pl)
              (i32.const 0) (i64.const 2) (i64.const 0) (i32.const 0) (i32.const 768)))
            (call $byte (i32.const 34))
            (call $emit (i32.const 512) (local.get $len))
            (call $byte (i32.const 32))
            (call $emit (local.get $p) (local.get $pl))
            (call $byte (i32.const 32))
            (call $num (local.get $err))
            (if (i32.eqz (local.get $err))
              (then
                (i32.store (i32.const 800) (i32.const 832))
                (i32.store (i32.const 804) (i32.const 5))
                (if (i32.eqz (call $fd_read (i32.load (i32.const 768))
                      (i32.const 800) (i32.const 1) (i32.const 816)))
                  (then
                    (call $byte (i32.const 32))
                    (call $emit (i32.const 832) (i32.load (i32.const 816)))))))
            (call $byte (i32.const 34))
            (call $byte (i32.const 44))
            (local.set $i (i32.add (local.get $i) (i32.const 1)))
            (br $paths)))))
      (local.set $fd (i32.add (local.get $fd) (i32.const 1)))
      (br $fds)))
    (call $emit (i32.const 1100) (i32.const {len(tail)}))
    (i32.store (i32.const 900) (i32.const 16384))
    (i32.store (i32.const 904) (i32.sub (global.get $pos) (i32.const 16384)))
    (drop (call $fd_write (i32.const 1) (i32.const 900) (i32.const 1) (i32.const 908)))))"""
    )


def test_the_guest_of_a_package_sees_only_its_own_models_and_deps(tmp_path, whisper_src):
    probe = tmp_path / "probe.wasm"
    probe.write_bytes(probe_module())
    deps = tmp_path / "deps"
    deps.mkdir()
    (deps / "hello.txt").write_text("hello from deps\n")
    doc = json.loads((EXAMPLES / "calculator.json").read_text())
    doc["nodes"][0]["params"]["path"] = "../../etc/passwd"  # a hostile-looking param changes nothing
    manifest = tmp_path / "probe.json"
    manifest.write_text(json.dumps(doc))
    model = whisper_src / "models" / "for-tests-ggml-tiny.en.bin"
    pkg = tmp_path / "probe.rmpkg"
    build_package(manifest, pkg, BuildOptions(runtime=probe, deps=deps, models=[str(model)], created=CREATED))
    prepared = prepare_run(pkg)
    result = prepared.run(RunRequest(prepared.manifest, [1]))
    assert result.ok, result.error
    lines = [o for o in result.outputs if o != "end"]
    seen: dict[tuple[str, str], tuple[int, str]] = {}
    for line in lines:
        directory, path, errno, *content = line.split(" ", 3)
        seen[(directory, path)] = (int(errno), content[0] if content else "")
    assert {d for d, _ in seen} == {"/models", "/deps"}  # exactly two directories exist for the guest
    assert seen[("/deps", "hello.txt")] == (0, "hello")  # the positive control: its own file reads
    assert seen[("/models", "hello.txt")][0] != 0
    for (directory, path), (errno, content) in seen.items():
        if path != "hello.txt":
            assert errno != 0 and content == "", (directory, path, errno, content)

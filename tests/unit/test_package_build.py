"""Building packages: byte-identical output for identical inputs, the recorded fields, atomic writes.

These use a small stand-in ``runtime.wasm`` (the wasm magic plus a custom section) because they
check the archive, never run it; the round trip through the real guest is in
``tests/integration/test_package_run.py``.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import stat
import zipfile
import zlib
from pathlib import Path

import pytest

from rmstudio.core.errors import RMError
from rmstudio.core.package import BuildOptions, build_package, extract_package, summarize, verify_package
from rmstudio.core.package import build as build_mod
from rmstudio.core.package.format import WASM_MAGIC
from tests.conftest import EXAMPLES

CREATED = "2026-11-25T00:00:00Z"


def runtime_file(tmp: Path, payload: bytes = b"rm-test-runtime", contract: int = 1) -> Path:
    """A wasm module consisting of one custom section (valid wasm; never executed here)."""
    name = b"rmstudio-test"
    body = bytes([len(name)]) + name + payload
    wasm = WASM_MAGIC + b"\x00" + bytes([len(body)]) + body
    path = tmp / "rt.wasm"
    path.write_bytes(wasm)
    info = {
        "sha256": hashlib.sha256(wasm).hexdigest(),
        "executor_version": "9.9.9",
        "contract_version": contract,
    }
    (tmp / "rt.build.json").write_text(json.dumps(info))
    return path


@pytest.fixture
def inputs(tmp_path):
    src = tmp_path / "src"
    src.mkdir()
    manifest = src / "calculator.json"
    shutil.copy(EXAMPLES / "calculator.json", manifest)
    return manifest, runtime_file(src)


def build(manifest: Path, out: Path, runtime: Path, **kw) -> Path:
    kw.setdefault("created", CREATED)
    build_package(manifest, out, BuildOptions(runtime=runtime, **kw))
    return out


# ---------------------------------------------------------------------- determinism
def test_same_inputs_give_identical_bytes(tmp_path, inputs, monkeypatch):
    manifest, runtime = inputs
    a = build(manifest, tmp_path / "a" / "calc.rmpkg", runtime)
    # another directory, another working directory, a copy of the inputs elsewhere
    other = tmp_path / "elsewhere" / "deeper"
    other.mkdir(parents=True)
    shutil.copy(manifest, other / "calculator.json")
    shutil.copy(runtime, other / "rt.wasm")
    shutil.copy(runtime.with_suffix(".build.json"), other / "rt.build.json")
    monkeypatch.chdir(other)
    b = build(Path("calculator.json"), Path("out.rmpkg"), Path("rt.wasm"))
    assert a.read_bytes() == (other / b).read_bytes()
    # SOURCE_DATE_EPOCH gives the same created_at as --created
    monkeypatch.setenv("SOURCE_DATE_EPOCH", "1795564800")  # 2026-11-25T00:00:00Z
    c = build(manifest, tmp_path / "c.rmpkg", runtime, created=None)
    assert c.read_bytes() == a.read_bytes()


@pytest.mark.parametrize(
    "change",
    ["manifest param", "runtime byte", "package name", "version", "created", "deps file", "author"],
)
def test_changing_one_input_changes_the_package(tmp_path, inputs, change):
    manifest, runtime = inputs
    deps = tmp_path / "deps"
    deps.mkdir()
    (deps / "table.txt").write_text("1 2 3\n")
    base = build(manifest, tmp_path / "base.rmpkg", runtime, deps=deps)
    kw: dict = {"deps": deps}
    if change == "manifest param":
        doc = json.loads(manifest.read_text())
        doc["nodes"][1]["params"]["addend"] = 11
        manifest.write_text(json.dumps(doc))
    elif change == "runtime byte":
        runtime = runtime_file(runtime.parent, b"rm-test-runtimE")
    elif change == "package name":
        kw["name"] = "calc-2"
    elif change == "version":
        kw["version"] = "1.0.1"
    elif change == "created":
        kw["created"] = "2026-11-25T00:00:01Z"
    elif change == "deps file":
        (deps / "table.txt").write_text("1 2 4\n")
    elif change == "author":
        kw["author"] = "Ada"
    changed = build(manifest, tmp_path / "changed.rmpkg", runtime, **kw)
    assert changed.read_bytes() != base.read_bytes()
    again = build(manifest, tmp_path / "again.rmpkg", runtime, **kw)
    assert again.read_bytes() == changed.read_bytes()


def test_archive_entries_are_fixed(tmp_path, inputs):
    manifest, runtime = inputs
    deps = tmp_path / "deps"
    (deps / "b").mkdir(parents=True)
    (deps / "z.txt").write_text("z")
    (deps / "b" / "a.txt").write_text("a")
    (deps / "a.txt").write_text("a")
    pkg = build(manifest, tmp_path / "calc.rmpkg", runtime, deps=deps)
    with zipfile.ZipFile(pkg) as zf:
        infos = zf.infolist()
        assert [i.filename for i in infos] == [
            "manifest.json",
            "runtime.wasm",
            "deps/a.txt",
            "deps/b/a.txt",
            "deps/z.txt",
            "metadata.json",
        ]
        for i in infos:
            assert i.date_time == (1980, 1, 1, 0, 0, 0)
            assert i.create_system == 3
            assert i.external_attr >> 16 == stat.S_IFREG | 0o644
            assert i.compress_type == zipfile.ZIP_DEFLATED
            assert i.extra == b"" and i.comment == b""
            assert i.flag_bits & 0x08 == 0  # no data descriptors
        assert zf.comment == b""
        # deflate at level 9, as RemoteMedia's packer
        wasm = zf.read("runtime.wasm")
        deflate = zlib.compressobj(9, zlib.DEFLATED, -15)
        assert infos[1].compress_size == len(deflate.compress(wasm) + deflate.flush())


def test_metadata_records_what_the_format_says(tmp_path, inputs):
    manifest, runtime = inputs
    pkg = build(manifest, tmp_path / "calc.rmpkg", runtime, license="MIT")
    with zipfile.ZipFile(pkg) as zf:
        meta = json.loads(zf.read("metadata.json"))
        packed_manifest = json.loads(zf.read("manifest.json"))
        members = {n: zf.read(n) for n in zf.namelist()}
    assert meta["format"] == "rmpkg" and meta["format_version"] == "1.0"
    assert meta["package_name"] == "calculator"  # from the manifest's metadata.name
    assert meta["package_version"] == "1.0.0"  # RemoteMedia's fallback
    assert meta["description"].startswith("Doubles every number")
    assert meta["license"] == "MIT" and "author" not in meta  # never invented
    assert meta["created_at"] == CREATED
    assert meta["built_with"] == {"name": "rmstudio", "version": "0.1.0"}
    assert meta["runtime_build"] == {"executor_version": "9.9.9", "contract_version": 1}
    size = len(members["runtime.wasm"])
    assert meta["runtime_info"] == {
        "wasm_size_bytes": size,
        "has_python_nodes": False,
        "has_rust_nodes": True,
        "node_types": ["MultiplyNode", "AddNode"],
        "node_count": 2,
        "connection_count": 1,
    }
    assert meta["performance_hints"] == {
        "expected_load_time_ms": 50,
        "expected_execution_time_ms": 10,
        "memory_requirement_mb": 21,
    }
    assert set(meta["files"]) == set(members) - {"metadata.json"}
    for name, entry in meta["files"].items():
        assert entry == {"sha256": hashlib.sha256(members[name]).hexdigest(), "size": len(members[name])}
    assert packed_manifest["runtime"] == {
        "target": "wasm32-wasi",
        "entry": "runtime.wasm",
        "min_version": "0.1.0",
        "contract_version": 1,
        "preopens": [],
    }
    # nothing of the build machine: no path of it anywhere, no absolute path in the JSON
    blob = b"".join(members.values())
    assert str(tmp_path).encode() not in blob and str(Path.home()).encode() + b"/" not in blob

    def strings(value):
        if isinstance(value, dict):
            for k, v in value.items():
                yield k
                yield from strings(v)
        elif isinstance(value, list):
            for v in value:
                yield from strings(v)
        elif isinstance(value, str):
            yield value

    assert [t for t in strings([meta, packed_manifest]) if t.startswith("/")] == []


def test_missing_target_is_written_and_other_targets_refused(tmp_path, inputs):
    manifest, runtime = inputs
    doc = json.loads(manifest.read_text())
    del doc["runtime"]
    manifest.write_text(json.dumps(doc))
    result = build_package(manifest, tmp_path / "a.rmpkg", BuildOptions(runtime=runtime, created=CREATED))
    assert "package_target_assumed" in [w.code for w in result.warnings]
    assert result.manifest["runtime"]["target"] == "wasm32-wasi"
    assert result.manifest["runtime"]["min_version"] == "0.1.0"  # the building RM Studio's version
    for target in ("native", ""):
        doc["runtime"] = {"target": target}
        manifest.write_text(json.dumps(doc))
        with pytest.raises(RMError) as exc:
            build_package(manifest, tmp_path / "b.rmpkg", BuildOptions(runtime=runtime))
        assert exc.value.code == "package_unknown_target"
        assert not (tmp_path / "b.rmpkg").exists()


def test_invalid_manifest_is_refused_with_its_line(tmp_path, inputs):
    manifest, runtime = inputs
    doc = json.loads(manifest.read_text())
    doc["nodes"][0]["node_type"] = "Multiply"
    manifest.write_text(json.dumps(doc, indent=2))
    with pytest.raises(RMError) as exc:
        build_package(manifest, tmp_path / "x.rmpkg", BuildOptions(runtime=runtime))
    assert exc.value.code == "package_invalid_manifest"
    assert "unknown node type 'Multiply'" in exc.value.message and exc.value.line
    assert list(tmp_path.glob("*.rmpkg")) == []


def test_existing_output_needs_force(tmp_path, inputs):
    manifest, runtime = inputs
    out = tmp_path / "calc.rmpkg"
    out.write_bytes(b"precious")
    with pytest.raises(RMError) as exc:
        build(manifest, out, runtime)
    assert exc.value.code == "package_exists" and out.read_bytes() == b"precious"
    build(manifest, out, runtime, force=True)
    assert verify_package(out).ok


def test_a_failed_build_leaves_nothing(tmp_path, inputs, monkeypatch):
    manifest, runtime = inputs
    out = tmp_path / "out" / "calc.rmpkg"
    out.parent.mkdir()
    out.write_bytes(b"the previous package")
    calls = {"n": 0}
    real = build_mod._zip_info

    def failing(name: str, size: int):
        calls["n"] += 1
        if calls["n"] == 2:  # after manifest.json was written into the temporary file
            raise OSError(28, "No space left on device")
        return real(name, size)

    monkeypatch.setattr(build_mod, "_zip_info", failing)
    with pytest.raises(RMError) as exc:
        build(manifest, out, runtime, force=True)
    assert exc.value.code == "io_error" and "No space left on device" in exc.value.message
    assert sorted(p.name for p in out.parent.iterdir()) == ["calc.rmpkg"]
    assert out.read_bytes() == b"the previous package"
    # A build that fails leaves no folders it made for the output either.
    calls["n"] = 0
    with pytest.raises(RMError):
        build(manifest, tmp_path / "new" / "deeper" / "calc.rmpkg", runtime)
    assert not (tmp_path / "new").exists()


def test_output_folder_problems_are_clear_errors(tmp_path, inputs):
    manifest, runtime = inputs
    blocker = tmp_path / "afile"
    blocker.write_text("x")
    with pytest.raises(RMError) as exc:
        build(manifest, blocker / "calc.rmpkg", runtime)
    assert exc.value.code == "io_error" and "is a file, not a folder" in exc.value.message


def test_run_request_input_is_not_packed(tmp_path, inputs):
    _, runtime = inputs
    request = tmp_path / "req.json"
    request.write_text(
        json.dumps({"manifest": json.loads((EXAMPLES / "calculator.json").read_text()), "input_data": [1]})
    )
    result = build_package(request, tmp_path / "r.rmpkg", BuildOptions(runtime=runtime, created=CREATED))
    assert "package_input_not_packed" in [w.code for w in result.warnings]
    assert "input_data" not in result.manifest


def test_runtime_must_be_wasm(tmp_path, inputs):
    manifest, _ = inputs
    fake = tmp_path / "not.wasm"
    fake.write_bytes(b"#!/bin/sh\necho pwned\n")
    with pytest.raises(RMError) as exc:
        build_package(manifest, tmp_path / "x.rmpkg", BuildOptions(runtime=fake))
    assert exc.value.code == "package_not_wasm"


def test_stale_build_record_is_ignored(tmp_path, inputs):
    manifest, runtime = inputs
    info = json.loads(runtime.with_suffix(".build.json").read_text())
    info["sha256"] = "0" * 64
    runtime.with_suffix(".build.json").write_text(json.dumps(info))
    result = build_package(manifest, tmp_path / "x.rmpkg", BuildOptions(runtime=runtime, created=CREATED))
    codes = [w.code for w in result.warnings]
    assert "runtime_build_stale" in codes and "runtime_build_unknown" in codes
    assert "runtime_build" not in result.metadata


def test_deps_are_bundled_and_links_refused(tmp_path, inputs):
    manifest, runtime = inputs
    deps = tmp_path / "deps"
    (deps / "sub").mkdir(parents=True)
    (deps / "sub" / "vocab.txt").write_text("hello\n")
    result = build_package(
        manifest, tmp_path / "d.rmpkg", BuildOptions(runtime=runtime, deps=deps, created=CREATED)
    )
    assert result.manifest["runtime"]["preopens"] == ["/deps"]
    assert "deps/sub/vocab.txt" in [m["name"] for m in result.members]
    (deps / "passwd").symlink_to("/etc/passwd")
    with pytest.raises(RMError) as exc:
        build_package(manifest, tmp_path / "e.rmpkg", BuildOptions(runtime=runtime, deps=deps))
    assert exc.value.code == "package_link"
    (deps / "passwd").unlink()
    os.mkfifo(deps / "pipe")
    with pytest.raises(RMError) as exc:
        build_package(manifest, tmp_path / "e.rmpkg", BuildOptions(runtime=runtime, deps=deps))
    assert exc.value.code == "package_special_file"
    assert not (tmp_path / "e.rmpkg").exists()


def test_builder_refuses_what_readers_would_call_a_zip_bomb(tmp_path, inputs):
    manifest, runtime = inputs
    deps = tmp_path / "deps"
    deps.mkdir()
    (deps / "zeros.bin").write_bytes(bytes(64 << 20))
    with pytest.raises(RMError) as exc:
        build_package(manifest, tmp_path / "z.rmpkg", BuildOptions(runtime=runtime, deps=deps))
    assert exc.value.code == "package_zip_bomb"
    assert [p.name for p in tmp_path.iterdir() if p.suffix in (".rmpkg", ".tmp")] == []


def test_unsafe_deps_names_are_refused(tmp_path, inputs):
    manifest, runtime = inputs
    deps = tmp_path / "deps"
    deps.mkdir()
    (deps / "CON.txt").write_text("x")
    with pytest.raises(RMError) as exc:
        build_package(manifest, tmp_path / "n.rmpkg", BuildOptions(runtime=runtime, deps=deps))
    assert exc.value.code == "package_unsafe_path"


def test_deps_that_would_collide_on_macos_or_windows_are_refused_before_writing(tmp_path, inputs):
    manifest, runtime = inputs
    deps = tmp_path / "deps"
    deps.mkdir()
    (deps / "caf\u00e9.txt").write_text("composed")
    (deps / "cafe\u0301.txt").write_text("decomposed")  # looks the same; a different name on Linux
    out = tmp_path / "n.rmpkg"
    with pytest.raises(RMError) as exc:
        build_package(manifest, out, BuildOptions(runtime=runtime, deps=deps))
    assert exc.value.code == "package_case_conflict"
    assert "caf\\xe9" in exc.value.message and "cafe\\u0301" in exc.value.message  # visibly different
    assert sorted(p.name for p in tmp_path.iterdir()) == ["deps", "src"]  # no package, no temp file


def test_models_are_bundled_and_mapped(tmp_path, inputs, whisper_src):
    manifest, runtime = inputs
    model = whisper_src / "models" / "for-tests-ggml-tiny.en.bin"
    result = build_package(
        manifest,
        tmp_path / "m.rmpkg",
        BuildOptions(runtime=runtime, models=[f"tiny.en={model}"], created=CREATED),
    )
    assert result.manifest["runtime"]["preopens"] == ["/models"]
    assert result.manifest["runtime"]["models"] == {"tiny.en": model.name}
    report = verify_package(result.path)
    assert report.ok
    summary = summarize(report)
    assert summary["models"] == [
        {"name": "tiny.en", "member": f"models/{model.name}", "size": model.stat().st_size}
    ]
    assert summary["access"]["read_only_dirs"][0]["guest_path"] == "/models"
    # a path alone: the name comes from the file
    alone = build_package(manifest, tmp_path / "n.rmpkg", BuildOptions(runtime=runtime, models=[str(model)]))
    assert alone.manifest["runtime"]["models"] == {"for-tests-ggml-tiny.en": model.name}


def test_a_file_that_is_not_a_model_is_refused(tmp_path, inputs):
    manifest, runtime = inputs
    junk = tmp_path / "ggml-junk.bin"
    junk.write_bytes(b"not a model at all" * 100)
    with pytest.raises(RMError) as exc:
        build_package(manifest, tmp_path / "j.rmpkg", BuildOptions(runtime=runtime, models=[str(junk)]))
    assert exc.value.code == "invalid_model"
    assert not (tmp_path / "j.rmpkg").exists()


def test_pack_verify_unpack_round_trip(tmp_path, inputs):
    manifest, runtime = inputs
    result = build_package(manifest, tmp_path / "calc.rmpkg", BuildOptions(runtime=runtime, created=CREATED))
    report = verify_package(result.path)
    assert report.ok and report.package_sha256 == result.sha256
    assert report.package_sha256 == hashlib.sha256(result.path.read_bytes()).hexdigest()
    out = tmp_path / "unpacked"
    extract_package(result.path, out)
    assert json.loads((out / "manifest.json").read_text()) == result.manifest
    assert (out / "runtime.wasm").read_bytes() == runtime.read_bytes()
    # an unpacked package repacks to the same bytes (its manifest already has the runtime section)
    (out / "rt.build.json").write_text(runtime.with_suffix(".build.json").read_text())
    shutil.copy(out / "runtime.wasm", out / "rt.wasm")
    again = build_package(
        out / "manifest.json",
        tmp_path / "again.rmpkg",
        BuildOptions(runtime=out / "rt.wasm", created=CREATED),
    )
    assert again.path.read_bytes() == result.path.read_bytes()


def test_sigterm_while_packing_leaves_no_temp_file(tmp_path, inputs):
    import os
    import signal
    import subprocess
    import sys
    import time

    from tests.conftest import REPO

    manifest, runtime = inputs
    deps = tmp_path / "deps"
    deps.mkdir()
    (deps / "noise.bin").write_bytes(os.urandom(48 << 20))  # compressing it takes a while
    out = tmp_path / "out"
    out.mkdir()
    proc = subprocess.Popen(
        [sys.executable, "-m", "rmstudio", "pack", str(manifest), "--runtime", str(runtime),
         "--deps", str(deps), "-o", str(out / "p.rmpkg")],
        stderr=subprocess.PIPE, text=True, cwd=REPO, env={**os.environ, "PYTHONPATH": str(REPO)},
    )  # fmt: skip
    deadline = time.monotonic() + 60
    while not any(out.iterdir()) and proc.poll() is None and time.monotonic() < deadline:
        time.sleep(0.01)  # until the temp file appears
    proc.send_signal(signal.SIGTERM)
    _, err = proc.communicate(timeout=60)
    assert proc.returncode == 143 and err.strip().endswith("terminated"), err
    assert list(out.iterdir()) == []

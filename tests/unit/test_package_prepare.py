"""Preparing a package run: the extraction cache, exactly which directories the guest gets,
and the model fallback. Nothing here executes wasm (see tests/integration/test_package_run.py).
"""

from __future__ import annotations

import json
import os
import types
from pathlib import Path

import pytest

from rmstudio.core.errors import RMError
from rmstudio.core.manifest import catalog
from rmstudio.core.package import models_link as models_link_mod
from rmstudio.core.package import package_cache_dir, prepare_run
from rmstudio.core.runs import Preopen, RunRequest
from tests.unit.test_package_zipcraft import (
    CALCULATOR,
    WASM,
    Entry,
    as_bytes,
    baseline_entries,
    craft,
    manifest,
)


@pytest.fixture(autouse=True)
def _private_dirs(tmp_path, monkeypatch):
    monkeypatch.setenv("RMSTUDIO_CACHE_DIR", str(tmp_path / "cache"))
    monkeypatch.setenv("RMSTUDIO_DATA_DIR", str(tmp_path / "data"))


def entries_with(doc: dict, *extra: Entry, drop: tuple[str, ...] = ()) -> list[Entry]:
    out = [e for e in baseline_entries() if e.name not in drop]
    out[0] = Entry("manifest.json", as_bytes(doc))
    return [*out, *extra]


def test_only_the_package_dirs_are_preopened_read_only(tmp_path):
    pkg = craft(tmp_path / "calc.rmpkg")
    prepared = prepare_run(pkg)
    root = package_cache_dir() / prepared.package_id
    assert prepared.root == root and prepared.cache == "miss"
    assert prepared.runtime.path == root / "runtime.wasm"
    assert prepared.preopens == [Preopen(root / "models", "/models"), Preopen(root / "deps", "/deps")]
    # whatever a request carried, the package's run sees only the package's directories
    hostile = RunRequest(
        prepared.manifest, [1], preopens=[Preopen(Path("/"), "/host"), Preopen(Path.home(), "/home")]
    )
    applied = prepared.apply(hostile)
    assert applied.preopens == prepared.preopens
    assert applied.manifest is prepared.manifest and applied.input_data == [1]


def test_undeclared_dirs_are_not_mounted(tmp_path):
    pkg = craft(tmp_path / "calc.rmpkg", entries_with(manifest(preopens=[])))
    prepared = prepare_run(pkg)
    assert prepared.preopens == []


def test_cache_entry_is_reused_only_while_intact(tmp_path):
    pkg = craft(tmp_path / "calc.rmpkg")
    first = prepare_run(pkg)
    assert prepare_run(pkg).cache == "hit"
    model = first.root / "models" / "tiny.bin"
    original = model.read_bytes()
    # a changed file
    model.write_bytes(original + b"tampered")
    again = prepare_run(pkg)
    assert again.cache == "miss" and model.read_bytes() == original
    # an added file the guest would see
    (first.root / "models" / "extra.bin").write_bytes(b"x")
    assert prepare_run(pkg).cache == "miss"
    assert not (first.root / "models" / "extra.bin").exists()
    # a file swapped for a link
    model.unlink()
    model.symlink_to("/etc/passwd")
    assert prepare_run(pkg).cache == "miss"
    assert not model.is_symlink() and model.read_bytes() == original
    assert prepare_run(pkg).cache == "hit"


def test_moved_package_uses_the_same_entry(tmp_path):
    pkg = craft(tmp_path / "calc.rmpkg")
    first = prepare_run(pkg)
    moved = tmp_path / "elsewhere" / "renamed.rmpkg"
    moved.parent.mkdir()
    pkg.rename(moved)
    second = prepare_run(moved)
    assert second.package_id == first.package_id and second.cache == "hit"
    assert second.document.source == f"{moved}:manifest.json"


def test_refused_packages_leave_no_cache_entry(tmp_path):
    cases = {
        "hash": (
            craft(
                tmp_path / "a.rmpkg", [*baseline_entries()[:1], Entry("runtime.wasm", WASM, meta={"size": 1})]
            ),
            "package_size_mismatch",
        ),
        "unsafe": (
            craft(tmp_path / "b.rmpkg", [*baseline_entries(), Entry("../x", b"x")]),
            "package_unsafe_path",
        ),
        "legacy": (
            craft(
                tmp_path / "c.rmpkg",
                [
                    Entry("manifest.json", as_bytes({k: v for k, v in CALCULATOR.items() if k != "runtime"})),
                    Entry("runtime.wasm", WASM),
                ],
                metadata=None,
            ),
            "package_unverified",
        ),
    }
    for pkg, code in cases.values():
        with pytest.raises(RMError) as exc:
            prepare_run(pkg)
        assert exc.value.code == code
    cache = package_cache_dir()
    assert not cache.exists() or list(cache.iterdir()) == []


@pytest.mark.parametrize(
    ("runtime", "code"),
    [
        ({"min_version": "99.0.0"}, "package_requires_newer"),
        ({"contract_version": 7}, "package_runtime_incompatible"),
    ],
)
def test_requirements_are_enforced_for_runs(tmp_path, runtime, code):
    pkg = craft(tmp_path / "future.rmpkg", entries_with(manifest(**runtime)))
    with pytest.raises(RMError) as exc:
        prepare_run(pkg)
    assert exc.value.code == code and exc.value.hint


def test_a_changed_package_file_is_never_cached_under_the_old_id(tmp_path, monkeypatch):
    pkg = craft(tmp_path / "calc.rmpkg")
    from rmstudio.core.package import run as run_mod

    real = run_mod.extract_package

    def swap_then_extract(path, dest, *args, **kw):
        craft(Path(path), [*baseline_entries(), Entry("deps/new.txt", b"new")])  # rewritten meanwhile
        return real(path, dest, *args, **kw)

    monkeypatch.setattr(run_mod, "extract_package", swap_then_extract)
    with pytest.raises(RMError) as exc:
        prepare_run(pkg)
    assert exc.value.code == "package_changed"
    cache = package_cache_dir()
    assert not cache.exists() or list(cache.iterdir()) == []  # nothing cached (or even created)


# ---------------------------------------------------------------------- models
@pytest.fixture
def whisper_type(monkeypatch):
    """The catalog's Whisper node, or a stand-in with the same ``model`` param until it lands."""
    for node in catalog.all_nodes():
        param = node.param("model")
        if param is not None:
            return node.name
    stand_in = catalog.NodeType(
        name="WhisperTranscriber",
        category="speech",
        description="stand-in for the Whisper node (package tests only)",
        input="any",
        output="any",
        params=(
            catalog.Param(
                "model",
                "string",
                "model name or guest path",
                default="default",
                aliases=("model_source", "model_path"),
            ),
        ),
    )
    monkeypatch.setitem(catalog._BY_NAME, stand_in.name, stand_in)
    return stand_in.name


def whisper_manifest(node_type: str, model: str, **runtime) -> dict:
    doc = manifest(**runtime)
    doc["nodes"] = [{"id": "stt", "node_type": node_type, "params": {"model": model}}]
    doc["connections"] = []
    return doc


@pytest.fixture
def fake_store(tmp_path, monkeypatch):
    """The model store's public API as the hook uses it: list_models() and resolve("default")."""
    models_dir = tmp_path / "store"
    models_dir.mkdir()
    (models_dir / "ggml-base.en.bin").write_bytes(b"base model")
    (models_dir / "ggml-tiny.en-q8_0.bin").write_bytes(b"default model")
    (models_dir / "index.json").write_text('{"private": "origins of every model"}')
    store = types.SimpleNamespace(
        list_models=lambda: [types.SimpleNamespace(name="base.en", path=models_dir / "ggml-base.en.bin")],
        resolve=lambda name: models_dir / "ggml-tiny.en-q8_0.bin" if name == "default" else None,
        read_model_info=lambda path: None,
    )
    monkeypatch.setattr(models_link_mod, "_store", lambda: store)
    return store


def test_bundled_model_is_mapped_for_the_guest(tmp_path, whisper_type, fake_store):
    doc = whisper_manifest(whisper_type, "tiny", models={"tiny": "tiny.bin"})
    prepared = prepare_run(craft(tmp_path / "w.rmpkg", entries_with(doc)))
    assert prepared.model_options == {"tiny": "/models/tiny.bin"}
    assert prepared.warnings == []
    request = prepared.apply(RunRequest(prepared.manifest, None, {"models": {"tiny": "/etc/passwd"}}))
    assert request.options["models"] == {"tiny": "/models/tiny.bin"}  # the package's map wins


def test_missing_model_falls_back_to_the_same_name_in_the_store(tmp_path, whisper_type, fake_store):
    prepared = prepare_run(
        craft(tmp_path / "w.rmpkg", entries_with(whisper_manifest(whisper_type, "base.en")))
    )
    assert [w.code for w in prepared.warnings] == ["package_model_fallback"]
    assert "your model of the same name" in prepared.warnings[0].message
    staged = [p for p in prepared.preopens if p.guest_path == "/user-models"]
    assert len(staged) == 1
    # that one file, nothing else of the store
    assert sorted(os.listdir(staged[0].host_path)) == ["ggml-base.en.bin"]
    assert prepared.model_options == {"base.en": "/user-models/ggml-base.en.bin"}


def test_missing_model_falls_back_to_the_default(tmp_path, whisper_type, fake_store):
    prepared = prepare_run(
        craft(tmp_path / "w.rmpkg", entries_with(whisper_manifest(whisper_type, "large-v3")))
    )
    assert "your default model 'tiny.en-q8_0'" in prepared.warnings[0].message
    assert prepared.model_options == {"large-v3": "/user-models/ggml-tiny.en-q8_0.bin"}


@pytest.mark.parametrize(
    "value", ["/etc/passwd", "../../../../etc/passwd", "/models/missing.bin", "index.json"]
)
def test_a_manifest_can_not_pick_a_host_file_as_its_model(tmp_path, whisper_type, fake_store, value):
    prepared = prepare_run(craft(tmp_path / "w.rmpkg", entries_with(whisper_manifest(whisper_type, value))))
    hosts = [str(p.host_path) for p in prepared.preopens]
    # only the package's own directories and the staged copy of the host-chosen model
    assert all(h.startswith(str(tmp_path / "cache") + "/") for h in hosts), hosts
    run_manifest = prepared.apply(RunRequest(prepared.manifest)).manifest
    chosen = run_manifest["nodes"][0]["params"]["model"]
    if value.startswith("/"):
        assert chosen == "/user-models/ggml-tiny.en-q8_0.bin"  # rewritten to the host's choice
    else:
        assert prepared.model_options[value] == "/user-models/ggml-tiny.en-q8_0.bin"
    # the package's own manifest is untouched; only the run's copy changes
    assert prepared.manifest["nodes"][0]["params"]["model"] == value


def test_no_model_anywhere_stops_before_running(tmp_path, whisper_type, monkeypatch):
    monkeypatch.setattr(models_link_mod, "_store", lambda: None)
    with pytest.raises(RMError) as exc:
        prepare_run(craft(tmp_path / "w.rmpkg", entries_with(whisper_manifest(whisper_type, "base.en"))))
    assert exc.value.code == "package_model_missing"
    assert "--model" in exc.value.hint and exc.value.path == "/nodes/0/params/model"


def test_verify_warns_about_unbundled_models(tmp_path, whisper_type):
    from rmstudio.core.package import verify_package

    report = verify_package(
        craft(tmp_path / "w.rmpkg", entries_with(whisper_manifest(whisper_type, "base.en")))
    )
    assert report.ok
    assert "package_model_not_bundled" in [w.code for w in report.warnings]


def test_stage_model_is_reused(tmp_path):
    model = tmp_path / "ggml-x.bin"
    model.write_bytes(b"weights")
    first = models_link_mod.stage_model(model)
    assert models_link_mod.stage_model(model) == first
    assert (first / "ggml-x.bin").read_bytes() == b"weights"
    assert json.loads(json.dumps(sorted(os.listdir(first)))) == ["ggml-x.bin"]


def test_wrong_extension_warns_on_every_run(tmp_path):
    pkg = craft(tmp_path / "calc.zip")
    assert [w.code for w in prepare_run(pkg).warnings] == ["package_extension"]
    again = prepare_run(pkg)
    assert again.cache == "hit" and [w.code for w in again.warnings] == ["package_extension"]

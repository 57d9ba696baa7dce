"""The model store: data dir from RMSTUDIO_DATA_DIR, import with dedupe, cached conversions,
the embedded default, resolve(), and an index that survives garbage."""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path

import pytest

from rmstudio.core.errors import RMError
from rmstudio.core.models import store as store_mod
from rmstudio.core.models.store import DEFAULT_QUANT, ModelStore

from .test_models_support import build_ct2_dir, build_ggml


@pytest.fixture(autouse=True)
def data_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Every test gets its own data dir; nothing touches the user's real model store."""
    path = tmp_path / "data"
    monkeypatch.setenv("RMSTUDIO_DATA_DIR", str(path))
    return path


@pytest.fixture
def small_model(tmp_path: Path) -> Path:
    """A small but complete synthetic model outside the store (its family reads as "unknown")."""
    (tmp_path / "elsewhere").mkdir()
    return build_ggml(tmp_path / "elsewhere" / "my-model.bin")


def _files(root: Path) -> list[str]:
    return sorted(p.name for p in root.iterdir() if p.suffix == ".bin")


def test_store_lives_under_the_data_dir(data_dir: Path) -> None:
    assert store_mod.models_dir() == data_dir / "models"
    assert store_mod.list_models() == []
    assert (data_dir / "models").is_dir()


def test_import_validates_copies_and_dedupes(data_dir: Path, small_model: Path) -> None:
    first = store_mod.import_model(small_model)
    assert (
        first.name == "unknown.en" and first.source == "import" and first.origin == str(small_model.resolve())
    )
    assert first.path == data_dir / "models" / "ggml-unknown.en.bin"
    assert first.path.read_bytes() == small_model.read_bytes()
    assert first.path.stat().st_mode & 0o777 == 0o644
    again = store_mod.import_model(small_model)
    copy = small_model.with_name("copy.bin")
    shutil.copy(small_model, copy)
    third = store_mod.import_model(copy)
    assert again == first and third == first  # same content is stored once
    with pytest.raises(RMError) as exc:  # ... and does not pretend to answer to a second name
        store_mod.import_model(copy, name="another-name")
    assert exc.value.code == "model_exists" and "already stored as 'unknown.en'" in exc.value.message
    assert _files(data_dir / "models") == ["ggml-unknown.en.bin"]
    other = store_mod.import_model(build_ggml(small_model.with_name("other.bin"), seed=5))
    assert other.name == "unknown.en-2" and other.sha256 != first.sha256
    assert [m.name for m in store_mod.list_models()] == ["unknown.en", "unknown.en-2"]
    leftovers = [p.name for p in (data_dir / "models").iterdir() if p.name.endswith(".tmp")]
    assert leftovers == []


def test_import_refuses_bad_files_and_names(tmp_path: Path, whisper_src: Path, small_model: Path) -> None:
    with pytest.raises(RMError) as err:
        store_mod.import_model(whisper_src / "models" / "for-tests-ggml-tiny.en.bin")
    assert err.value.code == "invalid_model" and "no weights" in err.value.message
    broken = tmp_path / "broken.bin"
    broken.write_bytes(small_model.read_bytes()[:-10])
    with pytest.raises(RMError) as err:
        store_mod.import_model(broken)
    assert err.value.code == "invalid_model"
    for name in ("../evil", "default", "", "a/b", "x" * 65, ".hidden"):
        with pytest.raises(RMError) as err:
            store_mod.import_model(small_model, name=name)
        assert err.value.code == "invalid_param", name
    store_mod.import_model(small_model, name="mine")
    with pytest.raises(RMError) as err:
        store_mod.import_model(build_ggml(tmp_path / "o.bin", seed=3), name="mine")
    assert err.value.code == "name_taken"
    assert [m.name for m in store_mod.list_models()] == ["mine"]


@pytest.mark.parametrize(
    "garbage",
    [
        b"",
        b"\x00\xff not json",
        b"[]",
        b'{"version": 99, "models": []}',
        b'{"version": 1, "models": {"a": 1}}',
        b'{"version": 1, "models": [1, "x", null, {"name": 5}, {"name": "../up", "file": "ggml-../up.bin"}]}',
        b'{"version": 1, "models": [{"name": "keep-me", "file": "ggml-keep-me.bin", "size": "big"}]}',
        b'{"version": 1, "hash_cache": [], "models": [{"name": "evil", "file": "../../etc/passwd",'
        b' "sha256": "0", "size": 1, "label": "x", "family": "x", "english_only": true, "ftype": "f16",'
        b' "n_tensors": 1, "source": "import"}]}',
    ],
)
def test_garbage_index_is_rebuilt_from_the_files(data_dir: Path, small_model: Path, garbage: bytes) -> None:
    model = store_mod.import_model(small_model, name="keep-me")
    index = data_dir / "models" / "index.json"
    index.write_bytes(garbage)
    listed = store_mod.list_models()
    assert [(m.name, m.sha256, m.source) for m in listed] == [("keep-me", model.sha256, "found")]
    assert store_mod.resolve("keep-me") == model.path
    data = json.loads(index.read_text())
    assert data["version"] == 1 and [m["name"] for m in data["models"]] == ["keep-me"]


def test_index_drops_entries_for_missing_or_changed_files(
    data_dir: Path, tmp_path: Path, small_model: Path
) -> None:
    a = store_mod.import_model(small_model, name="a")
    b = store_mod.import_model(build_ggml(tmp_path / "b.bin", seed=2), name="b")
    a.path.unlink()
    with open(b.path, "ab") as f:
        f.write(b"junk")  # no longer a valid model: not listed, but not deleted either
    (data_dir / "models" / "ggml-stray.bin").write_bytes(b"not a model")
    assert store_mod.list_models() == []
    assert b.path.exists()


def test_files_dropped_into_the_folder_are_adopted(data_dir: Path, small_model: Path) -> None:
    root = store_mod.models_dir()
    root.mkdir(parents=True)
    shutil.copy(small_model, root / "ggml-handmade.bin")
    (listed,) = store_mod.list_models()
    assert listed.name == "handmade" and listed.source == "found" and listed.label == "unknown.en"


def test_convert_is_cached_by_content(data_dir: Path, tmp_path: Path) -> None:
    ct2 = build_ct2_dir(tmp_path / "ct2")
    progress: list[tuple[int, int]] = []
    first = store_mod.convert(ct2, "f16", progress=lambda d, t: progress.append((d, t)))
    assert progress and progress[-1][0] == progress[-1][1]
    assert first.source == "convert" and len(first.ct2_keys) == 1 and first.ftype == "f16"
    progress.clear()
    again = store_mod.convert(ct2, "f16", progress=lambda d, t: progress.append((d, t)))
    assert again == first and progress == []  # cache hit: no conversion ran
    copy = shutil.copytree(ct2, tmp_path / "same-content-elsewhere")
    assert store_mod.convert(copy, "f16").path == first.path
    q8 = store_mod.convert(ct2, "q8_0")
    assert q8.ftype == "q8_0" and q8.name == "unknown.en-q8_0" and q8.ct2_keys != first.ct2_keys
    # a changed input is a different model
    cfg = ct2 / "config.json"
    cfg.write_text(cfg.read_text().replace("[1, 2]", "[1, 2, 3]"))
    changed = store_mod.convert(ct2, "f16")
    assert changed.sha256 == first.sha256 and changed.path == first.path  # same bytes: deduped
    assert changed.ct2_keys[0] == first.ct2_keys[0] and len(changed.ct2_keys) == 2
    progress.clear()
    assert store_mod.convert(ct2, "f16", progress=lambda d, t: progress.append((d, t))) == changed
    assert progress == []  # both inputs are now cache hits
    assert len(store_mod.list_models()) == 2
    with pytest.raises(RMError) as err:
        store_mod.convert(ct2, "q4_0")
    assert err.value.code == "invalid_param"
    with pytest.raises(RMError) as err:
        store_mod.convert(tmp_path / "nothing-here")
    assert err.value.code == "file_not_found"


def test_interrupted_conversion_leaves_the_store_clean(data_dir: Path, tmp_path: Path) -> None:
    ct2 = build_ct2_dir(tmp_path / "ct2")

    def boom(done: int, total: int) -> None:
        raise RuntimeError("disk full")

    with pytest.raises(RuntimeError):
        store_mod.convert(ct2, "q8_0", progress=boom)
    root = store_mod.models_dir()
    assert [p.name for p in root.iterdir() if p.suffix in (".bin", ".tmp")] == []
    assert store_mod.list_models() == []


def test_default_model_is_converted_once_and_resolvable(
    data_dir: Path, tiny_en_ggml: dict[str, Path]
) -> None:
    store = ModelStore()
    default = store.default_model()
    assert default.name == f"tiny.en-{DEFAULT_QUANT}" and default.ftype == DEFAULT_QUANT
    assert default.embedded and default.is_default and default.source == "default"
    # same bytes as converting the package directly (the session fixture)
    assert default.path.read_bytes() == tiny_en_ggml[DEFAULT_QUANT].read_bytes()
    mtime = default.path.stat().st_mtime_ns
    assert store.default_model() == default and default.path.stat().st_mtime_ns == mtime
    assert store.resolve("default") == store.resolve(None) == store.resolve("") == default.path
    assert store.resolve(default.name) == default.path
    # the other format by its name, converted on demand
    other_quant = "f16" if DEFAULT_QUANT != "f16" else "q8_0"
    other_name = "tiny.en" if other_quant == "f16" else "tiny.en-q8_0"
    other = store.resolve(other_name)
    assert (
        other.name == f"ggml-{other_name}.bin"
        and other.read_bytes() == tiny_en_ggml[other_quant].read_bytes()
    )
    assert {m.name: m.is_default for m in store.list()} == {default.name: True, other_name: False}
    # importing the same bytes again does not duplicate it
    assert store.import_model(tiny_en_ggml[DEFAULT_QUANT]).name == default.name
    removed = store.remove(default.name)
    assert not removed.path.exists()
    assert store.resolve("default") == default.path and default.path.exists()


def test_resolve_paths_and_unknown_names(data_dir: Path, tmp_path: Path, small_model: Path) -> None:
    assert store_mod.resolve(small_model) == small_model  # used in place, not imported
    assert store_mod.resolve(str(small_model)) == small_model
    assert store_mod.list_models() == []
    ct2 = build_ct2_dir(tmp_path / "ct2")
    converted = store_mod.resolve(ct2)
    assert converted.parent == store_mod.models_dir()
    (model,) = store_mod.list_models()
    assert model.ftype == DEFAULT_QUANT
    with pytest.raises(RMError) as err:
        store_mod.resolve("base.en")
    assert err.value.code == "model_not_found" and model.name in (err.value.hint or "")
    with pytest.raises(RMError) as err:
        store_mod.resolve(tmp_path / "missing.bin")
    assert err.value.code == "file_not_found"
    bad = tmp_path / "bad.bin"
    bad.write_bytes(b"GGUF" + bytes(100))
    with pytest.raises(RMError) as err:
        store_mod.resolve(bad)
    assert err.value.code == "invalid_model"
    with pytest.raises(RMError) as err:
        store_mod.remove_model("nope")
    assert err.value.code == "model_not_found"


def test_read_only_listing_does_not_rewrite_the_index(data_dir: Path, small_model: Path) -> None:
    store_mod.import_model(small_model)
    index = store_mod.models_dir() / "index.json"
    before = index.stat().st_mtime_ns
    os.utime(index, ns=(before - 10**9, before - 10**9))
    store_mod.list_models()
    assert index.stat().st_mtime_ns == before - 10**9


def test_store_json_is_serialisable(small_model: Path) -> None:
    model = store_mod.import_model(small_model)
    data = json.loads(json.dumps(model.to_json()))
    assert data["path"] == str(model.path) and data["sha256"] == model.sha256 and data["is_default"] is False
    assert data["family"] == "unknown" and data["n_tensors"] > 0


def test_every_field_of_an_entry_can_be_garbage(data_dir: Path, small_model: Path) -> None:
    model = store_mod.import_model(small_model, name="sturdy")
    index = store_mod.models_dir() / "index.json"
    good = json.loads(index.read_text())
    for key in good["models"][0]:
        for junk in (None, 7, -1, "", "../x", [], {}, True, 1e308):
            data = json.loads(json.dumps(good))
            data["models"][0][key] = junk
            index.write_text(json.dumps(data))
            (listed,) = store_mod.list_models()
            assert listed.path == model.path and listed.sha256 == model.sha256, (key, junk)
            assert (listed.label, listed.ftype, listed.size) == (model.label, model.ftype, model.size), (
                key,
                junk,
            )

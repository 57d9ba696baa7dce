"""The host side of `models quantize` that needs no guest: type names, target names, checks made
before any run, the store's replace, and the sweep of directories a killed run left.
(The quantization itself, with the real guest, is tests/integration/test_quantize.py.)"""

from __future__ import annotations

import json
import os
import time
from pathlib import Path

import pytest

from rmstudio.core.errors import RMError
from rmstudio.core.models import QUANTIZE_TYPES, ModelStore, quantize_model
from rmstudio.core.models.fsutil import remove_stale_temps
from rmstudio.core.models.ggml_format import read_model_info
from rmstudio.core.models.ggml_types import FILE_TYPES
from rmstudio.core.models.quantize import canonical_type, guest_request, target_name
from rmstudio.core.runs import Preopen

from .test_models_support import SMALL, build_ggml


class NoEngine:
    """Fails the test if a check that should come first lets a run start."""

    def run_bytes(self, *args: object, **kwargs: object) -> None:
        raise AssertionError("the guest was started although the request should have been refused")


@pytest.fixture
def store(tmp_path: Path) -> ModelStore:
    s = ModelStore(tmp_path / "models")
    s.import_model(build_ggml(tmp_path / "m.bin", SMALL), name="small")
    return s


def test_every_type_is_a_whisper_file_type() -> None:
    names = {name for name, _ in FILE_TYPES.values()}
    assert set(QUANTIZE_TYPES) <= names
    assert QUANTIZE_TYPES[0] == "q8_0"


@pytest.mark.parametrize(("given", "canonical"), [("Q5_1", "q5_1"), ("q4_k", "q4_K"), (" q8_0 ", "q8_0")])
def test_type_names_are_case_insensitive(given: str, canonical: str) -> None:
    assert canonical_type(given) == canonical


@pytest.mark.parametrize("bad", ["q5", "f16", "iq2_xxs", ""])
def test_unknown_types_are_refused_with_the_list(bad: str) -> None:
    with pytest.raises(RMError) as err:
        canonical_type(bad)
    assert err.value.code == "unsupported_type" and "q5_1" in (err.value.hint or "")


def test_target_names_follow_the_store_convention(store: ModelStore, tmp_path: Path) -> None:
    model = store.get("small")
    assert model is not None
    assert target_name(model, "q5_1") == "small-q5_1"
    model.name = "tiny.en"
    assert target_name(model, "q4_0") == "tiny.en-q4_0"
    model.name = "tiny.en-f16"
    assert target_name(model, "q4_0") == "tiny.en-q4_0"
    model.name, model.ftype = "x-f32", "f32"
    assert target_name(model, "q8_0") == "x-q8_0"


def test_guest_request_shape() -> None:
    assert guest_request("ggml-tiny.en.bin", "q5_1") == {
        "command": "quantize",
        "quantize": {"input": "/in/ggml-tiny.en.bin", "output": "/out/model.bin", "type": "q5_1"},
    }


def test_checks_before_any_run(store: ModelStore, tmp_path: Path) -> None:
    def refused(*args: object, **kwargs: object) -> RMError:
        with pytest.raises(RMError) as err:
            quantize_model(*args, store=store, engine=NoEngine(), **kwargs)  # type: ignore[arg-type]
        return err.value

    assert refused("missing", "q8_0").code == "model_not_found"
    assert refused("small", "q9").code == "unsupported_type"
    assert refused("small", "q8_0", name="bad name").code == "invalid_param"
    assert refused("small", "q8_0", name="small").code == "invalid_param"
    build_ggml(store.root / "ggml-small-q8_0.bin", SMALL, seed=1)  # a file that owns the name
    err = refused("small", "q8_0")
    assert err.code == "name_taken" and "--force" in (err.hint or "")
    q8 = build_ggml(tmp_path / "q.bin", SMALL.__class__(**{**SMALL.to_json(), "ftype": 7}))
    store.import_model(q8, name="already")
    err = refused("already", "q4_0")
    assert err.code == "unsupported_model" and "q8_0" in err.message
    assert not any(p.name.startswith(".quantize") for p in store.root.iterdir())


def test_store_replace_overwrites_an_explicit_name(store: ModelStore, tmp_path: Path) -> None:
    first = store.import_model(build_ggml(tmp_path / "a.bin", SMALL, seed=5), name="x")
    tmp = tmp_path / "b.bin"
    build_ggml(tmp, SMALL, seed=6)
    info = read_model_info(tmp, sha256=True)
    with pytest.raises(RMError) as err:
        store._add(tmp, info, name="x", source="quantize", origin="small")
    assert err.value.code == "name_taken"
    build_ggml(tmp, SMALL, seed=6)
    model = store._add(tmp, info, name="x", source="quantize", origin="small", replace=True)
    assert model.name == "x" and model.sha256 == info.sha256 != first.sha256
    assert [m.name for m in store.list()].count("x") == 1
    assert store.get("x").sha256 == info.sha256  # type: ignore[union-attr]


def test_stale_quantize_directories_are_swept(tmp_path: Path) -> None:
    old_dir = tmp_path / ".quantize-abc.tmp"
    old_dir.mkdir()
    (old_dir / "model.bin").write_bytes(b"partial")
    fresh = tmp_path / ".quantize-new.tmp"
    fresh.mkdir()
    past = time.time() - 3 * 24 * 3600
    os.utime(old_dir, (past, past))
    remove_stale_temps(tmp_path)
    assert not old_dir.exists() and fresh.exists()


def test_preopens_are_read_only_unless_asked() -> None:
    assert Preopen(Path("/x"), "/in").writable is False
    assert Preopen(Path("/x"), "/out", writable=True).writable is True


def test_tiny_en_is_converted_on_first_use(tmp_path: Path) -> None:
    """On a fresh install only the default q8_0 exists; `quantize tiny.en` converts the bundled
    model to f16 first, as `transcribe -m tiny.en` would, and hands that file to the guest."""
    from rmstudio.core.runs import RunResult

    seen: dict = {}

    class RecordingEngine:
        def run_bytes(self, body, limits, preopens, on_event, control):
            seen["request"], seen["preopens"] = json.loads(body), preopens
            return RunResult(ok=False, engine="wasm", error=RMError("cancelled", "the run was cancelled"))

    store = ModelStore(tmp_path / "models")
    with pytest.raises(RMError) as err:
        quantize_model("tiny.en", "q5_1", store=store, engine=RecordingEngine())  # type: ignore[arg-type]
    assert err.value.code == "cancelled"
    model = store.get("tiny.en")
    assert model is not None and model.ftype == "f16"
    assert seen["request"]["quantize"] == {
        "input": "/in/ggml-tiny.en.bin",
        "output": "/out/model.bin",
        "type": "q5_1",
    }
    ins, out = seen["preopens"]
    assert (ins.host_path, ins.guest_path, ins.writable) == (store.root, "/in", False)
    assert out.guest_path == "/out" and out.writable and out.host_path.parent == store.root
    assert not out.host_path.exists()  # the run's directory is gone

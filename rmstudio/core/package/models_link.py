"""Packages and the Whisper model store (``rmstudio/core/models``).

Two places need the store: ``pack --model`` (find the file to bundle; the user typed the
name, so it is trusted) and running a package whose manifest names a model it does not
bundle (the fallback). The fallback never hands text from the manifest to the store's
path-accepting ``resolve``: only an exact *store name* match, or the user's default model,
can be chosen, so a manifest cannot make the host pick a file of its choosing.

The chosen fallback file is linked (or, across filesystems, copied once) into a directory of
its own under the cache, so the guest sees that one file and nothing else of the store.
"""

from __future__ import annotations

import contextlib
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from rmstudio.core.errors import RMError
from rmstudio.core.manifest import catalog
from rmstudio.core.models.mount import stage_model  # noqa: F401  (re-exported for run.py)

MODEL_PARAM = "model"
_STORE_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,63}")


@dataclass(frozen=True)
class ModelRef:
    """A node param that names a model: ``manifest["nodes"][index]["params"][key] == value``."""

    index: int
    node_id: str
    key: str
    value: str


def model_references(manifest: dict[str, Any]) -> list[ModelRef]:
    """Every string param the node catalog marks as a model (``model`` and its aliases)."""
    out: list[ModelRef] = []
    nodes = manifest.get("nodes")
    if not isinstance(nodes, list):
        return out
    for i, node in enumerate(nodes):
        if not isinstance(node, dict):
            continue
        type_name = node.get("node_type", node.get("nodeType"))
        spec = catalog.find_node(type_name) if isinstance(type_name, str) else None
        params = node.get("params")
        if spec is None or not isinstance(params, dict):
            continue
        for key, value in params.items():
            param = spec.param(key)
            if param is not None and param.name == MODEL_PARAM and isinstance(value, str) and value:
                out.append(ModelRef(i, str(node.get("id", i)), key, value))
    return out


def _store() -> Any | None:
    try:
        from rmstudio.core import models
    except ImportError:
        return None
    return models if hasattr(models, "resolve") and hasattr(models, "list_models") else None


def resolve_for_pack(spec: str) -> Path:
    """The ggml file for ``--model SPEC`` (a store name, "default", or a path the user gave)."""
    store = _store()
    if store is not None:
        return Path(store.resolve(spec))
    path = Path(spec).expanduser()
    if path.is_file():
        return path
    raise RMError(
        "model_not_found",
        f"no model file '{spec}', and the model store is not available to look the name up",
        hint="Pass the path to a ggml .bin file",
    )


def validate_model_file(path: Path) -> None:
    """Refuse a file that is not a whisper ggml model (when the model reader is installed)."""
    store = _store()
    if store is not None and hasattr(store, "read_model_info"):
        store.read_model_info(path)


def name_from_file(path: Path) -> str:
    """``ggml-tiny.en-q8_0.bin`` -> ``tiny.en-q8_0`` (the store's own naming)."""
    stem = path.name
    stem = stem[: -len(".bin")] if stem.endswith(".bin") else path.stem
    return stem[len("ggml-") :] if stem.startswith("ggml-") else stem


@dataclass(frozen=True)
class Fallback:
    requested: str
    name: str
    path: Path  # the file as staged for the guest (in a directory holding only it)
    exact: bool  # True: the user's store has a model of the requested name


def find_fallback(requested: str) -> tuple[str, Path, bool] | None:
    """The user's model to use instead of an unbundled one: same store name, else the default."""
    store = _store()
    if store is None:
        return None
    if _STORE_NAME.fullmatch(requested):
        with contextlib.suppress(RMError, OSError):
            for model in store.list_models():
                if model.name == requested:
                    return model.name, Path(model.path), True
    try:
        path = Path(store.resolve("default"))
    except (RMError, OSError):
        return None
    return name_from_file(path), path, False


def store_models_for(manifest: dict[str, Any]) -> tuple[list[str], list[str]]:
    """The model names the manifest uses, split into those the store can bundle and those it
    lacks; for "Build Package" in the GUI, which bundles what it can and says what it could not.

    A node that names no model uses the catalog's default (``default``); absolute guest paths
    are the package author's business and are left out.
    """
    names: set[str] = {r.value for r in model_references(manifest) if not r.value.startswith("/")}
    for node in manifest.get("nodes") or []:
        if not isinstance(node, dict):
            continue
        type_name = node.get("node_type", node.get("nodeType"))
        spec = catalog.find_node(type_name) if isinstance(type_name, str) else None
        model = spec.param(MODEL_PARAM) if spec is not None else None
        params = node.get("params") if isinstance(node.get("params"), dict) else {}
        if model is not None and not any(spec.param(k) is model for k in params):
            names.add(str(model.default))
    found, missing = [], []
    for name in sorted(names):
        try:
            available = resolve_for_pack(name).is_file()
        except RMError:
            available = False
        (found if available else missing).append(name)
    return found, missing

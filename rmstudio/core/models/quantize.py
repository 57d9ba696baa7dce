"""Make another weight format of a stored model, with ggml's own quantizer inside the sandbox.

Why the guest does it: ggml's quantizer is what whisper.cpp reads back, already compiled into
``rm_executor.wasm``, so every format RM Studio offers is exactly what whisper.cpp's own
``quantize`` tool writes (q8_0 also equals our numpy converter's output byte for byte; see
tests/integration/test_quantize.py) without a native ggml on the user's machine, and the model
file is handled by code that can touch nothing but the two directories it is given.

How a run goes (docs/CONTRACT.md, "Quantize"):

* the store directory (which holds only models) is preopened read-only at ``/in``, and a fresh
  hidden directory inside it, ``.quantize-*.tmp``, writable at ``/out`` — the guest can write
  nowhere else, and nothing is staged or copied;
* the guest writes ``/out/model.bin``; the host validates it with :mod:`.ggml_format` (every
  tensor where whisper.cpp's loader expects it, in the expected type) and renames it into the
  store under its name, so a failed, cancelled or killed run never leaves a model behind (a
  killed run's directory is swept later by :func:`.fsutil.remove_stale_temps`).

Names follow the store's convention: ``tiny.en`` (f16) becomes ``tiny.en-q5_1``. An existing
name is never overwritten unless ``force`` is given.
"""

from __future__ import annotations

import json
import shutil
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from rmstudio.core.errors import RMError
from rmstudio.core.runs import EventCallback, Limits, Preopen

if TYPE_CHECKING:  # wasmtime is imported only when a quantization runs
    from rmstudio.core.engine.host import RunControl, WasmEngine

from .ggml_format import read_model_info
from .store import ModelStore, StoredModel, _check_name

# What the guest's ggml_quantize_chunk makes for whisper weights, in ggml's spelling, most
# accurate first (the guest reports the same list as describe's features.quantize_types). The
# k-quants need rows of a multiple of 256 values: not tiny (384), fine from base (512) up.
QUANTIZE_TYPES = ("q8_0", "q5_1", "q5_0", "q4_1", "q4_0", "q6_K", "q5_K", "q4_K", "q3_K", "q2_K")
SOURCE_FORMATS = ("f16", "f32")
DEFAULT_F16_NAME = "tiny.en"  # the store's name for the bundled model's f16 conversion
GUEST_IN = "/in"
GUEST_OUT = "/out"
OUTPUT_NAME = "model.bin"

Progress = Callable[[int, int | None], None]


@dataclass
class QuantizeResult:
    """What :func:`quantize_model` made: the stored model and how it came about."""

    model: StoredModel
    source: StoredModel
    type: str
    replaced: bool = False  # an existing model of that name was overwritten (force)
    duplicate: bool = False  # the bytes equal an existing model's, which is returned instead
    seconds: float = 0.0
    guest: dict[str, Any] = field(default_factory=dict)  # the guest's summary (tensor counts, bytes)

    def to_json(self) -> dict[str, Any]:
        return {
            "model": self.model.to_json(),
            "source": self.source.name,
            "type": self.type,
            "replaced": self.replaced,
            "duplicate": self.duplicate,
            "seconds": round(self.seconds, 3),
            "guest": self.guest,
        }


def canonical_type(name: str) -> str:
    """``Q5_1`` -> ``q5_1``, ``q4_k`` -> ``q4_K``; an unknown name is ``unsupported_type``."""
    for t in QUANTIZE_TYPES:
        if t.lower() == name.strip().lower():
            return t
    raise RMError(
        "unsupported_type",
        f"cannot quantize to '{name}'",
        hint="Supported types: " + ", ".join(QUANTIZE_TYPES),
    )


def target_name(source: StoredModel, qtype: str) -> str:
    """``tiny.en`` -> ``tiny.en-q5_1``; a ``-f16``/``-f32`` suffix of the source is replaced."""
    base = source.name
    suffix = f"-{source.ftype}"
    if base.endswith(suffix) and len(base) > len(suffix):
        base = base[: -len(suffix)]
    return f"{base}-{qtype}"


def _source(store: ModelStore, name: str) -> StoredModel:
    models = store.list()
    model = next((m for m in models if m.name == name), None)
    if model is None and name == DEFAULT_F16_NAME:
        # the bundled tiny.en in f16, converted on first use as `transcribe -m tiny.en` does
        model = store.default_model(quant="f16")
    if model is None:
        names = ", ".join(m.name for m in models) or "none yet"
        raise RMError(
            "model_not_found",
            f"no model named '{name}' in the store",
            hint=f"Stored models: {names}. Import or convert the model first",
        )
    if model.ftype not in SOURCE_FORMATS:
        others = [m.name for m in models if m.label == model.label and m.ftype in SOURCE_FORMATS]
        if not others and model.embedded:
            others = [DEFAULT_F16_NAME]  # converted from the bundled model on first use
        hint = "Quantize from a model with f16 or f32 weights"
        if others:
            hint += f", e.g. {others[0]}"
        raise RMError(
            "unsupported_model",
            f"'{name}' already has {model.ftype} weights; only f16 and f32 models can be quantized "
            "(quantizing twice adds the errors of both)",
            hint=hint,
        )
    return model


def guest_request(input_name: str, qtype: str) -> dict[str, Any]:
    """The executor's quantize request for a store file seen at ``/in`` (docs/CONTRACT.md)."""
    return {
        "command": "quantize",
        "quantize": {
            "input": f"{GUEST_IN}/{input_name}",
            "output": f"{GUEST_OUT}/{OUTPUT_NAME}",
            "type": qtype,
        },
    }


def quantize_model(
    source: str,
    qtype: str,
    *,
    name: str | None = None,
    force: bool = False,
    store: ModelStore | None = None,
    progress: Progress | None = None,
    on_event: EventCallback | None = None,
    control: RunControl | None = None,
    engine: WasmEngine | None = None,
    limits: Limits | None = None,
) -> QuantizeResult:
    """Quantize the stored model ``source`` to ``qtype`` in the sandbox and store the result.

    ``progress(done, total)`` gets input bytes processed (one call per tensor); ``on_event``
    every guest event; ``control`` (a :class:`~rmstudio.core.engine.host.RunControl`) cancels.
    Raises :class:`RMError`: ``model_not_found``, ``unsupported_model`` (already quantized),
    ``unsupported_type``, ``incompatible_type`` (rows that do not fill the type's blocks),
    ``name_taken`` (without ``force``), ``invalid_param``, ``cancelled``, the guest's
    ``invalid_model`` / ``io_error``, or ``runtime_missing``.
    """
    qtype = canonical_type(qtype)
    store = store or ModelStore()
    if name is not None:
        _check_name(name)
    src = _source(store, source)
    target = _check_name(name or target_name(src, qtype))
    if target == src.name:
        raise RMError(
            "invalid_param",
            f"the quantized model cannot replace its source '{src.name}'",
            hint="Choose another --name",
        )
    exists = any(m.name == target for m in store.list()) or (store.root / f"ggml-{target}.bin").exists()
    if exists and not force:
        raise RMError(
            "name_taken",
            f"a model named '{target}' is already in the store",
            hint="Pass --force to replace it, or --name to choose another name",
        )

    if engine is None:
        from rmstudio.core.engine import default_engine  # imports wasmtime: only when running

        engine = default_engine()
    body = json.dumps(guest_request(src.path.name, qtype)).encode()
    started = time.perf_counter()

    def relay(event: dict[str, Any]) -> None:
        if on_event is not None:
            on_event(event)
        if progress is not None and event.get("event") == "progress" and event.get("unit") == "bytes":
            progress(int(event.get("done") or 0), int(event["total"]) if event.get("total") else None)

    store.root.mkdir(parents=True, exist_ok=True)
    out_dir = Path(tempfile.mkdtemp(prefix=".quantize-", suffix=".tmp", dir=store.root))
    try:
        result = engine.run_bytes(
            body,
            limits or Limits(),
            [Preopen(store.root, GUEST_IN), Preopen(out_dir, GUEST_OUT, writable=True)],
            relay,
            control,
        )
        if not result.ok:
            assert result.error is not None
            err = result.error
            if err.source in (None, "request"):
                err.source = src.name
            if err.path:  # a pointer into the guest request the user never saw
                err.details = {**err.details, "request_path": err.path}
                err.path = None
            raise err
        produced = out_dir / OUTPUT_NAME
        try:
            info = read_model_info(produced, sha256=True)
        except RMError as exc:
            raise RMError(
                "internal_error",
                f"the guest wrote a model that does not validate: {exc.message}",
                hint="This is a bug in the guest's quantizer; please report it",
                details=exc.details,
            ) from None
        if info.ftype_name != qtype or info.n_tensors != src.n_tensors:
            raise RMError(
                "internal_error",
                f"the guest wrote a {info.ftype_name} model with {info.n_tensors} tensors, "
                f"expected {qtype} with {src.n_tensors}",
            )
        same = next((m for m in store.list() if m.sha256 == info.sha256), None)
        model = store._add(produced, info, name=target, source="quantize", origin=src.name, replace=force)
    finally:
        shutil.rmtree(out_dir, ignore_errors=True)
    guest = (result.document or {}).get("quantize") or {}
    return QuantizeResult(
        model=model,
        source=src,
        type=qtype,
        replaced=exists and same is None,
        duplicate=same is not None,
        seconds=time.perf_counter() - started,
        guest=guest if isinstance(guest, dict) else {},
    )

"""What a run is: the request both executors accept and the result both return.

The WASM engine and the numpy reference executor take the same :class:`RunRequest` and
give the same :class:`RunResult`, so the CLI, the GUI and the differential tests can switch
between them with one argument.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from rmstudio.core.errors import RMError

NO_INPUT: Any = type("NoInput", (), {"__repr__": lambda self: "NO_INPUT"})()

DEFAULT_MEMORY_LIMIT = 2 << 30  # 2 GiB of guest linear memory
MAX_MEMORY = 4 << 30  # wasm32's address space: no memory cap goes above it
DEFAULT_MAX_REQUEST_BYTES = 1 << 30
# What the host keeps of a guest's stdout (its result document). An hour of 16 kHz float audio
# as base64 is ~300 MiB; a guest writing without end must not take the host's memory.
DEFAULT_MAX_RESULT_BYTES = 1 << 30


@dataclass
class Limits:
    """Per-run limits. ``None`` means unlimited (the memory cap never exceeds wasm32's 4 GiB)."""

    memory_bytes: int | None = DEFAULT_MEMORY_LIMIT
    timeout_s: float | None = None
    max_request_bytes: int = DEFAULT_MAX_REQUEST_BYTES
    max_result_bytes: int = DEFAULT_MAX_RESULT_BYTES


@dataclass(frozen=True)
class Preopen:
    """A host directory the guest may read, mounted at ``guest_path``.

    Read-only unless ``writable``: only a run that must produce a file (model quantization)
    gets a writable one, and then a fresh, empty directory made for that run alone.
    """

    host_path: Path
    guest_path: str
    writable: bool = False


@dataclass
class RunRequest:
    """A manifest, its input items, the executor options, the limits and the visible dirs."""

    manifest: dict[str, Any]
    input_data: Any = NO_INPUT
    options: dict[str, Any] = field(default_factory=dict)
    limits: Limits = field(default_factory=Limits)
    preopens: list[Preopen] = field(default_factory=list)

    def to_json(self) -> dict[str, Any]:
        doc: dict[str, Any] = {"manifest": self.manifest}
        if self.input_data is not NO_INPUT:
            doc["input_data"] = self.input_data
        if self.options:
            doc["options"] = self.options
        return doc

    def to_bytes(self) -> bytes:
        return json.dumps(self.to_json(), separators=(",", ":"), allow_nan=False).encode()


EventCallback = Callable[[dict[str, Any]], None]


@dataclass
class RunResult:
    """The outcome of one run, successful or not."""

    ok: bool
    engine: str
    outputs: list[Any] | None = None
    graph_info: dict[str, Any] = field(default_factory=dict)
    metrics: dict[str, Any] = field(default_factory=dict)
    warnings: list[dict[str, Any]] = field(default_factory=list)
    error: RMError | None = None
    # Host-side measurements: wall_ms, compile_ms, instantiate_ms, module_cache ("hit"/"miss").
    host: dict[str, Any] = field(default_factory=dict)
    # The guest's stdout document as written (e.g. the answer to {"command": "describe"}).
    document: dict[str, Any] | None = field(default=None, repr=False)

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {"ok": self.ok, "engine": self.engine}
        if self.ok:
            out["outputs"] = self.outputs
            out["graph_info"] = self.graph_info
            out["metrics"] = self.metrics
            out["warnings"] = self.warnings
        else:
            assert self.error is not None
            out["error"] = self.error.to_json()
        if self.host:
            out["host"] = self.host
        return out

    @classmethod
    def from_guest(cls, doc: dict[str, Any], engine: str) -> RunResult:
        """Decode the guest's stdout document (docs/CONTRACT.md, "Result")."""
        if doc.get("ok") is True:
            outputs = doc.get("outputs", [])
            return cls(
                ok=True,
                engine=engine,
                outputs=outputs if isinstance(outputs, list) else [outputs],
                graph_info=doc.get("graph_info") or {},
                metrics=doc.get("metrics") or {},
                warnings=doc.get("warnings") or [],
                document=doc,
            )
        err = doc.get("error") if isinstance(doc.get("error"), dict) else {}
        return cls(ok=False, engine=engine, error=RMError.from_json(err, source="request"), document=doc)


def timeout_error(timeout_s: float) -> RMError:
    """The error both executors give when a run outlives its time limit."""
    return RMError(
        "timeout",
        f"the run did not finish within the time limit of {timeout_s:g} s",
        hint="Raise the limit (--timeout, or Limits in the GUI) or use shorter input",
    )


def cancelled_error() -> RMError:
    """The error both executors give when the user cancels a run."""
    return RMError("cancelled", "the run was cancelled", hint="Nothing was written; run it again when ready")

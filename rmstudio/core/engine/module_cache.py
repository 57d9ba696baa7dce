"""Compiled-module cache: compile the guest once, then deserialize it in milliseconds.

Cranelift needs about a second for the guest; ``Module.deserialize_file`` needs a few ms.
Entries are keyed by the module's sha256, the wasmtime version and the engine settings
(a serialized module only loads into an identical configuration). Files are written to a
temporary name and renamed, and an entry that fails to load is recompiled and replaced.
"""

from __future__ import annotations

import hashlib
import importlib.metadata
import os
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

import wasmtime

from rmstudio.core.paths import cache_dir


@dataclass
class LoadedModule:
    module: wasmtime.Module
    sha256: str
    cache: str  # "hit", "miss" or "off"
    load_ms: float


WASMTIME_VERSION = importlib.metadata.version("wasmtime")


def cache_key(wasm_sha256: str, engine_fingerprint: str) -> str:
    h = hashlib.sha256(f"{wasm_sha256}|{WASMTIME_VERSION}|{engine_fingerprint}".encode())
    return h.hexdigest()[:32]


def module_cache_dir() -> Path:
    return cache_dir() / "modules"


def load_module(
    engine: wasmtime.Engine, wasm_path: Path, engine_fingerprint: str, use_cache: bool = True
) -> LoadedModule:
    t0 = time.perf_counter()
    wasm = wasm_path.read_bytes()
    digest = hashlib.sha256(wasm).hexdigest()
    if not use_cache:
        module = wasmtime.Module(engine, wasm)
        return LoadedModule(module, digest, "off", (time.perf_counter() - t0) * 1000)
    entry = module_cache_dir() / f"rm_executor-{cache_key(digest, engine_fingerprint)}.cwasm"
    if entry.exists():
        try:
            # Read into memory rather than deserialize_file's mmap: a cache file replaced or
            # truncated by another process can then never fault a running module.
            module = wasmtime.Module.deserialize(engine, entry.read_bytes())
            return LoadedModule(module, digest, "hit", (time.perf_counter() - t0) * 1000)
        except wasmtime.WasmtimeError:
            entry.unlink(missing_ok=True)  # stale or damaged: recompile below
    module = wasmtime.Module(engine, wasm)
    try:
        entry.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=".cwasm-", dir=entry.parent)
        with os.fdopen(fd, "wb") as f:
            f.write(module.serialize())
        os.replace(tmp, entry)
    except OSError:
        pass  # a read-only cache only costs speed
    return LoadedModule(module, digest, "miss", (time.perf_counter() - t0) * 1000)

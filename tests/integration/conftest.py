"""Fixtures for tests that run the real guest module under wasmtime."""

from __future__ import annotations

import pytest

from rmstudio.core.engine import WasmEngine, locate
from rmstudio.core.errors import RMError


@pytest.fixture(scope="session")
def sandbox() -> WasmEngine:
    """The real rm_executor.wasm in a wasmtime engine (built by the setup command)."""
    try:
        runtime = locate()
    except RMError as exc:  # not a skip: the setup command must have built it
        pytest.fail(exc.describe())
    return WasmEngine(runtime)

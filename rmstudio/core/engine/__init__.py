"""The wasmtime host that runs the guest executor (see docs/CONTRACT.md)."""

from rmstudio.core.engine.host import RunControl, WasmEngine, default_engine
from rmstudio.core.engine.runtime_locator import GuestRuntime, locate

__all__ = ["GuestRuntime", "RunControl", "WasmEngine", "default_engine", "locate"]

"""Run a request on the chosen executor: the WASM sandbox (default) or the numpy reference."""

from __future__ import annotations

from rmstudio.core.errors import RMError
from rmstudio.core.runs import EventCallback, RunRequest, RunResult

ENGINES = ("wasm", "native")


def execute(
    request: RunRequest,
    engine: str = "wasm",
    on_event: EventCallback | None = None,
    control: object | None = None,
    warm: bool = False,
) -> RunResult:
    """Execute ``request``; failures come back as a RunResult with ``ok=False``.

    ``warm`` lets the sandbox serve it from a long-lived guest that keeps a loaded model
    between requests (:mod:`rmstudio.core.engine.warm`); the reference executor ignores it.
    """
    if engine == "native":
        from rmstudio.core import native

        return native.run(request, on_event, control)
    if engine == "wasm":
        from rmstudio.core.engine import RunControl, default_engine

        try:
            sandbox = default_engine()
        except RMError as exc:
            return RunResult(ok=False, engine="wasm", error=exc)
        ctl = control if isinstance(control, RunControl) else None
        return sandbox.run(request, on_event, ctl, warm=warm)
    raise RMError("invalid_request", f"unknown engine {engine!r}; choose one of {', '.join(ENGINES)}")

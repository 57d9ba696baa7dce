"""``rmstudio run``: execute a pipeline in the WASM sandbox (default) or the reference executor."""

from __future__ import annotations

import argparse
import json
import sys
from typing import Any

from rmstudio.cli.argtypes import add_limit_arguments, limits_from
from rmstudio.cli.interrupt import CancelOnCtrlC
from rmstudio.cli.output import format_bytes, print_json, print_problem, summarize_value
from rmstudio.cli.progress import ProgressBar, progress_listener
from rmstudio.core.errors import RMError
from rmstudio.core.execute import ENGINES, execute
from rmstudio.core.manifest import load, validate
from rmstudio.core.manifest.document import ManifestDocument
from rmstudio.core.package.format import is_package_file
from rmstudio.core.prepare import prepare_run
from rmstudio.core.runs import RunResult


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("run", help="run a pipeline manifest (or run-request file)")
    p.add_argument(
        "file", metavar="MANIFEST", help="manifest JSON, a run request with input_data, or an .rmpkg package"
    )
    p.add_argument(
        "--input",
        "-i",
        metavar="DATA",
        help="input: an audio file, JSON ('[5, 7, 3]'), @file.json, or a .json path",
    )
    p.add_argument(
        "--engine",
        choices=ENGINES,
        default="wasm",
        help="wasm: the sandboxed guest (default); native: the numpy reference executor",
    )
    p.add_argument("--json", action="store_true", help="print the full result as JSON")
    p.add_argument("--events", action="store_true", help="stream the guest's events to stderr as they happen")
    add_limit_arguments(p, "stop the run after this many seconds", "cap on the guest's linear memory in MiB")
    p.add_argument(
        "--array-encoding",
        choices=("auto", "json", "base64"),
        default=None,
        help="how numeric arrays are written in the outputs",
    )
    p.set_defaults(func=run)


def _event_printer(as_json: bool):
    def show(event: dict[str, Any]) -> None:
        if as_json:
            sys.stderr.write(json.dumps(event, separators=(",", ":")) + "\n")
        else:
            kind = event.get("event")
            t = event.get("t_ms")
            stamp = f"[{t:9.2f} ms] " if isinstance(t, (int, float)) else ""
            rest = {k: v for k, v in event.items() if k not in ("event", "t_ms")}
            detail = " ".join(f"{k}={v}" for k, v in rest.items())
            sys.stderr.write(f"{stamp}{kind}: {detail}\n")
        sys.stderr.flush()

    return show


def _print_summary(result: RunResult, name: str) -> None:
    where = "the WASM sandbox" if result.engine == "wasm" else "the native reference executor"
    wall = result.host.get("wall_ms", result.metrics.get("total_ms"))
    print(f"{name}: ran in {where}" + (f" in {wall:.1f} ms" if isinstance(wall, (int, float)) else ""))
    outputs = result.outputs or []
    if all(not isinstance(o, (dict, list)) for o in outputs):
        print(f"outputs: {summarize_value(outputs)}")
    else:
        print(f"outputs ({len(outputs)} item{'s' if len(outputs) != 1 else ''}):")
        for n, out in enumerate(outputs):
            print(f"  [{n}] {summarize_value(out)}")
    nodes = result.metrics.get("nodes") or []
    if nodes:
        print("nodes: " + ", ".join(f"{m['node_id']} {m.get('duration_ms', 0):.2f} ms" for m in nodes))
    peak = result.metrics.get("peak_memory_bytes")
    if peak:
        print(f"peak guest memory: {format_bytes(peak)}")
    for w in result.warnings:
        print_problem(RMError.from_json(w), "warning")


def run(args: argparse.Namespace) -> int:
    try:
        return _run(args)
    except RMError as exc:
        if args.json:  # scripts reading --json get a document for every failure
            print_json({"ok": False, "engine": args.engine, "error": exc.to_json()})
        raise


def _locate(problem: RMError, doc: ManifestDocument) -> RMError:
    """A problem the executor reported against the request, told against the user's file."""
    if problem.source in (None, "request") and doc.source:
        problem.source = doc.source
        if problem.path and doc.pointer_prefix == "" and problem.path.startswith("/manifest"):
            problem.path = problem.path[len("/manifest") :] or ""
    return problem


def _run(args: argparse.Namespace) -> int:
    pkg = None
    if is_package_file(args.file):  # by magic bytes: verified, extracted, its own runtime and dirs
        from rmstudio.core.package.run import prepare_run as prepare_package

        pkg = prepare_package(args.file)
        for w in pkg.warnings:
            print_problem(w, "warning")
    doc = pkg.document if pkg is not None else load(args.file)
    report = validate(doc)
    if report.errors:
        if args.json:
            errors = [e.to_json() for e in report.errors]
            print_json({"ok": False, "engine": args.engine, "error": errors[0], "errors": errors})
        for e in report.errors:
            print_problem(e, "error")
        print(
            f"{args.file}: not run ({len(report.errors)} error(s)); fix the manifest and try again",
            file=sys.stderr,
        )
        return 1
    options = {"array_encoding": args.array_encoding} if args.array_encoding else {}
    limits = limits_from(args)
    with prepare_run(
        doc, input_value=args.input, engine=args.engine, limits=limits, options=options, mount=pkg is None
    ) as prepared:
        for note in prepared.notes:
            print(note, file=sys.stderr)
        on_event = _event_printer(args.json) if args.events else None
        bar = None
        if on_event is None and not args.json and prepared.audio_duration:
            bar = ProgressBar("processing", unit="s")
            on_event = progress_listener(bar, prepared.audio_duration)
        try:
            if args.engine == "wasm":
                with CancelOnCtrlC() as stop:
                    if pkg is not None:
                        result = pkg.run(prepared.request, on_event, stop.control)
                    else:
                        result = execute(prepared.request, args.engine, on_event, stop.control)
            else:  # the reference executor is Python: Ctrl-C interrupts it directly
                result = execute(prepared.request, args.engine, on_event)
        finally:
            if bar is not None:
                bar.close()
    if result.error is not None:
        _locate(result.error, doc)
    result.warnings = [_locate(RMError.from_json(w), doc).to_json() for w in result.warnings]
    if args.json:
        print_json(result.to_json())
    elif result.ok:
        _print_summary(result, doc.name)
    if not result.ok:
        assert result.error is not None
        if not args.json:
            print_problem(result.error, "error")
        return 1
    return 0

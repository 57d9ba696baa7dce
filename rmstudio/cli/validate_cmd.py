"""``rmstudio validate``: check manifests; exit status 0 only when every file is valid."""

from __future__ import annotations

import argparse
import sys

from rmstudio.cli.output import print_json, print_problem
from rmstudio.core.errors import RMError
from rmstudio.core.manifest import load, validate


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("validate", help="check manifests against the schema and the node catalog")
    p.add_argument("files", nargs="+", metavar="MANIFEST", help="manifest or run-request JSON files")
    p.add_argument("--json", action="store_true", help="print findings as JSON")
    p.add_argument("--strict", action="store_true", help="treat warnings as errors")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    results = []
    failed = False
    for path in args.files:
        try:
            report = validate(load(path))
            errors, warnings = report.errors, report.warnings
        except RMError as exc:
            errors, warnings = [exc], []
        bad = bool(errors) or (args.strict and bool(warnings))
        failed |= bad
        results.append(
            {
                "file": path,
                "valid": not bad,
                "errors": [e.to_json() for e in errors],
                "warnings": [w.to_json() for w in warnings],
            }
        )
        if not args.json:
            for e in errors:
                print_problem(e, "error")
            for w in warnings:
                print_problem(w, "warning")
            status = "invalid" if bad else "valid"
            counts = f"{len(errors)} error(s), {len(warnings)} warning(s)"
            print(f"{path}: {status} ({counts})", file=sys.stdout)
    if args.json:
        print_json(results if len(results) > 1 else results[0])
    return 1 if failed else 0

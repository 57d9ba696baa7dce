"""``rmstudio pack | inspect | verify | unpack``: build and examine .rmpkg packages (docs/RMPKG.md).

Exit status: 0 when the operation succeeded (for ``inspect`` and ``verify``: the package
verified), 1 when it failed or the package did not verify, 2 for a bad command line.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from rmstudio.cli.argtypes import positive
from rmstudio.cli.output import format_bytes, print_json, print_problem
from rmstudio.core.errors import RMError
from rmstudio.core.package.format import DEFAULT_LIMITS, EXTENSION, MiB, PackageLimits


def _add_max_size(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--max-size",
        type=positive(),
        metavar="MIB",
        help=f"refuse packages holding more than this many MiB in total "
        f"(default {DEFAULT_LIMITS.max_total_bytes // MiB})",
    )


def _limits(args: argparse.Namespace) -> PackageLimits:
    if getattr(args, "max_size", None) is None:
        return DEFAULT_LIMITS
    if args.max_size <= 0:
        raise RMError("invalid_param", "--max-size must be a positive number of MiB")
    return PackageLimits.with_total(int(args.max_size * MiB))


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "pack",
        help="build an .rmpkg package from a manifest",
        description="Pack a manifest, the sandboxed runtime and optional models/deps into one .rmpkg file. "
        "The same inputs always give the same bytes.",
    )
    p.add_argument(
        "manifest", metavar="MANIFEST", help="manifest JSON (or a run request: its manifest is packed)"
    )
    p.add_argument(
        "-o", "--output", metavar="OUT.rmpkg", help="package to write (default: MANIFEST's name.rmpkg)"
    )
    p.add_argument(
        "--model",
        action="append",
        default=[],
        metavar="NAME|PATH|NAME=PATH",
        help="bundle a Whisper model: a model-store name, a ggml file, or both (repeatable)",
    )
    p.add_argument("--deps", metavar="DIR", help="bundle the files under DIR as deps/ (read-only at /deps)")
    p.add_argument("--name", help="package name (default: the manifest's metadata.name)")
    p.add_argument("--version", dest="pkg_version", metavar="VERSION", help="package version (default 1.0.0)")
    p.add_argument("--description", help="one-line description (default: the manifest's)")
    p.add_argument("--author", help="who built the package (recorded as given)")
    p.add_argument("--license", help="licence of the package (none is assumed)")
    p.add_argument(
        "--created",
        metavar="ISO8601",
        help="creation time to record (default: $SOURCE_DATE_EPOCH, else now); "
        "fix it for reproducible builds",
    )
    p.add_argument(
        "--runtime", metavar="PATH", help="runtime module to pack (default: the installed rm_executor.wasm)"
    )
    p.add_argument("--force", action="store_true", help="replace OUT if it exists")
    p.add_argument("--json", action="store_true", help="print the result as JSON")
    p.set_defaults(func=pack)

    p = sub.add_parser(
        "inspect",
        help="show what a package contains and may do, and whether it verifies",
        description="Show who built a package, when, what it holds (sizes, hashes), its runtime, what it "
        "will be allowed to read, and the verification result. Exit 0 only if it verifies.",
    )
    p.add_argument("package", metavar="PKG")
    p.add_argument("--json", action="store_true", help="print everything as one JSON document")
    _add_max_size(p)
    p.set_defaults(func=inspect)

    p = sub.add_parser(
        "verify",
        help="check a package's structure and every hash (exit 0 only if all is well)",
    )
    p.add_argument("package", metavar="PKG")
    p.add_argument("--json", action="store_true", help="print the findings as JSON")
    _add_max_size(p)
    p.set_defaults(func=verify)

    p = sub.add_parser("unpack", help="verify a package while extracting it into a new or empty directory")
    p.add_argument("package", metavar="PKG")
    p.add_argument("directory", metavar="DIR")
    _add_max_size(p)
    p.set_defaults(func=unpack)


def pack(args: argparse.Namespace) -> int:
    from rmstudio.core.package.build import BuildOptions, build_package

    out = Path(args.output) if args.output else Path(Path(args.manifest).stem + EXTENSION)
    options = BuildOptions(
        name=args.name,
        version=args.pkg_version,
        description=args.description,
        author=args.author,
        license=args.license,
        created=args.created,
        runtime=args.runtime,
        models=list(args.model),
        deps=args.deps,
        force=args.force,
    )
    result = build_package(args.manifest, out, options)
    for w in result.warnings:
        print_problem(w, "warning")
    if args.json:
        print_json(result.to_json())
        return 0
    n = len(result.members) + 1
    print(f"wrote {result.path} ({format_bytes(result.size)}, {n} members)")
    print(f"  package id  sha256 {result.sha256}")
    for m in result.members:
        print(f"  {m['name']:<24} {format_bytes(m['size']):>10}  {m['sha256']}")
    return 0


def _refused(path: str, err: RMError) -> dict:
    return {
        "file": path,
        "verification": {"ok": False, "status": "refused", "errors": [err.to_json()], "warnings": []},
    }


def inspect(args: argparse.Namespace) -> int:
    from rmstudio.core.package.inspect import render, summarize
    from rmstudio.core.package.verify import verify_package

    try:
        report = verify_package(args.package, _limits(args))
    except RMError as exc:
        if not args.json:
            raise
        print_json(_refused(args.package, exc))
        return 1
    summary = summarize(report)
    if args.json:
        print_json(summary)
    else:
        sys.stdout.write(render(summary))
    return 0 if summary["verification"]["status"] == "verified" else 1


def verify(args: argparse.Namespace) -> int:
    from rmstudio.core.package.inspect import summarize
    from rmstudio.core.package.verify import verify_package

    try:
        report = verify_package(args.package, _limits(args))
    except RMError as exc:
        if not args.json:
            raise
        print_json(_refused(args.package, exc))
        return 1
    summary = summarize(report)
    verified = summary["verification"]["status"] == "verified"
    if args.json:
        print_json({"file": args.package, "sha256": report.package_sha256, **summary["verification"]})
        return 0 if verified else 1
    for e in report.errors:
        print_problem(e, "error")
    for w in report.warnings:
        print_problem(w, "warning")
    if verified:
        hashed = [m for m in report.members if m.status == "ok" and m.name != "metadata.json"]
        print(
            f"{args.package}: verified ({len(hashed)} member hashes match, structure safe; "
            f"package id sha256 {report.package_sha256})"
        )
        return 0
    n = len(report.errors)
    print(f"{args.package}: NOT verified ({n} problem{'s' if n != 1 else ''})", file=sys.stderr)
    return 1


def unpack(args: argparse.Namespace) -> int:
    from rmstudio.core.package.extract import extract_package

    report = extract_package(args.package, args.directory, _limits(args), allow_legacy=True)
    for w in report.warnings:
        print_problem(w, "warning")
    files = [m for m in report.members if m.status != "directory"]
    total = sum(m.size for m in files)
    print(f"unpacked {len(files)} files ({format_bytes(total)}) to {args.directory}")
    return 0

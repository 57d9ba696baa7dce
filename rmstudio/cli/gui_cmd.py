"""``rmstudio gui``: open the desktop window, or render it to a PNG for docs and CI."""

from __future__ import annotations

import argparse
import sys

from rmstudio.cli.argtypes import positive
from rmstudio.core.execute import ENGINES


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "gui",
        help="open the RM Studio window (the default when no command is given)",
        description=(
            "Open the RM Studio window with FILES (what the desktop menu entry and file "
            "associations run), or render it to a PNG with --screenshot."
        ),
    )
    p.add_argument(
        "files",
        nargs="*",
        metavar="FILE",
        help="files to open: manifests, run requests, audio files, .rmpkg packages",
    )
    p.add_argument(
        "--screenshot",
        metavar="OUT.png",
        help="render the window at 1400x900 into OUT.png and exit (no display needed)",
    )
    p.add_argument(
        "--run", action="store_true", help="with --screenshot: run the pipeline first, to completion"
    )
    p.add_argument(
        "--input", "-i", metavar="DATA", help="input items for the run (JSON, @file.json or a path)"
    )
    p.add_argument(
        "--engine", choices=ENGINES, help="executor for --run (default: the saved choice, else wasm)"
    )
    p.add_argument(
        "--timeout",
        type=positive(),
        default=600.0,
        metavar="SECONDS",
        help="give up on --run after this long",
    )
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    if args.screenshot is None:
        if args.run or args.input or args.engine:
            print("error: --run, --input and --engine go with --screenshot", file=sys.stderr)
            return 2
        from rmstudio.gui.app import run_gui

        return run_gui(args.files)
    from rmstudio.gui.app import take_screenshot, use_offscreen_if_headless

    use_offscreen_if_headless()
    result = take_screenshot(
        args.screenshot,
        args.files,
        run=args.run,
        input_text=args.input,
        engine=args.engine,
        timeout_s=args.timeout,
    )
    print(f"wrote {result.path} ({result.width}x{result.height})")
    if result.run_ok is False:
        print(f"error: {result.message}", file=sys.stderr)
        return 1
    return 0

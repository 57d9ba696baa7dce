"""``rmstudio``: the command-line front end. Every GUI operation is also a command here.

Each command group lives in its own module with a ``register(subparsers)`` function that adds
its parser and sets ``func``; ``main`` only dispatches and turns :class:`RMError` into one
readable paragraph and a non-zero exit status (``--debug`` shows the traceback instead).
"""

from __future__ import annotations

import argparse
import importlib
import sys
from collections.abc import Sequence

from rmstudio import __version__
from rmstudio.core.errors import RMError

# Modules that contribute subcommands, in the order they appear in --help.
COMMAND_MODULES = (
    "rmstudio.cli.run_cmd",
    "rmstudio.cli.validate_cmd",
    "rmstudio.cli.nodes_cmd",
    "rmstudio.cli.transcribe_cmd",
    "rmstudio.cli.models_cmd",
    "rmstudio.cli.package_cmd",
    "rmstudio.cli.bench_cmd",
    "rmstudio.cli.gui_cmd",
)

EXIT_OK = 0
EXIT_FAILURE = 1  # the operation ran and failed (invalid manifest, failing pipeline, ...)
EXIT_USAGE = 2  # argparse's own code for bad command lines


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="rmstudio",
        description="RM Studio: build, inspect and run RemoteMedia pipelines in a WebAssembly sandbox.",
    )
    parser.add_argument("--version", action="version", version=f"rmstudio {__version__}")
    parser.add_argument("--debug", action="store_true", help="show Python tracebacks on errors")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name in COMMAND_MODULES:
        try:
            module = importlib.import_module(name)
        except ModuleNotFoundError as exc:
            if exc.name == name:  # a command group not built yet
                continue
            raise
        module.register(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if not getattr(args, "func", None):
        if args.command is None and "rmstudio.cli.gui_cmd" in COMMAND_MODULES:
            args = parser.parse_args(["gui", *(argv or [])])
        else:
            parser.print_help()
            return EXIT_USAGE
    from rmstudio.cli.interrupt import Terminated, TerminateLikeCtrlC

    try:
        if args.command == "gui":  # Qt's event loop has its own signal handling
            return int(args.func(args) or 0)
        with TerminateLikeCtrlC():
            return int(args.func(args) or 0)
    except RMError as exc:
        if args.debug:
            raise
        print(f"error: {exc.describe()}", file=sys.stderr)
        return EXIT_FAILURE
    except Terminated:
        print("terminated", file=sys.stderr)
        return 143
    except KeyboardInterrupt:
        print("cancelled", file=sys.stderr)
        return 130
    except BrokenPipeError:
        # The reader went away (`rmstudio ... | head`): stop quietly, as shell tools do.
        import os

        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        return EXIT_FAILURE
    except Exception as exc:  # the last line of defence: still one readable paragraph
        if args.debug:
            raise
        print(
            f"error: unexpected {type(exc).__name__}: {exc}. This is a bug in RM Studio; "
            "run again with --debug and report the traceback.",
            file=sys.stderr,
        )
        return EXIT_FAILURE

"""Entry point of the frozen RM Studio build: the same ``rmstudio`` command a pip install gives.

One addition for file managers: ``rmstudio FILE...`` (what macOS's Finder and a Windows file
association pass) means ``rmstudio gui FILE...``.
"""

import sys
from pathlib import Path

from rmstudio.cli import build_parser, main


def _arguments(argv: list[str]) -> list[str]:
    if argv and not argv[0].startswith("-") and Path(argv[0]).exists():
        commands = {name for action in build_parser()._subparsers._group_actions for name in action.choices}
        if argv[0] not in commands:
            return ["gui", *argv]
    return argv


if __name__ == "__main__":
    sys.exit(main(_arguments(sys.argv[1:])))

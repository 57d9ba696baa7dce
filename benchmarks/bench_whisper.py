"""The Whisper benchmark is the command ``rmstudio bench whisper`` now (rmstudio/core/bench).

This script stays so that older notes and shell histories keep working; it passes its
arguments on unchanged:

    .venv/bin/python benchmarks/bench_whisper.py --minutes 1 --formats q8_0 f16
    # is the same as
    .venv/bin/rmstudio bench whisper --minutes 1 --formats q8_0 f16

One difference from the script it replaces: FILES given on the command line are measured
instead of the default clips (jfk.wav and the repeated-jfk clip), not in addition to them.
"""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from rmstudio.cli import main

if __name__ == "__main__":
    raise SystemExit(main(["bench", "whisper", *sys.argv[1:]]))

"""Entry point of the frozen RM Studio build: the same ``rmstudio`` command a pip install gives."""

import sys

from rmstudio.cli import main

if __name__ == "__main__":
    sys.exit(main())

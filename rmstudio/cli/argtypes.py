"""argparse value types that reject what would otherwise fail later (or mean "no limit").

``float("nan")`` and ``float("inf")`` parse, and a zero or negative limit used to mean no
limit at all or crash deep inside a command; these types refuse them on the command line
(exit 2, with argparse's usage message).
"""

from __future__ import annotations

import argparse
import math
from collections.abc import Callable

from rmstudio.core.runs import MAX_MEMORY, Limits

MAX_MEMORY_MIB = MAX_MEMORY / 2**20  # for --memory-limit


def count(minimum: int, maximum: int | None = None) -> Callable[[str], int]:
    """A whole number in ``[minimum, maximum]``."""

    def parse(text: str) -> int:
        try:
            value = int(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"not a whole number: {text!r}") from None
        if value < minimum:
            raise argparse.ArgumentTypeError(f"must be at least {minimum}, not {value}")
        if maximum is not None and value > maximum:
            raise argparse.ArgumentTypeError(f"must be at most {maximum}, not {value}")
        return value

    return parse


def positive(maximum: float | None = None) -> Callable[[str], float]:
    """A finite number above 0 (and at most ``maximum``)."""

    def parse(text: str) -> float:
        try:
            value = float(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"not a number: {text!r}") from None
        if not math.isfinite(value) or value <= 0:
            raise argparse.ArgumentTypeError(f"must be a number above 0, not {text!r}")
        if maximum is not None and value > maximum:
            raise argparse.ArgumentTypeError(f"must be at most {maximum:g}, not {value:g}")
        return value

    return parse


def add_limit_arguments(p: argparse.ArgumentParser, timeout_help: str, memory_help: str) -> None:
    """--timeout and --memory-limit, as every command that runs guests takes them."""
    p.add_argument("--timeout", type=positive(), metavar="SECONDS", help=timeout_help)
    p.add_argument(
        "--memory-limit",
        type=positive(MAX_MEMORY_MIB),
        metavar="MIB",
        default=Limits().memory_bytes / 2**20,
        help=memory_help + " (default %(default).0f)",
    )


def limits_from(args: argparse.Namespace) -> Limits:
    """The Limits that add_limit_arguments' options ask for."""
    return Limits(memory_bytes=int(args.memory_limit * 2**20), timeout_s=args.timeout)

"""The command-line reference page (docs/CLI.md), generated from the argparse parser.

    python -m rmstudio.cli.reference > docs/CLI.md

The parser in :func:`rmstudio.cli.build_parser` is the one source of truth: every command,
argument, choice, default and help text on the page comes from it, and a test fails when the
committed page differs from what this prints. The formatting is done here rather than with
argparse's own help output, whose layout changes between Python versions.
"""

from __future__ import annotations

import argparse
import sys

from rmstudio.cli import build_parser


def _metavar(action: argparse.Action) -> str:
    if action.nargs == 0:
        return ""
    if action.metavar is not None:
        name = action.metavar if isinstance(action.metavar, str) else " ".join(action.metavar)
    elif action.choices is not None:
        name = "{" + ",".join(map(str, action.choices)) + "}"
    else:
        name = action.dest.upper() if action.option_strings else action.dest
    if action.nargs == "?":
        return f"[{name}]"
    if action.nargs == "*":
        return f"[{name} ...]"
    if action.nargs == "+":
        return f"{name} [{name} ...]"
    if isinstance(action.nargs, int) and action.nargs > 1:
        return " ".join([name] * action.nargs)
    return name


def _help(action: argparse.Action) -> str:
    text = action.help or ""
    if "%(" in text:
        values = dict(vars(action), prog="rmstudio")
        if isinstance(action.choices, list | tuple):
            values["choices"] = ", ".join(map(str, action.choices))
        text = text % values
    if action.choices is not None and action.option_strings and action.metavar is not None:
        text += " (one of: " + ", ".join(f"`{c}`" for c in action.choices) + ")"
    return text.replace("|", "\\|")


def _default(action: argparse.Action) -> str:
    default = action.default
    if action.nargs == 0 or default in (None, "", []) or default is argparse.SUPPRESS:
        return ""
    if isinstance(default, float) and default.is_integer():
        default = int(default)
    return f"`{default}`"


def _arguments(parser: argparse.ArgumentParser) -> tuple[list[argparse.Action], list[argparse.Action]]:
    positionals, options = [], []
    for action in parser._actions:
        if isinstance(action, argparse._HelpAction | argparse._SubParsersAction):
            continue
        (options if action.option_strings else positionals).append(action)
    return positionals, options


def _subcommands(parser: argparse.ArgumentParser) -> list[tuple[str, str, argparse.ArgumentParser]]:
    """(name, one-line help, parser) for each subcommand, in the order they were added."""
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            helps = {a.dest: a.help or "" for a in action._choices_actions}
            return [(name, helps.get(name, ""), sub) for name, sub in action.choices.items()]
    return []


def _section(lines: list[str], prog: str, summary: str, parser: argparse.ArgumentParser, depth: int) -> None:
    positionals, options = _arguments(parser)
    subs = _subcommands(parser)
    lines += ["#" * depth + f" `{prog}`", ""]
    description = parser.description or summary
    if description:
        lines += [description, ""]
    synopsis = [prog]
    if options:
        synopsis.append("[OPTIONS]")
    synopsis += [_metavar(a) for a in positionals]
    if subs:
        synopsis.append("{" + ",".join(name for name, _, _ in subs) + "} ...")
    lines += ["```", " ".join(synopsis), "```", ""]
    if positionals or options:
        lines += ["| argument | default | meaning |", "|---|---|---|"]
        for action in positionals + options:
            invocation = ", ".join(action.option_strings) or _metavar(action)
            if action.option_strings and _metavar(action):
                invocation += " " + _metavar(action)
            invocation = invocation.replace("|", "\\|")  # a table cell, even inside code
            lines.append(f"| `{invocation}` | {_default(action)} | {_help(action)} |")
        lines.append("")
    if subs:
        lines += ["| command | what it does |", "|---|---|"]
        for name, text, _ in subs:
            lines.append(f"| `{prog} {name}` | {text} |")
        lines.append("")
    for name, text, sub in subs:
        _section(lines, f"{prog} {name}", text, sub, min(depth + 1, 4))


def markdown() -> str:
    """The whole page, ending in one newline."""
    lines = [
        "# Command-line reference",
        "",
        "Generated from the argparse parser (`rmstudio/cli`) by "
        "`python -m rmstudio.cli.reference > docs/CLI.md`; do not edit by hand. "
        "`rmstudio COMMAND --help` prints the same information in the terminal.",
        "",
        "Exit status: 0 when the operation succeeded, 1 when it ran and failed (an invalid "
        "manifest, a failing pipeline, a damaged package), 2 for a command line argparse rejects, "
        "130 when interrupted (Ctrl-C), 143 when terminated (SIGTERM); both clean up first. "
        "Errors are one paragraph on stderr; `--debug` shows the traceback.",
        "",
    ]
    _section(lines, "rmstudio", "", build_parser(), 2)
    return "\n".join(lines).rstrip("\n") + "\n"


if __name__ == "__main__":
    sys.stdout.write(markdown())

"""``rmstudio nodes``: the node catalog, for people (table), scripts (--json) and docs (--markdown)."""

from __future__ import annotations

import argparse
import json

from rmstudio.cli.output import print_json
from rmstudio.core.manifest import catalog


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("nodes", help="list the node types RM Studio runs, with their params")
    fmt = p.add_mutually_exclusive_group()
    fmt.add_argument("--json", action="store_true", help="machine-readable catalog")
    fmt.add_argument("--markdown", action="store_true", help="the node reference page (docs/NODES.md)")
    p.add_argument("node_type", nargs="?", help="show one node type only")
    p.set_defaults(func=run)


def _param_line(param: catalog.Param) -> str:
    bits = [param.type]
    if param.choices:
        bits = ["|".join(param.choices)]
    if param.required:
        bits.append("required")
    elif param.has_default:
        bits.append(f"default {json.dumps(param.default)}")
    if param.minimum is not None or param.maximum is not None:
        lo = "" if param.minimum is None else f"{param.minimum:g}"
        hi = "" if param.maximum is None else f"{param.maximum:g}"
        bits.append(f"range {lo}..{hi}")
    alias = f" (also: {', '.join(param.aliases)})" if param.aliases else ""
    return f"    {param.name}{alias}: {', '.join(bits)} — {param.description}"


def markdown(nodes: tuple[catalog.NodeType, ...] | None = None) -> str:
    """The node reference page, generated from the catalog (or the sections of ``nodes``)."""
    lines = (
        [
            "# Node reference",
            "",
            "Generated from the node catalog (`rmstudio/core/manifest/catalog.py`) by "
            "`rmstudio nodes --markdown`; do not edit by hand.",
            "",
            "Data kinds: " + "; ".join(f"`{k}` = {v}" for k, v in catalog.DATA_KINDS.items()) + ".",
            "",
        ]
        if nodes is None
        else []
    )
    for node in catalog.all_nodes() if nodes is None else nodes:
        lines += [f"## {node.name}", "", node.description, ""]
        if node.aliases:
            lines += ["Also accepted as: " + ", ".join(f"`{a}`" for a in node.aliases) + ".", ""]
        output = "same as input" if node.output == "same" else f"`{node.output}`"
        lines += [
            f"Input: `{node.input}` · Output: {output}"
            + (" · streaming (sees all items at once)" if node.streaming else ""),
            "",
        ]
        if node.params:
            lines += ["| param | type | default | range / choices | description |", "|---|---|---|---|---|"]
            for prm in node.params:
                default = (
                    "**required**"
                    if prm.required
                    else (f"`{json.dumps(prm.default)}`" if prm.has_default else "—")
                )
                rng = (
                    ", ".join(f"`{c}`" for c in prm.choices)
                    if prm.choices
                    else (
                        f"{'' if prm.minimum is None else f'{prm.minimum:g}'} … "
                        f"{'' if prm.maximum is None else f'{prm.maximum:g}'}"
                        if prm.minimum is not None or prm.maximum is not None
                        else ""
                    )
                )
                name = f"`{prm.name}`" + (
                    " (also " + ", ".join(f"`{a}`" for a in prm.aliases) + ")" if prm.aliases else ""
                )
                lines.append(f"| {name} | {prm.type} | {default} | {rng} | {prm.description} |")
            lines.append("")
        else:
            lines += ["No params.", ""]
        if node.notes:
            lines += [f"Note: {node.notes}", ""]
    return "\n".join(lines)


def run(args: argparse.Namespace) -> int:
    nodes = catalog.all_nodes()
    if args.node_type is not None:
        found = catalog.find_node(args.node_type)
        if found is None:
            from rmstudio.core.errors import RMError

            raise RMError(
                "unknown_node_type",
                f"unknown node type '{args.node_type}'",
                hint="Run `rmstudio nodes` for the list",
            )
        nodes = (found,)
    if args.json:
        data = catalog.catalog_as_json()
        data["nodes"] = [n.to_json() for n in nodes]
        print_json(data)
        return 0
    if args.markdown:
        print(markdown(None if args.node_type is None else nodes), end="")
        return 0
    for node in nodes:
        alias = f"  (also {', '.join(node.aliases)})" if node.aliases else ""
        out = "same as input" if node.output == "same" else node.output
        print(f"{node.name}{alias}\n  {node.description}\n  input: {node.input} -> output: {out}")
        for prm in node.params:
            print(_param_line(prm))
        if node.notes:
            print(f"  note: {node.notes}")
        print()
    return 0

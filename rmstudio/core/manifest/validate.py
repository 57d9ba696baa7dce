"""Manifest validation: structure (the JSON Schema), then meaning (the node catalog, the graph).

Every finding is an :class:`RMError` with a JSON pointer (and a line number when the
document's text is known). Errors come in the same order as the guest reports its first
error (docs/CONTRACT.md): structure, ids, node types, params, connections, cycles, kinds.
Warnings never stop a run.
"""

from __future__ import annotations

import difflib
import json
import math
from dataclasses import dataclass, field
from functools import cache
from importlib import resources
from typing import Any

import jsonschema

from rmstudio.core.errors import RMError
from rmstudio.core.manifest import catalog
from rmstudio.core.manifest.document import ManifestDocument
from rmstudio.core.manifest.graph import Graph
from rmstudio.core.manifest.positions import line_of, pointer, value_offsets

ID_RULE = "letters, digits, '_' and '-'"


@dataclass
class ValidationReport:
    """What validation found. ``ok`` means no errors (warnings allowed)."""

    errors: list[RMError] = field(default_factory=list)
    warnings: list[RMError] = field(default_factory=list)
    graph: Graph | None = None

    @property
    def ok(self) -> bool:
        return not self.errors

    def raise_first(self) -> None:
        if self.errors:
            raise self.errors[0]


@cache
def schema() -> dict[str, Any]:
    """The manifest v1 JSON Schema shipped in this package."""
    text = resources.files("rmstudio.core.manifest").joinpath("manifest.v1.schema.json").read_text()
    return json.loads(text)


def _schema_message(err: jsonschema.ValidationError) -> str:
    where = list(err.absolute_path)
    if err.validator == "required":
        missing = err.message.split("'")[1] if "'" in err.message else "a field"
        what = (
            "node" if where[:1] == ["nodes"] else "connection" if where[:1] == ["connections"] else "manifest"
        )
        return f"{what} is missing required field '{missing}'"
    if err.validator == "anyOf" and where[:1] == ["nodes"]:
        return "node is missing required field 'node_type'"
    if err.validator == "pattern" and where[-1:] == ["id"]:
        return f"node id {err.instance!r} may only contain {ID_RULE}"
    if err.validator == "pattern" and where[-1:] == ["host"]:
        return f"host {err.instance!r} must look like 'name:port'"
    if err.validator == "enum" and where == ["version"]:
        return f'unsupported manifest version {err.instance!r}; RM Studio reads version "v1"'
    if err.validator == "minItems" and where == ["nodes"]:
        return "manifest must contain at least one node"
    if err.validator == "type":
        expected = err.validator_value
        return f"expected {expected}, got {_json_type(err.instance)}"
    return err.message


def _json_type(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, (int, float)):
        return "number"
    if isinstance(value, str):
        return "string"
    if isinstance(value, list):
        return "array"
    return "object"


def _check_param(node_id: str, spec: catalog.Param, value: Any, path: str) -> RMError | None:
    def bad(message: str) -> RMError:
        return RMError("invalid_param", message, path=path, node_id=node_id)

    if value is None:
        return None if spec.nullable else bad(f"param '{spec.name}' must not be null")
    if spec.type in ("number", "integer"):
        if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
            return bad(f"param '{spec.name}' must be a number, got {_json_type(value)}")
        if spec.type == "integer" and float(value) != math.floor(value):
            return bad(f"param '{spec.name}' must be a whole number, got {value}")
        if spec.minimum is not None and value < spec.minimum:
            return bad(f"param '{spec.name}' is {value}, below the minimum {spec.minimum:g}")
        if spec.maximum is not None and value > spec.maximum:
            return bad(f"param '{spec.name}' is {value}, above the maximum {spec.maximum:g}")
    elif spec.type == "string":
        if not isinstance(value, str):
            return bad(f"param '{spec.name}' must be a string, got {_json_type(value)}")
    elif spec.type == "boolean":
        if not isinstance(value, bool):
            return bad(f"param '{spec.name}' must be true or false, got {_json_type(value)}")
    elif spec.type == "enum" and value not in spec.choices:
        return bad(
            f"param '{spec.name}' is {json.dumps(value)}; choose one of "
            + ", ".join(json.dumps(c) for c in spec.choices)
        )
    return None


def effective_params(node_type: catalog.NodeType, params: dict[str, Any]) -> dict[str, Any]:
    """Canonical params with defaults filled in and aliases resolved (canonical name wins)."""
    out: dict[str, Any] = {}
    for spec in node_type.params:
        if spec.name in params:
            out[spec.name] = params[spec.name]
            continue
        for alias in spec.aliases:
            if alias in params:
                out[spec.name] = params[alias]
                break
        else:
            if spec.has_default:
                out[spec.name] = spec.default
    return out


def _validate_params(
    node_id: str, node_type: catalog.NodeType, params: dict[str, Any], base: str, report: ValidationReport
) -> None:
    known: set[str] = set()
    for spec in node_type.params:
        known.add(spec.name)
        known.update(spec.aliases)
        present = [n for n in (spec.name, *spec.aliases) if n in params]
        if not present:
            if spec.required:
                report.errors.append(
                    RMError(
                        "missing_param",
                        f"{node_type.name} needs param '{spec.name}' ({spec.description.rstrip('.')})",
                        path=base,
                        node_id=node_id,
                        hint=f'Add "{spec.name}" to the node\'s params',
                    )
                )
            continue
        used = present[0]
        if spec.name in present and len(present) > 1:
            report.warnings.append(
                RMError(
                    "both_aliases",
                    f"both '{spec.name}' and '{present[1]}' are given; '{spec.name}' is used",
                    path=f"{base}/{present[1]}",
                    node_id=node_id,
                )
            )
        elif used != spec.name:
            report.warnings.append(
                RMError(
                    "param_alias",
                    f"'{used}' is read as '{spec.name}'",
                    path=f"{base}/{used}",
                    node_id=node_id,
                )
            )
        problem = _check_param(node_id, spec, params[used], f"{base}/{used}")
        if problem:
            report.errors.append(problem)
    for name in params:
        if name not in known:
            names = [p.name for p in node_type.params]
            close = difflib.get_close_matches(name, names, n=1)
            report.warnings.append(
                RMError(
                    "unknown_param",
                    f"{node_type.name} has no param '{name}'; it is kept but ignored",
                    path=f"{base}/{name}",
                    node_id=node_id,
                    hint=f"Did you mean '{close[0]}'?" if close else None,
                )
            )


def validate_data(data: Any, prefix: str = "") -> ValidationReport:
    """Validate a manifest given as a parsed JSON value. Paths are prefixed with ``prefix``."""
    report = ValidationReport()
    if not isinstance(data, dict):
        report.errors.append(RMError("invalid_manifest", "a manifest must be a JSON object", path=prefix))
        return report

    validator = jsonschema.Draft202012Validator(schema())
    structural = sorted(
        validator.iter_errors(data),
        key=lambda e: [(0, p, "") if isinstance(p, int) else (1, 0, str(p)) for p in e.absolute_path],
    )
    for err in structural:
        report.errors.append(
            RMError("invalid_manifest", _schema_message(err), path=prefix + pointer(*err.absolute_path))
        )

    if data.get("version") in ("1.0", "1"):
        report.warnings.append(
            RMError("version_alias", f'version {data["version"]!r} is read as "v1"', path=f"{prefix}/version")
        )
    if "metadata" not in data:
        report.warnings.append(RMError("missing_metadata", "manifest has no metadata (name)", path=prefix))
    if "connections" not in data:
        report.warnings.append(
            RMError("missing_connections", "manifest has no 'connections'; none are assumed", path=prefix)
        )

    nodes = data.get("nodes") if isinstance(data.get("nodes"), list) else []
    conns = data.get("connections") if isinstance(data.get("connections"), list) else []
    ids: list[str] = []
    seen: set[str] = set()
    types: dict[str, catalog.NodeType | None] = {}
    for n, node in enumerate(nodes):
        if not isinstance(node, dict) or not isinstance(node.get("id"), str):
            continue
        node_id = node["id"]
        if node_id in seen:
            report.errors.append(
                RMError(
                    "duplicate_node_id",
                    f"node id '{node_id}' is used twice",
                    path=f"{prefix}/nodes/{n}/id",
                    node_id=node_id,
                    hint="Node ids must be unique",
                )
            )
            continue
        seen.add(node_id)
        ids.append(node_id)
        key = "node_type" if "node_type" in node else "nodeType"
        if key == "nodeType" and key in node:  # not when neither is there (that is an error)
            report.warnings.append(
                RMError(
                    "field_alias",
                    "'nodeType' is read as 'node_type'",
                    path=f"{prefix}/nodes/{n}/nodeType",
                    node_id=node_id,
                )
            )
        type_name = node.get(key)
        if not isinstance(type_name, str):
            types[node_id] = None
            continue
        spec = catalog.find_node(type_name)
        types[node_id] = spec
        if spec is None:
            close = difflib.get_close_matches(type_name, catalog.known_type_names(), n=1)
            report.errors.append(
                RMError(
                    "unknown_node_type",
                    f"unknown node type '{type_name}'",
                    path=f"{prefix}/nodes/{n}/{key}",
                    node_id=node_id,
                    hint=(f"Did you mean '{close[0]}'? " if close else "")
                    + "`rmstudio nodes` lists the types RM Studio runs",
                )
            )

    for n, node in enumerate(nodes):
        if not isinstance(node, dict) or not isinstance(node.get("id"), str):
            continue
        spec = types.get(node["id"])
        params = node.get("params", {})
        if spec is not None and isinstance(params, dict):
            _validate_params(node["id"], spec, params, f"{prefix}/nodes/{n}/params", report)

    id_set = set(ids)
    edges: list[tuple[str, str]] = []
    edge_paths: dict[tuple[str, str], str] = {}
    dangling = False
    for c, conn in enumerate(conns):
        if not isinstance(conn, dict):
            continue
        src, dst = conn.get("from"), conn.get("to")
        if not isinstance(src, str) or not isinstance(dst, str):
            continue
        for end, name in (("from", src), ("to", dst)):
            if name not in id_set:
                dangling = True
                close = difflib.get_close_matches(name, ids, n=1)
                report.errors.append(
                    RMError(
                        "dangling_connection",
                        f"connection {'source' if end == 'from' else 'target'} '{name}' "
                        "is not a node in this manifest",
                        path=f"{prefix}/connections/{c}/{end}",
                        hint=f"Did you mean '{close[0]}'?" if close else None,
                    )
                )
        if src in id_set and dst in id_set:
            if (src, dst) in edge_paths:
                report.errors.append(
                    RMError(
                        "duplicate_connection",
                        f"connection {src} -> {dst} is listed twice",
                        path=f"{prefix}/connections/{c}",
                    )
                )
                continue
            edges.append((src, dst))
            edge_paths[(src, dst)] = f"{prefix}/connections/{c}"

    graph = Graph(ids, edges)
    cycle = graph.find_cycle()
    if cycle:
        first = edge_paths[(cycle[0], cycle[1])]
        report.errors.append(
            RMError(
                "cycle",
                "pipeline contains a cycle: " + " -> ".join(cycle),
                path=first,
                hint="Remove one of the connections on the cycle",
            )
        )
    elif not dangling:
        report.graph = graph
        _check_kinds(graph, types, edge_paths, report)
    report.errors.sort(key=lambda e: _RANK.get(e.code, len(_RANK)))
    return report


# The order in which the guest looks for problems; the first error agrees between the two.
_RANK = {
    code: rank
    for rank, codes in enumerate(
        (
            ("invalid_manifest",),
            ("duplicate_node_id",),
            ("unknown_node_type",),
            ("missing_param", "invalid_param"),
            ("dangling_connection", "duplicate_connection"),
            ("cycle",),
            ("type_mismatch",),
        )
    )
    for code in codes
}


def _check_kinds(
    graph: Graph,
    types: dict[str, catalog.NodeType | None],
    edge_paths: dict[tuple[str, str], str],
    report: ValidationReport,
) -> None:
    produced: dict[str, str] = {}
    for node_id in graph.order() or []:
        spec = types.get(node_id)
        upstream = {produced[u] for u in graph.inputs[node_id]}
        if spec is None:
            produced[node_id] = "any"
            continue
        for src in graph.inputs[node_id]:
            if not catalog.kinds_compatible(produced[src], spec.input):
                report.errors.append(
                    RMError(
                        "type_mismatch",
                        f"'{src}' produces {produced[src]} data but '{node_id}' ({spec.name}) "
                        f"accepts {spec.input}",
                        path=edge_paths[(src, node_id)],
                        node_id=node_id,
                    )
                )
        if spec.output == "same":
            produced[node_id] = upstream.pop() if len(upstream) == 1 else "any"
        else:
            produced[node_id] = spec.output


def validate(doc: ManifestDocument) -> ValidationReport:
    """Validate a loaded document; errors carry its file name and line numbers."""
    report = validate_data(doc.data, doc.pointer_prefix)
    if doc.text is not None:
        try:
            offsets = value_offsets(doc.text)
        except (ValueError, IndexError):
            offsets = None
        for item in (*report.errors, *report.warnings):
            item.source = doc.source
            if item.path is not None and offsets is not None:
                item.line = line_of(doc.text, item.path, offsets)
    else:
        for item in (*report.errors, *report.warnings):
            item.source = doc.source
    return report

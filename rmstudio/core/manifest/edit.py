"""Editing a manifest as data: the operations behind the GUI's node list, forms and graph.

Every function here is pure: it takes a manifest (the plain JSON object) and returns a new
one, leaving its argument untouched, so an editor can keep the old value for undo. Invalid
requests (an unknown node id, a duplicate id, a connection that already exists) raise
:class:`RMError` with a message meant for people.

Text-level helpers (:func:`edit_text`, :func:`set_param_text`) apply the same operations to
the JSON text of a file, which may be a bare manifest or a run request wrapping one
(``{"manifest": ..., "input_data": ...}``). A param change rewrites only that value's
characters, so the rest of the user's formatting survives; structural changes rewrite the
file with :func:`format_manifest`, whose layout follows the shipped examples (one node or
connection per line when it fits).
"""

from __future__ import annotations

import copy
import json
import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from rmstudio.core.errors import RMError
from rmstudio.core.manifest import catalog
from rmstudio.core.manifest.document import parse_json
from rmstudio.core.manifest.positions import pointer, value_offsets

NODE_ID_RE = re.compile(r"^[a-zA-Z0-9_-]+$")
LINE_WIDTH = 100
_decoder = json.JSONDecoder()

Manifest = dict[str, Any]


# --------------------------------------------------------------------------- formatting


def _is_scalar(value: Any) -> bool:
    return not isinstance(value, (dict, list))


def _compact(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False, separators=(", ", ": "), allow_nan=True)


def _format(value: Any, indent: int, depth: int, in_list: bool, out: list[str]) -> None:
    if _is_scalar(value) or not value:
        out.append(_compact(value))
        return
    one_line = _compact(value)
    scalar_list = isinstance(value, list) and all(_is_scalar(v) for v in value)
    if (in_list or depth >= 2 or scalar_list) and indent + len(one_line) <= LINE_WIDTH:
        out.append(one_line)
        return
    pad = " " * (indent + 2)
    if isinstance(value, dict):
        out.append("{\n")
        for n, (key, item) in enumerate(value.items()):
            out.append(pad + json.dumps(key, ensure_ascii=False) + ": ")
            _format(item, indent + 2, depth + 1, False, out)
            out.append(",\n" if n < len(value) - 1 else "\n")
        out.append(" " * indent + "}")
    else:
        out.append("[\n")
        for n, item in enumerate(value):
            out.append(pad)
            _format(item, indent + 2, depth + 1, True, out)
            out.append(",\n" if n < len(value) - 1 else "\n")
        out.append(" " * indent + "]")


def format_manifest(data: Any) -> str:
    """Pretty JSON in the examples' style: 2-space indent, short nodes/connections on one line.

    Key order is kept. The text ends with a newline. ``json.loads`` of the result equals
    ``data``.
    """
    out: list[str] = []
    _format(data, 0, 0, False, out)
    return "".join(out) + "\n"


# --------------------------------------------------------------------------- lookups


def _nodes(data: Manifest) -> list[Any]:
    nodes = data.get("nodes")
    return nodes if isinstance(nodes, list) else []


def _connections(data: Manifest) -> list[Any]:
    conns = data.get("connections")
    return conns if isinstance(conns, list) else []


def node_ids(data: Manifest) -> list[str]:
    """The ids of the nodes that have one, in manifest order."""
    return [n["id"] for n in _nodes(data) if isinstance(n, dict) and isinstance(n.get("id"), str)]


def node_type_name(node: Any) -> str | None:
    """A node's type name (``node_type``, or the legacy ``nodeType``), if it has one."""
    if not isinstance(node, dict):
        return None
    value = node.get("node_type", node.get("nodeType"))
    return value if isinstance(value, str) else None


def structure_key(data: Manifest) -> tuple:
    """What views of the pipeline's structure (node list, graph, connections) show: each
    node's id and type in order, and the connections; not params. Equal keys, same views:
    a param edit need not redraw a pipeline of thousands of nodes."""
    nodes = tuple((n.get("id"), node_type_name(n)) if isinstance(n, dict) else None for n in _nodes(data))
    return nodes, repr(data.get("connections"))


def node_index(data: Manifest, node_id: str) -> int:
    """Position of ``node_id`` in ``nodes``; RMError if there is no such node."""
    for n, node in enumerate(_nodes(data)):
        if isinstance(node, dict) and node.get("id") == node_id:
            return n
    raise RMError("unknown_node", f"there is no node '{node_id}' in this manifest", node_id=node_id)


def find_node(data: Manifest, node_id: str) -> dict[str, Any] | None:
    for node in _nodes(data):
        if isinstance(node, dict) and node.get("id") == node_id:
            return node
    return None


def param_key(node: dict[str, Any], name: str) -> str:
    """The key a param is stored under in ``node``: the canonical name or a present alias.

    Editing a param keeps the spelling the file already uses (RemoteMedia's ``factor``
    stays ``factor``); a param not yet present is written under its canonical name.
    """
    params = node.get("params") if isinstance(node.get("params"), dict) else {}
    type_name = node_type_name(node)
    spec = catalog.find_node(type_name) if type_name else None
    param = spec.param(name) if spec else None
    if param is None:
        return name
    for key in (param.name, *param.aliases):
        if key in params:
            return key
    return param.name


def unique_node_id(data: Manifest, base: str) -> str:
    """``base`` made into a valid id not yet used in ``data`` (``add``, ``add_2``, ...)."""
    stem = re.sub(r"[^a-zA-Z0-9_-]+", "_", base).strip("_") or "node"
    taken = set(node_ids(data))
    if stem not in taken:
        return stem
    n = 2
    while f"{stem}_{n}" in taken:
        n += 1
    return f"{stem}_{n}"


def suggested_node_id(node_type: catalog.NodeType) -> str:
    """A readable id for a new node of this type: ``MultiplyNode`` -> ``multiply``."""
    name = node_type.name.removesuffix("Node") or node_type.name
    return re.sub(r"(?<=[a-z0-9])(?=[A-Z])", "_", name).lower()


def default_params(node_type: catalog.NodeType) -> dict[str, Any]:
    """Params written into a new node: every default, and the first choice of required enums."""
    out: dict[str, Any] = {}
    for spec in node_type.params:
        if spec.has_default:
            out[spec.name] = copy.deepcopy(spec.default)
        elif spec.required and spec.type == "enum":
            out[spec.name] = spec.choices[0]
    return out


def check_node_id(node_id: str) -> None:
    if not isinstance(node_id, str) or not NODE_ID_RE.match(node_id):
        raise RMError(
            "invalid_node_id",
            f"node id {node_id!r} may only contain letters, digits, '_' and '-'",
            hint="Pick an id such as 'multiply' or 'stage_2'",
        )


# --------------------------------------------------------------------------- node operations


def add_node(
    data: Manifest,
    node_type: str,
    node_id: str | None = None,
    after: str | None = None,
    params: dict[str, Any] | None = None,
) -> tuple[Manifest, str]:
    """Add a node of ``node_type``; returns the new manifest and the new node's id.

    With ``after``, the node goes right after that node in the list and is spliced into its
    outgoing connections (``a -> b`` becomes ``a -> new -> b``); a node without outgoing
    connections simply gains ``after -> new``. Without ``after`` the node is appended
    unconnected. Params default to :func:`default_params` of the catalog entry.
    """
    spec = catalog.find_node(node_type)
    if spec is None:
        raise RMError("unknown_node_type", f"unknown node type '{node_type}'")
    new_id = node_id if node_id is not None else unique_node_id(data, suggested_node_id(spec))
    check_node_id(new_id)
    if new_id in node_ids(data):
        raise RMError("duplicate_node_id", f"node id '{new_id}' is already used", node_id=new_id)
    out = copy.deepcopy(data)
    node: dict[str, Any] = {"id": new_id, "node_type": spec.name}
    chosen = default_params(spec) if params is None else copy.deepcopy(params)
    if chosen:
        node["params"] = chosen
    nodes = out.setdefault("nodes", [])
    if not isinstance(nodes, list):
        raise RMError("invalid_manifest", "'nodes' is not a list; fix it in the text first", path="/nodes")
    if after is None:
        nodes.append(node)
        return out, new_id
    nodes.insert(node_index(out, after) + 1, node)
    conns = out.setdefault("connections", [])
    if not isinstance(conns, list):
        raise RMError(
            "invalid_manifest", "'connections' is not a list; fix it in the text first", path="/connections"
        )
    for conn in conns:
        if isinstance(conn, dict) and conn.get("from") == after:
            conn["from"] = new_id
    position = next(
        (n for n, c in enumerate(conns) if isinstance(c, dict) and c.get("from") == new_id), len(conns)
    )
    conns.insert(position, {"from": after, "to": new_id})
    return out, new_id


def remove_node(data: Manifest, node_id: str, bridge: bool = True) -> Manifest:
    """Remove a node and every connection touching it.

    With ``bridge`` (the default), each node that fed it is connected to each node it fed,
    so removing the middle of ``a -> x -> b`` leaves ``a -> b``.
    """
    index = node_index(data, node_id)
    out = copy.deepcopy(data)
    del out["nodes"][index]
    conns = _connections(out)
    if not conns:
        return out
    preds = [c["from"] for c in conns if isinstance(c, dict) and c.get("to") == node_id]
    succs = [c["to"] for c in conns if isinstance(c, dict) and c.get("from") == node_id]
    first = next(
        (n for n, c in enumerate(conns) if isinstance(c, dict) and node_id in (c.get("from"), c.get("to"))),
        len(conns),
    )
    kept = [c for c in conns if not (isinstance(c, dict) and node_id in (c.get("from"), c.get("to")))]
    if bridge:
        existing = {(c.get("from"), c.get("to")) for c in kept if isinstance(c, dict)}
        bridges = []
        for p in preds:
            for s in succs:
                if p != s and (p, s) not in existing:
                    existing.add((p, s))
                    bridges.append({"from": p, "to": s})
        removed_before = sum(
            1 for c in conns[:first] if isinstance(c, dict) and node_id in (c.get("from"), c.get("to"))
        )
        at = first - removed_before
        kept[at:at] = bridges
    out["connections"] = kept
    return out


def move_node(data: Manifest, node_id: str, new_index: int) -> Manifest:
    """Move a node to ``new_index`` in the list (clamped). Order breaks ties in execution."""
    index = node_index(data, node_id)
    out = copy.deepcopy(data)
    nodes = out["nodes"]
    node = nodes.pop(index)
    nodes.insert(max(0, min(new_index, len(nodes))), node)
    return out


def rename_node(data: Manifest, old_id: str, new_id: str) -> Manifest:
    """Change a node's id and every connection that names it."""
    index = node_index(data, old_id)
    if new_id == old_id:
        return copy.deepcopy(data)
    check_node_id(new_id)
    if new_id in node_ids(data):
        raise RMError("duplicate_node_id", f"node id '{new_id}' is already used", node_id=new_id)
    out = copy.deepcopy(data)
    out["nodes"][index]["id"] = new_id
    for conn in _connections(out):
        if isinstance(conn, dict):
            for end in ("from", "to"):
                if conn.get(end) == old_id:
                    conn[end] = new_id
    return out


def set_param(data: Manifest, node_id: str, name: str, value: Any) -> Manifest:
    """Set a param (by canonical name or alias; the spelling in the file is kept)."""
    index = node_index(data, node_id)
    out = copy.deepcopy(data)
    node = out["nodes"][index]
    params = node.get("params")
    if params is None:
        params = node["params"] = {}
    if not isinstance(params, dict):
        raise RMError(
            "invalid_manifest",
            f"params of node '{node_id}' are not an object; fix them in the text first",
            node_id=node_id,
        )
    params[param_key(node, name)] = copy.deepcopy(value)
    return out


def remove_param(data: Manifest, node_id: str, name: str) -> Manifest:
    """Remove a param so its default applies (no-op if it is not set)."""
    index = node_index(data, node_id)
    out = copy.deepcopy(data)
    node = out["nodes"][index]
    params = node.get("params")
    if isinstance(params, dict):
        params.pop(param_key(node, name), None)
    return out


# --------------------------------------------------------------------------- connections


def _check_endpoints(data: Manifest, src: str, dst: str) -> None:
    ids = node_ids(data)
    for end, name in (("source", src), ("target", dst)):
        if name not in ids:
            raise RMError("unknown_node", f"connection {end} '{name}' is not a node in this manifest")
    if src == dst:
        raise RMError("cycle", f"a node cannot feed itself ('{src}' -> '{src}')", node_id=src)


def _has_connection(data: Manifest, src: str, dst: str, skip: int | None = None) -> bool:
    return any(
        isinstance(c, dict) and c.get("from") == src and c.get("to") == dst
        for n, c in enumerate(_connections(data))
        if n != skip
    )


def add_connection(data: Manifest, src: str, dst: str) -> Manifest:
    """Append ``src -> dst``. Cycles are allowed here and reported by validation."""
    _check_endpoints(data, src, dst)
    if _has_connection(data, src, dst):
        raise RMError("duplicate_connection", f"connection {src} -> {dst} already exists")
    out = copy.deepcopy(data)
    conns = out.setdefault("connections", [])
    if not isinstance(conns, list):
        raise RMError(
            "invalid_manifest", "'connections' is not a list; fix it in the text first", path="/connections"
        )
    conns.append({"from": src, "to": dst})
    return out


def remove_connection(data: Manifest, index: int) -> Manifest:
    conns = _connections(data)
    if not 0 <= index < len(conns):
        raise RMError("invalid_request", f"there is no connection #{index}")
    out = copy.deepcopy(data)
    del out["connections"][index]
    return out


def set_connection(data: Manifest, index: int, src: str, dst: str) -> Manifest:
    """Point connection ``index`` at new endpoints (other fields of the entry are kept)."""
    conns = _connections(data)
    if not 0 <= index < len(conns) or not isinstance(conns[index], dict):
        raise RMError("invalid_request", f"there is no connection #{index}")
    _check_endpoints(data, src, dst)
    if _has_connection(data, src, dst, skip=index):
        raise RMError("duplicate_connection", f"connection {src} -> {dst} already exists")
    out = copy.deepcopy(data)
    out["connections"][index]["from"] = src
    out["connections"][index]["to"] = dst
    return out


# --------------------------------------------------------------------------- run requests


def split_root(root: Any) -> tuple[Manifest, str]:
    """The manifest inside a parsed file and its JSON-pointer prefix ("" or "/manifest")."""
    if not isinstance(root, dict):
        raise RMError("invalid_manifest", "a manifest must be a JSON object", path="")
    if "manifest" in root and "nodes" not in root:
        manifest = root["manifest"]
        if not isinstance(manifest, dict):
            raise RMError("invalid_request", "'manifest' must be a JSON object", path="/manifest")
        return manifest, "/manifest"
    return root, ""


def wrap_request(manifest: Manifest, input_data: Any, extra: dict[str, Any] | None = None) -> dict[str, Any]:
    """A run-request object: the manifest, its input items and any other fields (options)."""
    out: dict[str, Any] = {"manifest": copy.deepcopy(manifest), "input_data": copy.deepcopy(input_data)}
    for key, value in (extra or {}).items():
        if key not in out:
            out[key] = copy.deepcopy(value)
    return out


def parse_text(text: str) -> Any:
    """``json.loads`` with a readable RMError for text that is not JSON."""
    try:
        return parse_json(text)
    except RMError as exc:
        raise RMError(
            "invalid_json",
            f"the text is {exc.message}; fix it before editing the pipeline",
        ) from None


def edit_text(text: str, operation: Callable[..., Manifest], *args: Any, **kwargs: Any) -> str:
    """Apply a manifest operation (e.g. :func:`add_node`) to a file's text; return the new text.

    Works for bare manifests and run requests alike; the result is laid out by
    :func:`format_manifest`. Operations returning ``(manifest, extra)`` tuples are accepted
    (the extra part is dropped).
    """
    root = parse_text(text)
    manifest, prefix = split_root(root)
    result = operation(manifest, *args, **kwargs)
    new_manifest = result[0] if isinstance(result, tuple) else result
    if prefix:
        root = dict(root)
        root["manifest"] = new_manifest
    else:
        root = new_manifest
    return format_manifest(root)


def add_node_text(text: str, node_type: str, after: str | None = None) -> tuple[str, str]:
    """:func:`add_node` on a file's text; returns the new text and the new node's id."""
    manifest, _ = split_root(parse_text(text))
    _, new_id = add_node(manifest, node_type, after=after)
    return edit_text(text, add_node, node_type, new_id, after), new_id


def replace_value(text: str, ptr: str, value: Any) -> str | None:
    """``text`` with the JSON value at ``ptr`` replaced by ``value``; None if there is no such value.

    Only that value's characters change, so formatting elsewhere is untouched.
    """
    try:
        offsets = value_offsets(text)
    except (ValueError, IndexError):
        return None
    start = offsets.get(ptr)
    if start is None:
        return None
    _, end = _decoder.raw_decode(text, start)
    return text[:start] + json.dumps(value, ensure_ascii=False) + text[end:]


def set_param_text(text: str, node_id: str, name: str, value: Any) -> str:
    """Set a param in a file's text, rewriting only the value when the param is already present."""
    root = parse_text(text)
    manifest, prefix = split_root(root)
    index = node_index(manifest, node_id)
    node = manifest["nodes"][index]
    params = node.get("params")
    key = param_key(node, name)
    if isinstance(params, dict) and key in params:
        replaced = replace_value(text, prefix + pointer("nodes", index, "params", key), value)
        if replaced is not None:
            return replaced
    return edit_text(text, set_param, node_id, name, value)


# --------------------------------------------------------------------------- layout


@dataclass(frozen=True)
class PlacedNode:
    node_id: str
    node_type: str | None
    layer: int
    row: int


@dataclass(frozen=True)
class GraphLayout:
    """Nodes placed in columns by topological layer; edges between placed nodes."""

    nodes: tuple[PlacedNode, ...]
    edges: tuple[tuple[str, str], ...]
    layer_count: int
    max_rows: int


def layout_layers(data: Any) -> GraphLayout:
    """Place every node with an id in a layer: sources in 0, others one past their deepest input.

    Tolerates broken manifests: nodes on a cycle go one past the deepest placed input, unknown
    connection ends are skipped, duplicate ids are drawn once.
    """
    manifest = data if isinstance(data, dict) else {}
    ids: list[str] = []
    types: dict[str, str | None] = {}
    for node in _nodes(manifest):
        if isinstance(node, dict) and isinstance(node.get("id"), str) and node["id"] not in types:
            ids.append(node["id"])
            types[node["id"]] = node_type_name(node)
    known = set(ids)
    edges: list[tuple[str, str]] = []
    for conn in _connections(manifest):
        if isinstance(conn, dict):
            src, dst = conn.get("from"), conn.get("to")
            if src in known and dst in known and (src, dst) not in edges:
                edges.append((src, dst))
    preds: dict[str, list[str]] = {i: [] for i in ids}
    succs: dict[str, list[str]] = {i: [] for i in ids}
    for src, dst in edges:
        preds[dst].append(src)
        succs[src].append(dst)
    layer: dict[str, int] = {}
    indegree = {i: len(preds[i]) for i in ids}
    ready = [i for i in ids if indegree[i] == 0]
    while True:
        while ready:
            node = ready.pop(0)
            layer[node] = max((layer[p] + 1 for p in preds[node] if p in layer), default=0)
            for nxt in succs[node]:
                indegree[nxt] -= 1
                if indegree[nxt] == 0:
                    ready.append(nxt)
        rest = [i for i in ids if i not in layer]
        if not rest:
            break
        # A cycle: place the first unplaced node (manifest order) and carry on from it.
        ready.append(rest[0])
        indegree[rest[0]] = 0
    rows: dict[int, int] = {}
    placed = []
    for node_id in ids:
        col = layer[node_id]
        placed.append(PlacedNode(node_id, types[node_id], col, rows.get(col, 0)))
        rows[col] = rows.get(col, 0) + 1
    return GraphLayout(
        tuple(placed),
        tuple(edges),
        (max(layer.values()) + 1) if layer else 0,
        max(rows.values(), default=0),
    )

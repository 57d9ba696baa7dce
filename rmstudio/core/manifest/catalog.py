"""The node catalog: the single source of truth for every node type RM Studio runs.

The manifest validator, ``rmstudio nodes``, the GUI parameter forms, ``docs/NODES.md`` and
the guest's own parameter checks (``runtime/build.py`` generates a C++ table from
:func:`catalog_as_json`) all read this module. Adding a node means adding it here, in the
guest (``runtime/src/nodes_*.cpp``) and in the reference executor (``core/native``); a test
fails until all three agree.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

# Data kinds carried between nodes. "same" (outputs only) means "whatever came in".
DATA_KINDS: dict[str, str] = {
    "any": "any JSON value",
    "numeric": "a number, a (nested) list of numbers, or a typed numeric array",
    "audio": "an audio object {data, sample_rate, channels}",
    "transcript": "a transcript object {text, segments, language, audio_duration}",
}

PARAM_TYPES = ("number", "integer", "string", "boolean", "enum")


class _NoDefault:
    def __repr__(self) -> str:
        return "NO_DEFAULT"


NO_DEFAULT: Any = _NoDefault()


@dataclass(frozen=True)
class Param:
    """One node parameter: its type, default, bounds and the names it is also known by."""

    name: str
    type: str
    description: str
    default: Any = NO_DEFAULT
    required: bool = False
    minimum: float | None = None
    maximum: float | None = None
    choices: tuple[str, ...] = ()
    aliases: tuple[str, ...] = ()
    nullable: bool = False

    def __post_init__(self) -> None:
        if self.type not in PARAM_TYPES:
            raise ValueError(f"param {self.name}: unknown type {self.type!r}")
        if self.type == "enum" and not self.choices:
            raise ValueError(f"param {self.name}: enum without choices")
        if self.required and self.default is not NO_DEFAULT:
            raise ValueError(f"param {self.name}: required params have no default")

    @property
    def has_default(self) -> bool:
        return self.default is not NO_DEFAULT

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "name": self.name,
            "type": self.type,
            "description": self.description,
            "required": self.required,
        }
        if self.has_default:
            out["default"] = self.default
        if self.minimum is not None:
            out["minimum"] = self.minimum
        if self.maximum is not None:
            out["maximum"] = self.maximum
        if self.choices:
            out["choices"] = list(self.choices)
        if self.aliases:
            out["aliases"] = list(self.aliases)
        if self.nullable:
            out["nullable"] = True
        return out


@dataclass(frozen=True)
class NodeType:
    """A node type: what it accepts and produces, its params, and the names it answers to."""

    name: str
    category: str
    description: str
    input: str
    output: str
    params: tuple[Param, ...] = ()
    aliases: tuple[str, ...] = ()
    notes: str = ""
    streaming: bool = False
    # Source nodes ignore their input items and produce data of their own (e.g. a reader
    # whose file the host loads); they may still appear first in a pipeline.
    source: bool = False
    extra: dict[str, Any] = field(default_factory=dict)

    def param(self, name: str) -> Param | None:
        for p in self.params:
            if p.name == name or name in p.aliases:
                return p
        return None

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "node_type": self.name,
            "category": self.category,
            "description": self.description,
            "input": self.input,
            "output": self.output,
            "streaming": self.streaming,
            "params": [p.to_json() for p in self.params],
        }
        if self.aliases:
            out["aliases"] = list(self.aliases)
        if self.notes:
            out["notes"] = self.notes
        return out


_NODES: tuple[NodeType, ...] = (
    NodeType(
        name="PassThroughNode",
        category="utility",
        description="Hands every input item on unchanged.",
        input="any",
        output="same",
        aliases=("PassThrough",),
    ),
    NodeType(
        name="MultiplyNode",
        category="math",
        description="Multiplies numbers and numeric arrays element-wise by a constant.",
        input="numeric",
        output="numeric",
        params=(
            Param(
                "multiplier",
                "number",
                "Factor every element is multiplied by.",
                default=2,
                aliases=("factor",),
            ),
        ),
        notes=(
            "RemoteMedia's own MultiplyNode reads `factor` while its docs and packages write "
            "`multiplier`; both are accepted and `multiplier` wins when both are given."
        ),
    ),
    NodeType(
        name="AddNode",
        category="math",
        description="Adds a constant to numbers and numeric arrays element-wise.",
        input="numeric",
        output="numeric",
        params=(Param("addend", "number", "Value added to every element.", default=0),),
    ),
    NodeType(
        name="CalculatorNode",
        category="math",
        description="Applies one arithmetic operation with a constant operand element-wise.",
        input="numeric",
        output="numeric",
        params=(
            Param(
                "operation",
                "enum",
                "Operation applied as `value <op> operand`.",
                required=True,
                choices=("add", "subtract", "multiply", "divide"),
            ),
            Param("operand", "number", "Right-hand operand.", default=0),
        ),
        notes="Dividing by zero fails the run with `node_failed` (RemoteMedia: 'Division by zero').",
    ),
)


def all_nodes() -> tuple[NodeType, ...]:
    """Every node type, in catalog order."""
    return _NODES


_BY_NAME: dict[str, NodeType] = {}
for _node in _NODES:
    for _key in (_node.name, *_node.aliases):
        if _key in _BY_NAME:
            raise RuntimeError(f"node type name {_key!r} defined twice in the catalog")
        _BY_NAME[_key] = _node


def find_node(node_type: str) -> NodeType | None:
    """The catalog entry for a node type name or alias, or None."""
    return _BY_NAME.get(node_type)


def known_type_names() -> list[str]:
    """Every accepted node type name, aliases included, sorted."""
    return sorted(_BY_NAME)


def kinds_compatible(produced: str, accepted: str) -> bool:
    """Whether data of kind ``produced`` may flow into a port accepting ``accepted``."""
    return produced == "any" or accepted == "any" or produced == accepted


def catalog_as_json() -> dict[str, Any]:
    """The machine-readable catalog (``rmstudio nodes --json``, the guest build, the docs)."""
    return {
        "catalog_version": 1,
        "data_kinds": DATA_KINDS,
        "nodes": [n.to_json() for n in _NODES],
    }

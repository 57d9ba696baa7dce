"""The reference executor's node interface and registry (mirrors runtime/src's)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from rmstudio.core.errors import RMError

EmitFn = Callable[[dict[str, Any]], None]


@dataclass
class Context:
    """What a node may use while it runs: who it is, where its items came from, events."""

    node_id: str
    node_type: str
    is_source: bool
    emit: EmitFn
    # How items of a source node map back to the request: "/input_data/<k>" when input_data
    # was a list, "/input_data" when it was one item.
    input_is_list: bool = True
    # The request's options (e.g. "models": name -> file, as the host mapped them).
    options: dict[str, Any] = field(default_factory=dict)

    def invalid_input(self, index: int, message: str) -> RMError:
        return RMError(
            "invalid_input",
            f"node '{self.node_id}' ({self.node_type}) {message}",
            node_id=self.node_id,
            path=(f"/input_data/{index}" if self.input_is_list else "/input_data")
            if self.is_source
            else None,
        )

    def failed(self, message: str) -> RMError:
        return RMError(
            "node_failed", f"node '{self.node_id}' ({self.node_type}) failed: {message}", node_id=self.node_id
        )


class Node:
    """One node instance: params are already validated and complete (defaults filled in)."""

    def __init__(self, params: dict[str, Any]) -> None:
        self.params = params

    def process(self, items: list[Any], ctx: Context) -> list[Any]:
        raise NotImplementedError


NODES: dict[str, type[Node]] = {}


def register(name: str) -> Callable[[type[Node]], type[Node]]:
    def deco(cls: type[Node]) -> type[Node]:
        NODES[name] = cls
        return cls

    return deco

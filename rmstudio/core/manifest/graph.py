"""Graph facts about a manifest: order, sources, sinks, cycles, the kind on each edge.

Both executors follow this order (docs/CONTRACT.md, "Graph semantics"): Kahn's algorithm,
and among ready nodes the one listed first in the manifest. The guest implements the same
rule in C++; the differential tests hold the two to it.
"""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass
class Graph:
    """Node ids in manifest order and the edges between them (in connection order)."""

    ids: list[str]
    edges: list[tuple[str, str]]
    inputs: dict[str, list[str]] = field(init=False)
    outputs: dict[str, list[str]] = field(init=False)

    def __post_init__(self) -> None:
        self.inputs = {i: [] for i in self.ids}
        self.outputs = {i: [] for i in self.ids}
        for src, dst in self.edges:
            self.outputs[src].append(dst)
            self.inputs[dst].append(src)

    @property
    def sources(self) -> list[str]:
        return [i for i in self.ids if not self.inputs[i]]

    @property
    def sinks(self) -> list[str]:
        return [i for i in self.ids if not self.outputs[i]]

    def order(self) -> list[str] | None:
        """Topological order (manifest order breaks ties), or None if there is a cycle."""
        position = {node_id: n for n, node_id in enumerate(self.ids)}
        indegree = {i: len(self.inputs[i]) for i in self.ids}
        ready = sorted((i for i in self.ids if indegree[i] == 0), key=position.__getitem__)
        out: list[str] = []
        while ready:
            node = ready.pop(0)
            out.append(node)
            for dst in self.outputs[node]:
                indegree[dst] -= 1
                if indegree[dst] == 0:
                    ready.append(dst)
                    ready.sort(key=position.__getitem__)
        return out if len(out) == len(self.ids) else None

    def find_cycle(self) -> list[str] | None:
        """One cycle as a closed walk ``[a, b, a]``, or None. Deterministic (manifest order).

        Iterative depth-first search, so a hostile manifest with a very long chain cannot
        exhaust the Python stack.
        """
        state: dict[str, int] = {}  # 1 = on the current path, 2 = finished
        for root in self.ids:
            if root in state:
                continue
            path: list[str] = [root]
            cursors: list[int] = [0]
            state[root] = 1
            while path:
                node = path[-1]
                succ = self.outputs[node]
                if cursors[-1] < len(succ):
                    nxt = succ[cursors[-1]]
                    cursors[-1] += 1
                    if state.get(nxt) == 1:
                        return [*path[path.index(nxt) :], nxt]
                    if nxt not in state:
                        state[nxt] = 1
                        path.append(nxt)
                        cursors.append(0)
                else:
                    state[node] = 2
                    path.pop()
                    cursors.pop()
        return None

    def info(self) -> dict[str, object]:
        """``graph_info`` as both executors report it."""
        return {
            "node_count": len(self.ids),
            "source_count": len(self.sources),
            "sink_count": len(self.sinks),
            "connection_count": len(self.edges),
            "execution_order": self.order() or [],
        }

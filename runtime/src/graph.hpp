// The pipeline graph: nodes by manifest position, edges in connection order.
// Semantics (docs/CONTRACT.md, "Graph semantics") are shared with rmstudio/core/manifest/graph.py.
#pragma once

#include <cstddef>
#include <utility>
#include <vector>

namespace rm {

class Graph {
  public:
    Graph() = default;
    // Edges must be unique (duplicates are rejected before a Graph is built).
    Graph(std::size_t node_count, std::vector<std::pair<std::size_t, std::size_t>> edges);

    std::size_t size() const { return inputs_.size(); }
    const std::vector<std::pair<std::size_t, std::size_t>>& edges() const { return edges_; }
    // Upstream / downstream nodes, in connection order.
    const std::vector<std::size_t>& inputs(std::size_t node) const { return inputs_[node]; }
    const std::vector<std::size_t>& outputs(std::size_t node) const { return outputs_[node]; }
    bool is_source(std::size_t node) const { return inputs_[node].empty(); }
    bool is_sink(std::size_t node) const { return outputs_[node].empty(); }
    std::size_t source_count() const;
    std::size_t sink_count() const;

    // Kahn's algorithm; among ready nodes the lowest manifest position first.
    // Returns false (and a partial order) when the graph has a cycle.
    bool order(std::vector<std::size_t>& out) const;

    // One cycle as a closed walk [a, b, ..., a], found by depth-first search from nodes in
    // manifest order following edges in connection order. False when there is none.
    bool find_cycle(std::vector<std::size_t>& cycle) const;

  private:
    std::vector<std::pair<std::size_t, std::size_t>> edges_;
    std::vector<std::vector<std::size_t>> inputs_;
    std::vector<std::vector<std::size_t>> outputs_;
};

}  // namespace rm

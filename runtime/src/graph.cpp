#include "graph.hpp"

#include <functional>
#include <queue>

namespace rm {

Graph::Graph(std::size_t node_count, std::vector<std::pair<std::size_t, std::size_t>> edges)
    : edges_(std::move(edges)), inputs_(node_count), outputs_(node_count) {
    for (const auto& e : edges_) {
        outputs_[e.first].push_back(e.second);
        inputs_[e.second].push_back(e.first);
    }
}

std::size_t Graph::source_count() const {
    std::size_t n = 0;
    for (const auto& in : inputs_) n += in.empty() ? 1 : 0;
    return n;
}

std::size_t Graph::sink_count() const {
    std::size_t n = 0;
    for (const auto& out : outputs_) n += out.empty() ? 1 : 0;
    return n;
}

bool Graph::order(std::vector<std::size_t>& out) const {
    out.clear();
    std::vector<std::size_t> indegree(size());
    std::priority_queue<std::size_t, std::vector<std::size_t>, std::greater<std::size_t>> ready;
    for (std::size_t i = 0; i < size(); ++i) {
        indegree[i] = inputs_[i].size();
        if (indegree[i] == 0) ready.push(i);
    }
    while (!ready.empty()) {
        std::size_t node = ready.top();
        ready.pop();
        out.push_back(node);
        for (std::size_t next : outputs_[node]) {
            if (--indegree[next] == 0) ready.push(next);
        }
    }
    return out.size() == size();
}

bool Graph::find_cycle(std::vector<std::size_t>& cycle) const {
    enum : unsigned char { kUnseen = 0, kOnPath = 1, kDone = 2 };
    std::vector<unsigned char> state(size(), kUnseen);
    std::vector<std::size_t> path;
    std::vector<std::size_t> cursor;
    for (std::size_t root = 0; root < size(); ++root) {
        if (state[root] != kUnseen) continue;
        path.assign(1, root);
        cursor.assign(1, 0);
        state[root] = kOnPath;
        while (!path.empty()) {
            std::size_t node = path.back();
            const std::vector<std::size_t>& succ = outputs_[node];
            if (cursor.back() < succ.size()) {
                std::size_t next = succ[cursor.back()++];
                if (state[next] == kOnPath) {
                    std::size_t start = 0;
                    while (path[start] != next) ++start;
                    cycle.assign(path.begin() + static_cast<std::ptrdiff_t>(start), path.end());
                    cycle.push_back(next);
                    return true;
                }
                if (state[next] == kUnseen) {
                    state[next] = kOnPath;
                    path.push_back(next);
                    cursor.push_back(0);
                }
            } else {
                state[node] = kDone;
                path.pop_back();
                cursor.pop_back();
            }
        }
    }
    return false;
}

}  // namespace rm

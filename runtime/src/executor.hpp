// Runs a validated Plan (docs/CONTRACT.md, "Graph semantics"): nodes in execution order,
// sources get the input items, every outgoing connection hands the same items on (shared,
// not copied), a node with several inputs gets their concatenation in connection order, and
// the outputs are the sinks' items concatenated in manifest order.
#pragma once

#include <string>
#include <vector>

#include "error.hpp"
#include "validate.hpp"
#include "value.hpp"

namespace rm {

struct NodeMetrics {
    std::string node_id;
    std::string node_type;
    double duration_ms = 0;
    std::size_t items_in = 0;
    std::size_t items_out = 0;
};

struct RunOutcome {
    std::vector<Value> outputs;
    std::vector<NodeMetrics> nodes;
};

// Consumes plan.items. Emits start / node_start / node_finish events.
Error execute(Plan& plan, RunOutcome& outcome);

}  // namespace rm

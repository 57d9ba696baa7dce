// Request and manifest validation: from a parsed request to a runnable Plan.
//
// The first error is reported, looking in this order (docs/CONTRACT.md): request structure,
// manifest structure, node ids, node types, params, connections, cycles, data kinds, and
// finally the input items (malformed typed arrays). Within manifest structure the error with
// the smallest path wins (list indices before keys, keys alphabetically), which is the order
// the host's JSON-Schema validator reports, so both sides name the same first error.
// Warnings are collected along the way. Every path is a JSON pointer into the request.
#pragma once

#include <string>
#include <vector>

#include "catalog.hpp"
#include "error.hpp"
#include "graph.hpp"
#include "node.hpp"
#include "output.hpp"
#include "value.hpp"

namespace rm {

struct PlannedNode {
    std::string id;
    const NodeSpec* spec = nullptr;
    Params params;  // canonical names, defaults filled in
};

struct Plan {
    bool describe = false;
    ArrayEncoding encoding = ArrayEncoding::Auto;
    bool events = true;
    Value options;  // the request's `options` object (null when absent), for nodes to read

    std::vector<PlannedNode> nodes;  // manifest order
    Graph graph;
    std::vector<std::size_t> order;  // execution order (node indices)

    std::vector<Value> items;  // the input items
    bool input_is_list = true;  // input_data was a JSON array (item paths are /input_data/<k>)

    std::vector<Error> warnings;
};

// Consumes the request. On error, `plan.events` still reflects options.events when readable.
Error plan_request(Value request, Plan& plan);

}  // namespace rm

#include "executor.hpp"

#include <memory>

#include "events.hpp"
#include "node.hpp"

namespace rm {

Error execute(Plan& plan, RunOutcome& outcome) {
    const Graph& graph = plan.graph;
    const std::size_t n = plan.nodes.size();

    // How many consumers still need each node's items; a value is released (or handed over
    // without a copy) when its last consumer takes it, unless it is a sink's output.
    std::vector<std::size_t> pending(n);
    for (std::size_t i = 0; i < n; ++i) pending[i] = graph.outputs(i).size();
    std::size_t sources_left = graph.source_count();

    events::start(n, plan.items.size());
    if (events_enabled()) {
        std::string missing;
        for (const std::string& name : missing_implementations()) missing += (missing.empty() ? "" : ", ") + name;
        if (!missing.empty()) events::log("info", "catalog node types without an implementation in this build: " + missing);
    }
    for (const Error& w : plan.warnings) events::log("warning", w.message, w.node_id);

    std::vector<std::vector<Value>> produced(n);
    for (std::size_t node : plan.order) {
        const PlannedNode& pn = plan.nodes[node];
        const bool is_source = graph.is_source(node);

        std::vector<Value> items;
        if (is_source) {
            if (--sources_left == 0)
                items = std::move(plan.items);
            else
                items = plan.items;
        } else {
            for (std::size_t src : graph.inputs(node)) {
                const bool last_use = --pending[src] == 0 && !graph.is_sink(src);
                if (last_use && items.empty()) {
                    items = std::move(produced[src]);
                } else {
                    items.insert(items.end(), produced[src].begin(), produced[src].end());
                    if (last_use) std::vector<Value>().swap(produced[src]);
                }
            }
        }

        NodeContext ctx(pn.id, *pn.spec, is_source, plan.input_is_list);
        ctx.set_request_options(&plan.options);
        const std::size_t items_in = items.size();
        const double t0 = now_ms();
        ctx.start_clock(t0);
        events::node_start(pn.id, pn.spec->name);

        NodeFactory factory = Registry::get().find(pn.spec->name);
        if (!factory) {
            return Error("unknown_node_type", "node type '" + pn.spec->name + "' is not implemented").node(pn.id);
        }
        std::unique_ptr<Node> impl = factory();
        Error err = impl->init(pn.params, ctx);
        if (err.failed()) return err;
        std::vector<Value> out;
        err = impl->process(items, out, ctx);
        if (err.failed()) return err;
        impl.reset();
        if (!pn.spec->streaming && out.size() != items_in) {
            return Error("internal_error", "node '" + pn.id + "' (" + pn.spec->name + ") returned " +
                                               std::to_string(out.size()) + " items for " + std::to_string(items_in))
                .node(pn.id);
        }
        items.clear();

        const double t1 = now_ms();
        NodeMetrics m;
        m.node_id = pn.id;
        m.node_type = pn.spec->name;
        m.duration_ms = t1 - t0;
        m.items_in = items_in;
        m.items_out = out.size();
        events::node_finish(m.node_id, m.node_type, m.duration_ms, m.items_in, m.items_out);
        outcome.nodes.push_back(std::move(m));
        produced[node] = std::move(out);
    }

    for (std::size_t i = 0; i < n; ++i) {
        if (!graph.is_sink(i)) continue;
        for (Value& v : produced[i]) outcome.outputs.push_back(std::move(v));
        std::vector<Value>().swap(produced[i]);
    }
    return ok();
}

}  // namespace rm

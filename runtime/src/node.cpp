#include "node.hpp"

#include <algorithm>
#include <cmath>

#include "events.hpp"

namespace rm {

// ---- Params ---------------------------------------------------------------------------------

const Value* Params::find(std::string_view name) const {
    for (const Value::Member& m : values_) {
        if (m.first == name) return &m.second;
    }
    return nullptr;
}

double Params::number(std::string_view name, double fallback) const {
    const Value* v = find(name);
    return v && v->is_number() ? v->as_number() : fallback;
}

long long Params::integer(std::string_view name, long long fallback) const {
    const Value* v = find(name);
    return v && v->is_number() ? static_cast<long long>(std::llround(v->as_number())) : fallback;
}

bool Params::boolean(std::string_view name, bool fallback) const {
    const Value* v = find(name);
    return v && v->is_bool() ? v->as_bool() : fallback;
}

std::string Params::string(std::string_view name, const std::string& fallback) const {
    const Value* v = find(name);
    return v && v->is_string() ? v->as_string() : fallback;
}

// ---- NodeContext ----------------------------------------------------------------------------

Error NodeContext::invalid_input(std::size_t index, const std::string& what) const {
    Error e("invalid_input", "node '" + node_id_ + "' (" + spec_.name + ") " + what);
    e.node_id = node_id_;
    if (is_source_) {
        e.has_path = true;
        e.path = input_is_list_ ? "/input_data/" + std::to_string(index) : std::string("/input_data");
    }
    return e;
}

Error NodeContext::failed(const std::string& what) const {
    return Error("node_failed", "node '" + node_id_ + "' (" + spec_.name + ") failed: " + what).node(node_id_);
}

void NodeContext::progress(double done, double total, const char* unit) {
    if (!events_enabled()) return;
    // Reading the clock is a host call: in tight loops look at it only every 64th step.
    if (++progress_calls_ % 64 != 0 && done < total) return;
    const double now = now_ms();
    if (last_progress_ms_ < 0) last_progress_ms_ = now;  // first call: the clock starts
    // At most one event per 100 ms, plus the final step when earlier steps were shown.
    const bool due = now - last_progress_ms_ >= 100.0;
    const bool final_step = done >= total && progress_sent_;
    if (!due && !final_step) return;
    last_progress_ms_ = now;
    progress_sent_ = true;
    events::progress(node_id_, done, total, unit);
}

void NodeContext::log(const std::string& message, const char* level) const { events::log(level, message, node_id_); }

// ---- MapNode --------------------------------------------------------------------------------

Error MapNode::process(std::vector<Value>& items, std::vector<Value>& out, NodeContext& ctx) {
    Error err = begin(items, ctx);
    if (err.failed()) return err;
    out.clear();
    out.reserve(items.size());
    for (std::size_t i = 0; i < items.size(); ++i) {
        Value result;
        err = map(items[i], i, result, ctx);
        if (err.failed()) return err;
        items[i] = Value();  // release the input as soon as it is done
        out.push_back(std::move(result));
        ctx.progress(static_cast<double>(i + 1), static_cast<double>(items.size()), "items");
    }
    return ok();
}

// ---- Registry -------------------------------------------------------------------------------

Registry& Registry::get() {
    static Registry registry;
    return registry;
}

void Registry::add(const char* name, NodeFactory factory) { entries_.emplace_back(name, factory); }

NodeFactory Registry::find(std::string_view name) const {
    for (const auto& e : entries_) {
        if (e.first == name) return e.second;
    }
    if (const NodeSpec* spec = Catalog::get().find(name)) {
        for (const auto& e : entries_) {
            if (e.first == spec->name) return e.second;
        }
    }
    return nullptr;
}

std::vector<std::string> Registry::names() const {
    std::vector<std::string> out;
    for (const auto& e : entries_) out.push_back(e.first);
    return out;
}

std::vector<std::string> implemented_type_names() {
    std::vector<std::string> out;
    for (const std::string& name : Registry::get().names()) {
        out.push_back(name);
        if (const NodeSpec* spec = Catalog::get().find(name); spec && spec->name == name) {
            out.insert(out.end(), spec->aliases.begin(), spec->aliases.end());
        }
    }
    std::sort(out.begin(), out.end());
    out.erase(std::unique(out.begin(), out.end()), out.end());
    return out;
}

std::vector<std::string> missing_implementations() {
    std::vector<std::string> out;
    std::vector<std::string> have = Registry::get().names();
    for (const NodeSpec& spec : Catalog::get().nodes()) {
        if (std::find(have.begin(), have.end(), spec.name) == have.end()) out.push_back(spec.name);
    }
    return out;
}

std::vector<std::string> uncatalogued_implementations() {
    std::vector<std::string> out;
    for (const std::string& name : Registry::get().names()) {
        const NodeSpec* spec = Catalog::get().find(name);
        if (!spec || spec->name != name) out.push_back(name);
    }
    return out;
}

}  // namespace rm

// The node layer: what a node implementation sees and how it is found.
//
// Adding a node type:
//   1. declare it in rmstudio/core/manifest/catalog.py (params, input/output kinds, aliases);
//      the guest reads that catalog, so params arrive validated and complete;
//   2. write a class deriving from Node (or MapNode for one-item-in, one-item-out nodes) in a
//      runtime/src/nodes_<family>.cpp file;
//   3. register it under its catalog name: RM_REGISTER_NODE("WhisperNode", WhisperNode);
//      aliases come from the catalog and need no code.
// `describe` lists catalog types without an implementation, so a host test catches step 2/3
// being forgotten.
#pragma once

#include <cstddef>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "catalog.hpp"
#include "error.hpp"
#include "value.hpp"

namespace rm {

// A node's params: canonical names only, aliases resolved, catalog defaults filled in.
// Values have already been checked against the catalog (type, range, choices).
class Params {
  public:
    void set(std::string name, Value v) { values_.emplace_back(std::move(name), std::move(v)); }
    // Null when the param was neither given nor has a default.
    const Value* find(std::string_view name) const;
    bool has(std::string_view name) const { return find(name) != nullptr; }
    double number(std::string_view name, double fallback = 0) const;
    long long integer(std::string_view name, long long fallback = 0) const;
    bool boolean(std::string_view name, bool fallback = false) const;
    std::string string(std::string_view name, const std::string& fallback = std::string()) const;
    const Value::Object& all() const { return values_; }

  private:
    Value::Object values_;
};

// What a node may use while it runs: who it is, error helpers, events.
class NodeContext {
  public:
    NodeContext(std::string node_id, const NodeSpec& spec, bool is_source, bool input_is_list)
        : node_id_(std::move(node_id)), spec_(spec), is_source_(is_source), input_is_list_(input_is_list) {}
    // Call when the node starts: the progress rate limit counts from here.
    void start_clock(double t_ms) { last_progress_ms_ = t_ms; }

    const std::string& node_id() const { return node_id_; }
    const std::string& node_type() const { return spec_.name; }  // canonical catalog name
    const NodeSpec& spec() const { return spec_; }
    bool is_source() const { return is_source_; }

    // The run request's `options` (docs/CONTRACT.md, "Request"), e.g. `models`: null when the
    // request had none or the key is absent.
    void set_request_options(const Value* options) { options_ = options; }
    const Value* request_option(std::string_view key) const { return options_ ? options_->find(key) : nullptr; }

    // invalid_input: "node 'm' (MultiplyNode) <what>", with /input_data/<index> for sources.
    Error invalid_input(std::size_t index, const std::string& what) const;
    // node_failed: "node 'm' (MultiplyNode) failed: <what>".
    Error failed(const std::string& what) const;

    // A progress event (unit "items" or "s"); rate-limited so tight loops may call it freely.
    void progress(double done, double total, const char* unit);
    // A log event for this node (level "info" or "warning").
    void log(const std::string& message, const char* level = "info") const;

  private:
    std::string node_id_;
    const NodeSpec& spec_;
    bool is_source_;
    bool input_is_list_;
    const Value* options_ = nullptr;
    double last_progress_ms_ = -1.0;
    bool progress_sent_ = false;
    unsigned progress_calls_ = 0;
};

class Node {
  public:
    virtual ~Node() = default;
    // Called once, right before the node first runs.
    virtual Error init(const Params& params, NodeContext& ctx) { return ok(); }
    // `items` belongs to the node (it may move from them or modify unique arrays in place).
    // Unless the catalog marks the type `streaming`, `out` must get exactly one item per input.
    virtual Error process(std::vector<Value>& items, std::vector<Value>& out, NodeContext& ctx) = 0;
};

// Base for nodes that turn each item into one output item. Emits item progress.
class MapNode : public Node {
  public:
    Error process(std::vector<Value>& items, std::vector<Value>& out, NodeContext& ctx) override;

  protected:
    // Runs once before the items (e.g. to refuse a run that cannot succeed).
    virtual Error begin(const std::vector<Value>& items, NodeContext& ctx) { return ok(); }
    virtual Error map(Value& item, std::size_t index, Value& result, NodeContext& ctx) = 0;
};

using NodeFactory = std::unique_ptr<Node> (*)();

// Implementations by canonical catalog name. Lookups by alias go through the catalog.
class Registry {
  public:
    static Registry& get();
    void add(const char* name, NodeFactory factory);
    // By canonical name or catalog alias; null when not implemented.
    NodeFactory find(std::string_view name) const;
    // Registered canonical names, in registration order.
    std::vector<std::string> names() const;

  private:
    std::vector<std::pair<std::string, NodeFactory>> entries_;
};

struct Registration {
    Registration(const char* name, NodeFactory factory) { Registry::get().add(name, factory); }
};

#define RM_REGISTER_NODE(NAME, CLASS)                                       \
    static const ::rm::Registration rm_registration_##CLASS(               \
        NAME, []() -> std::unique_ptr<::rm::Node> { return std::unique_ptr<::rm::Node>(new CLASS()); })

// Implemented names plus their catalog aliases, sorted (describe's "node_types").
std::vector<std::string> implemented_type_names();
// Catalog types with no implementation, and implementations not in the catalog.
std::vector<std::string> missing_implementations();
std::vector<std::string> uncatalogued_implementations();

}  // namespace rm

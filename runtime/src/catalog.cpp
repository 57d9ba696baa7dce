#include "catalog.hpp"

#include <algorithm>

#include "catalog_gen.hpp"
#include "fatal.hpp"
#include "json_io.hpp"

namespace rm {

namespace {

std::string text_of(const Value& obj, std::string_view key) {
    const Value* v = obj.find(key);
    return v && v->is_string() ? v->as_string() : std::string();
}

bool flag_of(const Value& obj, std::string_view key) {
    const Value* v = obj.find(key);
    return v && v->is_bool() && v->as_bool();
}

std::vector<std::string> strings_of(const Value& obj, std::string_view key) {
    std::vector<std::string> out;
    const Value* v = obj.find(key);
    if (v && v->is_list()) {
        for (const Value& s : v->as_list()) {
            if (s.is_string()) out.push_back(s.as_string());
        }
    }
    return out;
}

}  // namespace

Catalog load_catalog() {
    Value doc;
    Error err = parse_json_text(RM_CATALOG_JSON, doc);
    if (err.failed() || !doc.is_object()) fatal_internal("the embedded node catalog is not valid JSON");
    const Value* nodes = doc.find("nodes");
    if (!nodes || !nodes->is_list()) fatal_internal("the embedded node catalog has no node list");
    Catalog cat;
    for (const Value& n : nodes->as_list()) {
        NodeSpec spec;
        spec.name = text_of(n, "node_type");
        if (spec.name.empty()) fatal_internal("the embedded node catalog has a node without node_type");
        spec.category = text_of(n, "category");
        spec.description = text_of(n, "description");
        spec.input = text_of(n, "input");
        spec.output = text_of(n, "output");
        spec.streaming = flag_of(n, "streaming");
        spec.source = flag_of(n, "source");
        spec.aliases = strings_of(n, "aliases");
        const Value* params = n.find("params");
        if (params && params->is_list()) {
            for (const Value& p : params->as_list()) {
                ParamSpec ps;
                ps.name = text_of(p, "name");
                ps.type = text_of(p, "type");
                ps.description = text_of(p, "description");
                ps.required = flag_of(p, "required");
                ps.nullable = flag_of(p, "nullable");
                if (const Value* d = p.find("default")) {
                    ps.has_default = true;
                    ps.default_value = *d;
                }
                if (const Value* m = p.find("minimum"); m && m->is_number()) {
                    ps.has_minimum = true;
                    ps.minimum = m->as_number();
                }
                if (const Value* m = p.find("maximum"); m && m->is_number()) {
                    ps.has_maximum = true;
                    ps.maximum = m->as_number();
                }
                ps.choices = strings_of(p, "choices");
                ps.aliases = strings_of(p, "aliases");
                spec.params.push_back(std::move(ps));
            }
        }
        cat.nodes_.push_back(std::move(spec));
    }
    return cat;
}

const Catalog& Catalog::get() {
    static const Catalog catalog = load_catalog();
    return catalog;
}

const ParamSpec* NodeSpec::param(std::string_view n) const {
    for (const ParamSpec& p : params) {
        if (p.name == n) return &p;
        for (const std::string& a : p.aliases) {
            if (a == n) return &p;
        }
    }
    return nullptr;
}

const NodeSpec* Catalog::find(std::string_view name) const {
    for (const NodeSpec& n : nodes_) {
        if (n.name == name) return &n;
        for (const std::string& a : n.aliases) {
            if (a == name) return &n;
        }
    }
    return nullptr;
}

std::vector<std::string> Catalog::all_names() const {
    std::vector<std::string> out;
    for (const NodeSpec& n : nodes_) {
        out.push_back(n.name);
        out.insert(out.end(), n.aliases.begin(), n.aliases.end());
    }
    std::sort(out.begin(), out.end());
    return out;
}

bool kinds_compatible(std::string_view produced, std::string_view accepted) {
    return produced == "any" || accepted == "any" || produced == accepted;
}

const char* executor_version() { return RM_EXECUTOR_VERSION; }
int contract_version() { return RM_CONTRACT_VERSION; }
const char* whisper_cpp_version() { return RM_WHISPER_CPP_VERSION; }

}  // namespace rm

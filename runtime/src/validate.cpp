#include "validate.hpp"

#include <algorithm>
#include <cmath>
#include <map>
#include <utility>

#include "json_io.hpp"
#include "typed_array.hpp"

namespace rm {

namespace {

// ---- Helpers --------------------------------------------------------------------------------

// difflib-style similarity: 2 * LCS / (len a + len b).
double similarity(const std::string& a, const std::string& b) {
    if (a.empty() && b.empty()) return 1.0;
    std::vector<std::size_t> prev(b.size() + 1, 0), cur(b.size() + 1, 0);
    for (std::size_t i = 1; i <= a.size(); ++i) {
        for (std::size_t j = 1; j <= b.size(); ++j) {
            cur[j] = a[i - 1] == b[j - 1] ? prev[j - 1] + 1 : std::max(prev[j], cur[j - 1]);
        }
        std::swap(prev, cur);
    }
    return 2.0 * static_cast<double>(prev[b.size()]) / static_cast<double>(a.size() + b.size());
}

// The closest candidate (similarity >= 0.6), or "".
std::string closest(const std::string& word, const std::vector<std::string>& candidates) {
    if (word.size() > 256) return std::string();
    double best = 0.0;
    std::string out;
    for (const std::string& c : candidates) {
        if (c.size() > 256) continue;
        double r = similarity(word, c);
        if (r >= 0.6 && r > best) {
            best = r;
            out = c;
        }
    }
    return out;
}

std::string did_you_mean(const std::string& word, const std::vector<std::string>& candidates) {
    std::string c = closest(word, candidates);
    return c.empty() ? std::string() : "Did you mean '" + c + "'?";
}

// JSON text of a value for messages, shortened.
std::string brief_json(const Value& v) {
    std::string text = to_json_text(v);
    if (text.size() > 120) text = text.substr(0, 117) + "...";
    return text;
}

std::string join(const std::vector<std::string>& parts, const char* sep) {
    std::string out;
    for (const std::string& p : parts) {
        if (!out.empty()) out += sep;
        out += p;
    }
    return out;
}

std::size_t code_points(const std::string& s) {
    std::size_t n = 0;
    for (unsigned char c : s) n += (c & 0xC0) != 0x80 ? 1 : 0;
    return n;
}

bool valid_node_id(const std::string& id) {
    if (id.empty()) return false;
    for (char c : id) {
        bool okc = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_' || c == '-';
        if (!okc) return false;
    }
    return true;
}

// ^[^:]+:\d+$
bool valid_host(const std::string& host) {
    std::size_t colon = host.find(':');
    if (colon == std::string::npos || colon == 0 || colon + 1 == host.size()) return false;
    for (std::size_t i = colon + 1; i < host.size(); ++i) {
        if (host[i] < '0' || host[i] > '9') return false;
    }
    return true;
}

bool has_type(const Value& v, const char* type) {
    std::string_view t(type);
    if (t == "object") return v.is_object();
    if (t == "array") return v.is_list();
    if (t == "string") return v.is_string();
    if (t == "boolean") return v.is_bool();
    return false;
}

// ---- Manifest structure (mirrors rmstudio/core/manifest/manifest.v1.schema.json) -----------

struct Tok {
    bool is_index;
    std::size_t index;
    std::string key;
};
using Toks = std::vector<Tok>;

Toks operator/(Toks base, std::string key) {
    base.push_back(Tok{false, 0, std::move(key)});
    return base;
}
Toks operator/(Toks base, std::size_t index) {
    base.push_back(Tok{true, index, std::string()});
    return base;
}

// The host sorts schema errors by path: index tokens before key tokens, indices numerically,
// keys as text, a path before any longer path it prefixes.
bool toks_less(const Toks& a, const Toks& b) {
    std::size_t n = std::min(a.size(), b.size());
    for (std::size_t i = 0; i < n; ++i) {
        const Tok& x = a[i];
        const Tok& y = b[i];
        if (x.is_index != y.is_index) return x.is_index;
        if (x.is_index) {
            if (x.index != y.index) return x.index < y.index;
        } else if (x.key != y.key) {
            return x.key < y.key;
        }
    }
    return a.size() < b.size();
}

class Structure {
  public:
    void check(const Value& m) {
        if (!m.find("version")) issue({}, "manifest is missing required field 'version'");
        if (!m.find("nodes")) issue({}, "manifest is missing required field 'nodes'");
        if (const Value* v = m.find("version")) {
            if (expect(*v, "string", Toks() / "version") && v->as_string() != "v1" && v->as_string() != "1.0" &&
                v->as_string() != "1") {
                issue(Toks() / "version",
                      "unsupported manifest version '" + v->as_string() + "'; RM Studio reads version \"v1\"");
            }
        }
        if (const Value* md = m.find("metadata")) {
            Toks at = Toks() / "metadata";
            if (expect(*md, "object", at)) {
                if (const Value* name = md->find("name"); name && expect(*name, "string", at / "name")) {
                    std::size_t len = code_points(name->as_string());
                    if (len < 1) issue(at / "name", "metadata.name must not be empty");
                    if (len > 255) issue(at / "name", "metadata.name is longer than 255 characters");
                }
                for (const char* key : {"description", "created_at", "version", "author"}) {
                    if (const Value* f = md->find(key)) expect(*f, "string", at / key);
                }
            }
        }
        if (const Value* rt = m.find("runtime")) {
            Toks at = Toks() / "runtime";
            if (expect(*rt, "object", at)) {
                for (const char* key : {"target", "min_version"}) {
                    if (const Value* f = rt->find(key)) expect(*f, "string", at / key);
                }
                if (const Value* f = rt->find("features"); f && expect(*f, "array", at / "features")) {
                    const Value::List& items = f->as_list();
                    for (std::size_t i = 0; i < items.size(); ++i) expect(items[i], "string", at / "features" / i);
                }
            }
        }
        if (const Value* nodes = m.find("nodes")) {
            Toks at = Toks() / "nodes";
            if (expect(*nodes, "array", at)) {
                const Value::List& items = nodes->as_list();
                if (items.empty()) issue(at, "manifest must contain at least one node");
                for (std::size_t i = 0; i < items.size(); ++i) check_node(items[i], at / i);
            }
        }
        if (const Value* conns = m.find("connections")) {
            Toks at = Toks() / "connections";
            if (expect(*conns, "array", at)) {
                const Value::List& items = conns->as_list();
                for (std::size_t i = 0; i < items.size(); ++i) check_connection(items[i], at / i);
            }
        }
    }

    bool found() const { return found_; }
    const std::string& message() const { return message_; }
    std::string pointer(const std::string& prefix) const {
        std::string out = prefix;
        for (const Tok& t : at_) {
            if (t.is_index)
                append_pointer(out, t.index);
            else
                append_pointer(out, t.key);
        }
        return out;
    }

  private:
    void issue(Toks at, std::string message) {
        if (!found_ || toks_less(at, at_)) {
            found_ = true;
            at_ = std::move(at);
            message_ = std::move(message);
        }
    }

    bool expect(const Value& v, const char* type, const Toks& at) {
        if (has_type(v, type)) return true;
        issue(at, std::string("expected ") + type + ", got " + v.json_type());
        return false;
    }

    void non_empty_string(const Value& v, const char* name, const Toks& at) {
        if (expect(v, "string", at) && v.as_string().empty()) issue(at, std::string(name) + " must not be empty");
    }

    void check_node(const Value& node, const Toks& at) {
        if (!expect(node, "object", at)) return;
        if (!node.find("id")) issue(at, "node is missing required field 'id'");
        if (!node.find("node_type") && !node.find("nodeType")) issue(at, "node is missing required field 'node_type'");
        if (const Value* id = node.find("id"); id && expect(*id, "string", at / "id") && !valid_node_id(id->as_string())) {
            issue(at / "id", "node id '" + id->as_string() + "' may only contain letters, digits, '_' and '-'");
        }
        if (const Value* t = node.find("node_type")) non_empty_string(*t, "node_type", at / "node_type");
        if (const Value* t = node.find("nodeType")) non_empty_string(*t, "nodeType", at / "nodeType");
        if (const Value* p = node.find("params")) expect(*p, "object", at / "params");
        if (const Value* s = node.find("is_streaming")) expect(*s, "boolean", at / "is_streaming");
        if (const Value* h = node.find("host"); h && expect(*h, "string", at / "host") && !valid_host(h->as_string())) {
            issue(at / "host", "host '" + h->as_string() + "' must look like 'name:port'");
        }
        if (const Value* r = node.find("runtime_hint")) {
            static const char* const hints[] = {"rust_python", "cpython", "cpython_wasm", "auto"};
            bool known = false;
            for (const char* h : hints) known = known || (r->is_string() && r->as_string() == h);
            if (!known) {
                issue(at / "runtime_hint",
                      "runtime_hint must be one of \"rust_python\", \"cpython\", \"cpython_wasm\", \"auto\"");
            }
        }
        if (const Value* c = node.find("capabilities")) expect(*c, "object", at / "capabilities");
    }

    void check_connection(const Value& conn, const Toks& at) {
        if (!expect(conn, "object", at)) return;
        if (!conn.find("from")) issue(at, "connection is missing required field 'from'");
        if (!conn.find("to")) issue(at, "connection is missing required field 'to'");
        if (const Value* f = conn.find("from")) non_empty_string(*f, "from", at / "from");
        if (const Value* t = conn.find("to")) non_empty_string(*t, "to", at / "to");
    }

    bool found_ = false;
    Toks at_;
    std::string message_;
};

// ---- Params ---------------------------------------------------------------------------------

Error check_param(const std::string& node_id, const ParamSpec& spec, const Value& v, const std::string& path) {
    auto bad = [&](const std::string& message) { return Error("invalid_param", message).at(path).node(node_id); };
    const std::string what = "param '" + spec.name + "'";
    if (v.is_null()) return spec.nullable ? ok() : bad(what + " must not be null");
    if (spec.type == "number" || spec.type == "integer") {
        if (!v.is_number()) return bad(what + " must be a number, got " + v.json_type());
        const double x = v.as_number();
        if (spec.type == "integer" && x != std::floor(x)) return bad(what + " must be a whole number, got " + number_text(x));
        if (spec.has_minimum && x < spec.minimum)
            return bad(what + " is " + number_text(x) + ", below the minimum " + number_text(spec.minimum));
        if (spec.has_maximum && x > spec.maximum)
            return bad(what + " is " + number_text(x) + ", above the maximum " + number_text(spec.maximum));
    } else if (spec.type == "string") {
        if (!v.is_string()) return bad(what + " must be a string, got " + v.json_type());
    } else if (spec.type == "boolean") {
        if (!v.is_bool()) return bad(what + " must be true or false, got " + v.json_type());
    } else if (spec.type == "enum") {
        bool known = false;
        for (const std::string& c : spec.choices) known = known || (v.is_string() && v.as_string() == c);
        if (!known) {
            std::vector<std::string> quoted;
            for (const std::string& c : spec.choices) quoted.push_back("\"" + c + "\"");
            return bad(what + " is " + brief_json(v) + "; choose one of " + join(quoted, ", "));
        }
    }
    return ok();
}

// Checks one node's params against its catalog entry, adds warnings, fills `out`.
Error check_params(const std::string& node_id, const NodeSpec& spec, const Value* params, const std::string& base,
                   std::vector<Error>& warnings, Params& out) {
    static const Value::Object kNone;
    const Value::Object& given = params && params->is_object() ? params->as_object() : kNone;
    auto find = [&](const std::string& name) -> const Value* {
        for (const Value::Member& m : given) {
            if (m.first == name) return &m.second;
        }
        return nullptr;
    };
    for (const ParamSpec& p : spec.params) {
        std::vector<const std::string*> present;
        if (find(p.name)) present.push_back(&p.name);
        for (const std::string& a : p.aliases) {
            if (find(a)) present.push_back(&a);
        }
        if (present.empty()) {
            if (p.required) {
                std::string desc = p.description;
                while (!desc.empty() && desc.back() == '.') desc.pop_back();
                return Error("missing_param", spec.name + " needs param '" + p.name + "' (" + desc + ")")
                    .at(base)
                    .node(node_id)
                    .with_hint("Add \"" + p.name + "\" to the node's params");
            }
            if (p.has_default) out.set(p.name, p.default_value);
            continue;
        }
        const std::string& used = *present[0];
        if (used == p.name && present.size() > 1) {
            warnings.push_back(Error("both_aliases", "both '" + p.name + "' and '" + *present[1] + "' are given; '" +
                                                         p.name + "' is used")
                                   .at(pointer_join(base, *present[1]))
                                   .node(node_id));
        } else if (used != p.name) {
            warnings.push_back(
                Error("param_alias", "'" + used + "' is read as '" + p.name + "'").at(pointer_join(base, used)).node(node_id));
        }
        const Value& value = *find(used);
        Error err = check_param(node_id, p, value, pointer_join(base, used));
        if (err.failed()) return err;
        out.set(p.name, value);
    }
    std::vector<std::string> names;
    for (const ParamSpec& p : spec.params) names.push_back(p.name);
    for (const Value::Member& m : given) {
        if (spec.param(m.first)) continue;
        warnings.push_back(Error("unknown_param", spec.name + " has no param '" + m.first + "'; it is kept but ignored")
                               .at(pointer_join(base, m.first))
                               .node(node_id)
                               .with_hint(did_you_mean(m.first, names)));
    }
    return ok();
}

// ---- Manifest -------------------------------------------------------------------------------

Error validate_manifest(const Value& m, const std::string& prefix, Plan& plan) {
    Structure structure;
    structure.check(m);
    if (structure.found()) return Error("invalid_manifest", structure.message()).at(structure.pointer(prefix));

    std::vector<Error>& warnings = plan.warnings;
    const std::string& version = m.find("version")->as_string();
    if (version != "v1") {
        warnings.push_back(
            Error("version_alias", "version '" + version + "' is read as \"v1\"").at(pointer_join(prefix, "version")));
    }
    if (!m.find("metadata")) warnings.push_back(Error("missing_metadata", "manifest has no metadata (name)").at(prefix));
    if (!m.find("connections")) {
        warnings.push_back(Error("missing_connections", "manifest has no 'connections'; none are assumed").at(prefix));
    }

    const Value::List& nodes = m.find("nodes")->as_list();
    const std::string nodes_path = pointer_join(prefix, "nodes");

    // Ids.
    std::map<std::string, std::size_t> index_of;
    std::vector<std::string> ids;
    for (std::size_t n = 0; n < nodes.size(); ++n) {
        const std::string& id = nodes[n].find("id")->as_string();
        if (index_of.count(id)) {
            return Error("duplicate_node_id", "node id '" + id + "' is used twice")
                .at(pointer_join(pointer_join(nodes_path, n), "id"))
                .node(id)
                .with_hint("Node ids must be unique");
        }
        index_of.emplace(id, n);
        ids.push_back(id);
    }

    // Node types.
    const Catalog& catalog = Catalog::get();
    plan.nodes.resize(nodes.size());
    for (std::size_t n = 0; n < nodes.size(); ++n) {
        const Value& node = nodes[n];
        const char* key = node.find("node_type") ? "node_type" : "nodeType";
        const std::string node_path = pointer_join(nodes_path, n);
        if (std::string_view(key) == "nodeType") {
            warnings.push_back(
                Error("field_alias", "'nodeType' is read as 'node_type'").at(pointer_join(node_path, "nodeType")).node(ids[n]));
        }
        const std::string& type = node.find(key)->as_string();
        const NodeSpec* spec = catalog.find(type);
        if (!spec) {
            std::vector<std::string> known = catalog.all_names();
            std::string hint = did_you_mean(type, known);
            if (!hint.empty()) hint += " ";
            return Error("unknown_node_type", "unknown node type '" + type + "'; known types: " + join(known, ", "))
                .at(pointer_join(node_path, key))
                .node(ids[n])
                .with_hint(hint + "`rmstudio nodes` lists the types RM Studio runs");
        }
        if (!Registry::get().find(spec->name)) {
            return Error("unknown_node_type", "node type '" + spec->name +
                                                  "' is in the catalog but this executor (version " +
                                                  executor_version() + ") does not implement it")
                .at(pointer_join(node_path, key))
                .node(ids[n])
                .with_hint("Rebuild the guest runtime (python runtime/build.py)");
        }
        plan.nodes[n].id = ids[n];
        plan.nodes[n].spec = spec;
    }

    // Params.
    for (std::size_t n = 0; n < nodes.size(); ++n) {
        Error err = check_params(ids[n], *plan.nodes[n].spec, nodes[n].find("params"),
                                 pointer_join(pointer_join(nodes_path, n), "params"), warnings, plan.nodes[n].params);
        if (err.failed()) return err;
    }

    // Connections.
    const std::string conns_path = pointer_join(prefix, "connections");
    std::vector<std::pair<std::size_t, std::size_t>> edges;
    std::map<std::pair<std::size_t, std::size_t>, std::size_t> edge_conn;  // edge -> connection index
    if (const Value* conns = m.find("connections")) {
        const Value::List& list = conns->as_list();
        for (std::size_t c = 0; c < list.size(); ++c) {
            const std::string& from = list[c].find("from")->as_string();
            const std::string& to = list[c].find("to")->as_string();
            const std::string conn_path = pointer_join(conns_path, c);
            for (int end = 0; end < 2; ++end) {
                const std::string& name = end == 0 ? from : to;
                if (index_of.count(name)) continue;
                return Error("dangling_connection", std::string("connection ") + (end == 0 ? "source" : "target") + " '" +
                                                        name + "' is not a node in this manifest")
                    .at(pointer_join(conn_path, end == 0 ? "from" : "to"))
                    .with_hint(did_you_mean(name, ids));
            }
            std::pair<std::size_t, std::size_t> edge(index_of[from], index_of[to]);
            if (edge_conn.count(edge)) {
                return Error("duplicate_connection", "connection " + from + " -> " + to + " is listed twice").at(conn_path);
            }
            edge_conn.emplace(edge, c);
            edges.push_back(edge);
        }
    }
    plan.graph = Graph(nodes.size(), std::move(edges));

    // Cycles.
    std::vector<std::size_t> cycle;
    if (plan.graph.find_cycle(cycle)) {
        std::string spelled;
        for (std::size_t i = 0; i < cycle.size(); ++i) spelled += (i ? " -> " : "") + ids[cycle[i]];
        return Error("cycle", "pipeline contains a cycle: " + spelled)
            .at(pointer_join(conns_path, edge_conn[{cycle[0], cycle[1]}]))
            .with_hint("Remove one of the connections on the cycle");
    }
    if (!plan.graph.order(plan.order)) return Error("internal_error", "no execution order for an acyclic graph");

    // Data kinds along every connection, in execution order.
    std::vector<std::string> produced(nodes.size());
    for (std::size_t node : plan.order) {
        const NodeSpec& spec = *plan.nodes[node].spec;
        std::vector<std::string> upstream;
        for (std::size_t src : plan.graph.inputs(node)) {
            if (!kinds_compatible(produced[src], spec.input)) {
                return Error("type_mismatch", "'" + ids[src] + "' produces " + produced[src] + " data but '" + ids[node] +
                                                  "' (" + spec.name + ") accepts " + spec.input)
                    .at(pointer_join(conns_path, edge_conn[{src, node}]))
                    .node(ids[node]);
            }
            if (std::find(upstream.begin(), upstream.end(), produced[src]) == upstream.end())
                upstream.push_back(produced[src]);
        }
        if (spec.output == "same")
            produced[node] = upstream.size() == 1 ? upstream[0] : "any";
        else
            produced[node] = spec.output;
    }
    return ok();
}

// ---- Input items ----------------------------------------------------------------------------

// Reads file references ("encoding": "file") into typed arrays, and finds typed-array
// objects the parser could not decode and reports why (invalid_input). Depth first, in
// document order, as the reference executor converts its input (core/native/values.py).
Error resolve_input(Value& v, std::string& path) {
    if (v.is_object()) {
        if (is_file_reference(v)) {
            Value array;
            Error err = read_file_reference(v, array);
            if (err.failed()) {
                err.path = path + err.path;
                return err;
            }
            v = std::move(array);
            return ok();
        }
        if (looks_like_typed_array(v)) {
            Value decoded;
            Error err = decode_typed_array(v, decoded);
            if (err.failed()) err.path = path + err.path;
            return err;
        }
        for (Value::Member& m : *v.mutable_object()) {
            std::size_t len = path.size();
            append_pointer(path, m.first);
            Error err = resolve_input(m.second, path);
            if (err.failed()) return err;
            path.resize(len);
        }
    } else if (v.is_list()) {
        Value::List& items = *v.mutable_list();
        for (std::size_t i = 0; i < items.size(); ++i) {
            if (!items[i].is_object() && !items[i].is_list()) continue;  // numbers: nothing to do
            std::size_t len = path.size();
            append_pointer(path, i);
            Error err = resolve_input(items[i], path);
            if (err.failed()) return err;
            path.resize(len);
        }
    }
    return ok();
}

}  // namespace

Error plan_request(Value request, Plan& plan) {
    if (!request.is_object()) {
        return Error("invalid_request", std::string("the request must be a JSON object, got ") + request.json_type()).at("");
    }
    if (const Value* cmd = request.find("command")) {
        if (!cmd->is_string() || (cmd->as_string() != "run" && cmd->as_string() != "describe")) {
            return Error("invalid_request", "command must be \"run\", \"describe\" or \"quantize\"").at("/command");
        }
        plan.describe = cmd->as_string() == "describe";
    }
    if (const Value* opts = request.find("options"); opts && !opts->is_null()) {
        if (!opts->is_object()) {
            return Error("invalid_request", std::string("options must be an object, got ") + opts->json_type()).at("/options");
        }
        const Value* events = opts->find("events");
        if (events && events->is_bool()) plan.events = events->as_bool();
        if (const Value* enc = opts->find("array_encoding")) {
            if (!enc->is_string() || !array_encoding_from_name(enc->as_string(), plan.encoding)) {
                return Error("invalid_request", "options.array_encoding must be one of auto, json, base64")
                    .at("/options/array_encoding");
            }
        }
        if (events && !events->is_bool()) {
            return Error("invalid_request", std::string("options.events must be true or false, got ") + events->json_type())
                .at("/options/events");
        }
        if (const Value* models = opts->find("models"); models && !models->is_null()) {
            if (!models->is_object()) {
                return Error("invalid_request", std::string("options.models must be an object mapping model names to "
                                                            "guest paths, got ") + models->json_type())
                    .at("/options/models");
            }
            for (const Value::Member& m : models->as_object()) {
                if (!m.second.is_string()) {
                    return Error("invalid_request", "options.models['" + m.first + "'] must be a guest path (a string), got " +
                                                        m.second.json_type())
                        .at(pointer_join("/options/models", m.first));
                }
            }
        }
        plan.options = *opts;
    }
    if (plan.describe) return ok();

    const Value* manifest = request.find("manifest");
    const Value* input = nullptr;
    std::string prefix;
    if (manifest) {
        if (!manifest->is_object()) {
            return Error("invalid_request", std::string("manifest must be a JSON object, got ") + manifest->json_type())
                .at("/manifest");
        }
        prefix = "/manifest";
        input = request.find("input_data");
    } else if (request.find("nodes")) {
        manifest = &request;  // a bare manifest: no input
    } else {
        return Error("invalid_request", "the request has no 'manifest'")
            .at("")
            .with_hint("Send {\"manifest\": {...}, \"input_data\": [...]}");
    }

    Error err = validate_manifest(*manifest, prefix, plan);
    if (err.failed()) return err;

    if (input && !input->is_null()) {
        plan.input_is_list = input->is_list();
        Value* owned = request.find_owned("input_data");
        if (plan.input_is_list)
            plan.items = owned ? owned->take_list() : input->as_list();
        else
            plan.items.push_back(owned ? std::move(*owned) : *input);
        for (std::size_t i = 0; i < plan.items.size(); ++i) {
            std::string path = plan.input_is_list ? "/input_data/" + std::to_string(i) : std::string("/input_data");
            err = resolve_input(plan.items[i], path);
            if (err.failed()) return err;
        }
    }
    return ok();
}

}  // namespace rm

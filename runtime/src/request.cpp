// One request: reads one JSON run request on stdin, runs the pipeline, writes one JSON result
// on stdout and JSON-lines events on stderr. The contract is docs/CONTRACT.md. Two entry points
// call handle_request(): the WASI command's main() (entry/command.cpp, one request per
// instance) and the reactor's rm_serve export (entry/reactor.cpp, many requests per instance).
#include "request.hpp"

#include <cmath>
#include <cstdint>
#include <cstdlib>
#include <string>
#include <vector>

#include "catalog.hpp"
#include "events.hpp"
#include "executor.hpp"
#include "fatal.hpp"
#include "json_io.hpp"
#include "node.hpp"
#include "output.hpp"
#include "quantize.hpp"
#include "validate.hpp"

namespace rm {
namespace {

// The largest request the guest reads. RM_MAX_REQUEST_BYTES in the environment may lower it.
constexpr std::uint64_t kMaxRequestBytes = std::uint64_t(1) << 30;

std::uint64_t max_request_bytes() {
    const char* env = std::getenv("RM_MAX_REQUEST_BYTES");
    if (env && *env) {
        char* end = nullptr;
        unsigned long long v = std::strtoull(env, &end, 10);
        if (end && *end == 0 && v > 0 && v < kMaxRequestBytes) return v;
    }
    return kMaxRequestBytes;
}

void write_string_list(JsonWriter& w, const std::vector<std::string>& items) {
    w.begin_array();
    for (const std::string& s : items) w.string(s);
    w.end_array();
}

}  // namespace

int write_failure(const Error& err) {
    {
        FdSink out(1);
        JsonWriter w(out);
        w.begin_object();
        w.field_bool("ok", false);
        w.key("error");
        w.begin_object();
        write_error_fields(w, err);
        w.end_object();
        w.end_object();
        out.write("\n", 1);
    }
    events::finish(false);
    return 1;
}

namespace {

int describe() {
    {
        FdSink out(1);
        JsonWriter w(out);
        w.begin_object();
        w.field_bool("ok", true);
        w.key("executor");
        w.begin_object();
        w.field("name", "rm_executor");
        w.field("version", executor_version());
        w.field_uint("contract", static_cast<std::uint64_t>(contract_version()));
        w.field("whisper_cpp", whisper_cpp_version());
        w.end_object();
        w.key("node_types");
        write_string_list(w, implemented_type_names());
        w.key("catalog_node_types");
        write_string_list(w, Catalog::get().all_names());
        w.key("missing_implementations");
        write_string_list(w, missing_implementations());
        w.key("uncatalogued_implementations");
        write_string_list(w, uncatalogued_implementations());
        w.key("features");
        w.begin_object();
        w.field_bool("whisper", true);
        w.field("whisper_system_info", whisper_system_info());
        w.key("quantize_types");
        write_string_list(w, quantize_type_names());
        w.end_object();
        w.key("dtypes");
        w.begin_array();
        for (int d = 0; d <= static_cast<int>(DType::UInt64); ++d) w.string(dtype_info(static_cast<DType>(d)).name);
        w.end_array();
        w.key("limits");
        w.begin_object();
        w.field_uint("max_request_bytes", max_request_bytes());
        w.field_uint("max_nesting", kMaxNesting);
        w.end_object();
        w.end_object();
        out.write("\n", 1);
    }
    events::finish(true);
    return 0;
}

int write_result(const Plan& plan, const RunOutcome& outcome, std::uint64_t request_bytes, double parse_ms) {
    {
        FdSink out(1);
        JsonWriter w(out);
        w.begin_object();
        w.field_bool("ok", true);
        w.key("outputs");
        w.begin_array();
        for (const Value& v : outcome.outputs) write_value(w, v, plan.encoding);
        w.end_array();

        w.key("graph_info");
        w.begin_object();
        w.field_uint("node_count", plan.nodes.size());
        w.field_uint("source_count", plan.graph.source_count());
        w.field_uint("sink_count", plan.graph.sink_count());
        w.field_uint("connection_count", plan.graph.edges().size());
        w.key("execution_order");
        w.begin_array();
        for (std::size_t i : plan.order) w.string(plan.nodes[i].id);
        w.end_array();
        w.end_object();

        w.key("metrics");
        w.begin_object();
        w.field_number("total_ms", std::round(now_ms() * 1000.0) / 1000.0);
        w.field_uint("peak_memory_bytes", peak_memory_bytes());
        w.field_number("parse_ms", std::round(parse_ms * 1000.0) / 1000.0);
        w.field_uint("request_bytes", request_bytes);
        w.key("nodes");
        w.begin_array();
        for (const NodeMetrics& m : outcome.nodes) {
            w.begin_object();
            w.field("node_id", m.node_id);
            w.field("node_type", m.node_type);
            w.field_number("duration_ms", std::round(m.duration_ms * 1000.0) / 1000.0);
            w.field_uint("items_in", m.items_in);
            w.field_uint("items_out", m.items_out);
            w.end_object();
        }
        w.end_array();
        w.end_object();

        w.key("warnings");
        w.begin_array();
        for (const Error& warning : plan.warnings) {
            w.begin_object();
            write_error_fields(w, warning);
            w.field("severity", "warning");
            w.end_object();
        }
        w.end_array();
        w.end_object();
        out.write("\n", 1);
    }
    events::finish(true);
    return 0;
}

}  // namespace

int handle_request() {
    begin_request();
    clock_start();
    Catalog::get();  // parse the embedded catalog up front: a bad one is an internal error

    Value request;
    std::uint64_t request_bytes = 0;
    Error err = parse_request_stdin(max_request_bytes(), request, request_bytes);
    const double parse_ms = now_ms();
    if (err.failed()) return write_failure(err);
    if (is_quantize_request(request)) return run_quantize(request);  // quantize.cpp

    Plan plan;
    err = plan_request(std::move(request), plan);
    set_events_enabled(plan.events);
    if (err.failed()) return write_failure(err);
    if (plan.describe) return describe();

    RunOutcome outcome;
    err = execute(plan, outcome);
    if (err.failed()) return write_failure(err);
    return write_result(plan, outcome, request_bytes, parse_ms);
}

}  // namespace rm

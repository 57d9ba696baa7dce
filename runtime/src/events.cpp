#include "events.hpp"

#include <cmath>
#include <time.h>

#include "fatal.hpp"
#include "json_io.hpp"

namespace rm {

namespace {

double g_t0_ms = -1.0;
std::uint64_t g_peak = 0;
bool g_events = true;

double monotonic_ms() noexcept {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return static_cast<double>(ts.tv_sec) * 1e3 + static_cast<double>(ts.tv_nsec) / 1e6;
}

// Milliseconds rounded to microseconds: short, and plenty for the host's graphs.
double rounded_ms(double ms) { return std::round(ms * 1000.0) / 1000.0; }

// One event line: {"event": name, ...fields written by `body`..., "t_ms", "memory_bytes"}.
template <class Body>
void emit(const char* name, bool with_memory, Body&& body) {
    if (!g_events) return;
    StringSink sink;
    {
        JsonWriter w(sink);
        w.begin_object();
        w.field("event", name);
        body(w);
        w.field_number("t_ms", rounded_ms(now_ms()));
        if (with_memory) w.field_uint("memory_bytes", sample_memory());
        w.end_object();
    }
    sink.text += '\n';
    write_all(2, sink.text.data(), sink.text.size());
}

}  // namespace

void clock_start() noexcept {
    g_t0_ms = monotonic_ms();
    g_peak = 0;  // a warm instance starts each request's peak afresh (from the current size)
    g_events = true;
}

double now_ms() noexcept {
    if (g_t0_ms < 0) g_t0_ms = monotonic_ms();
    return monotonic_ms() - g_t0_ms;
}

std::uint64_t memory_bytes() noexcept {
#if defined(__wasm__)
    return static_cast<std::uint64_t>(__builtin_wasm_memory_size(0)) * 65536u;
#else
    return 0;
#endif
}

std::uint64_t sample_memory() noexcept {
    std::uint64_t m = memory_bytes();
    if (m > g_peak) g_peak = m;
    return m;
}

std::uint64_t peak_memory_bytes() noexcept {
    sample_memory();
    return g_peak;
}

bool events_enabled() noexcept { return g_events; }
void set_events_enabled(bool on) noexcept { g_events = on; }

namespace events {

void start(std::size_t node_count, std::size_t item_count) {
    emit("start", true, [&](JsonWriter& w) {
        w.field_uint("node_count", node_count);
        w.field_uint("item_count", item_count);
    });
}

void node_start(const std::string& node_id, const std::string& node_type) {
    emit("node_start", true, [&](JsonWriter& w) {
        w.field("node_id", node_id);
        w.field("node_type", node_type);
    });
}

void node_finish(const std::string& node_id, const std::string& node_type, double duration_ms, std::size_t items_in,
                 std::size_t items_out) {
    emit("node_finish", true, [&](JsonWriter& w) {
        w.field("node_id", node_id);
        w.field("node_type", node_type);
        w.field_number("duration_ms", rounded_ms(duration_ms));
        w.field_uint("items_in", items_in);
        w.field_uint("items_out", items_out);
    });
}

void progress(const std::string& node_id, double done, double total, const char* unit) {
    emit("progress", true, [&](JsonWriter& w) {
        w.field("node_id", node_id);
        w.field_number("done", done);
        w.field_number("total", total);
        w.field("unit", unit);
    });
}

void tensor_progress(const std::string& node_id, const std::string& tensor, std::size_t index, std::size_t count,
                     std::uint64_t done_bytes, std::uint64_t total_bytes, const char* from, const char* to) {
    emit("progress", true, [&](JsonWriter& w) {
        w.field("node_id", node_id);
        w.field_uint("done", done_bytes);
        w.field_uint("total", total_bytes);
        w.field("unit", "bytes");
        w.field("tensor", tensor);
        w.field_uint("index", index);
        w.field_uint("count", count);
        w.field("from", from);
        w.field("to", to);
    });
}

void segment(const std::string& node_id, double start, double end, const std::string& text) {
    emit("segment", true, [&](JsonWriter& w) {
        w.field("node_id", node_id);
        w.field_number("start", start);
        w.field_number("end", end);
        w.field("text", text);
    });
}

void log(const char* level, const std::string& message, const std::string& node_id) {
    emit("log", false, [&](JsonWriter& w) {
        w.field("level", level);
        w.field("message", message);
        if (!node_id.empty()) w.field("node_id", node_id);
    });
}

void finish(bool ok) {
    emit("finish", false, [&](JsonWriter& w) {
        w.field_bool("ok", ok);
        w.field_uint("peak_memory_bytes", peak_memory_bytes());
    });
}

}  // namespace events

}  // namespace rm

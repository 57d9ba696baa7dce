// Telemetry: the guest clock, its linear-memory size, and the JSON-lines event stream on
// stderr (docs/CONTRACT.md, "Events"). Every line is written with one write(2) call, so it
// reaches the host as soon as it is emitted.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>

namespace rm {

// Milliseconds since the guest started (WASI monotonic clock). No allocation.
double now_ms() noexcept;
// Call first thing in a request: fixes t = 0, restarts the peak, turns events back on.
void clock_start() noexcept;

// Current linear-memory size in bytes (__builtin_wasm_memory_size(0) * 64 KiB). No allocation.
std::uint64_t memory_bytes() noexcept;
// Samples the current size, records it in the peak, and returns it. No allocation.
std::uint64_t sample_memory() noexcept;
// The largest size seen so far (sampled at every event and at the end of the run).
std::uint64_t peak_memory_bytes() noexcept;

// Whether events go to stderr (options.events). Read by the fatal paths as well.
bool events_enabled() noexcept;
void set_events_enabled(bool on) noexcept;

// The event stream. All functions are no-ops when events are disabled.
namespace events {
void start(std::size_t node_count, std::size_t item_count);
void node_start(const std::string& node_id, const std::string& node_type);
void node_finish(const std::string& node_id, const std::string& node_type, double duration_ms,
                 std::size_t items_in, std::size_t items_out);
void progress(const std::string& node_id, double done, double total, const char* unit);
// A transcript segment as soon as it is decoded (times in seconds of the original recording).
void segment(const std::string& node_id, double start, double end, const std::string& text);
// Model quantization: a `progress` event per tensor written, in input bytes ("unit": "bytes"),
// naming the tensor, its position (index of count) and its type before and after.
void tensor_progress(const std::string& node_id, const std::string& tensor, std::size_t index, std::size_t count,
                     std::uint64_t done_bytes, std::uint64_t total_bytes, const char* from, const char* to);
// level is "info" or "warning"; node_id may be empty.
void log(const char* level, const std::string& message, const std::string& node_id = std::string());
void finish(bool ok);
}  // namespace events

}  // namespace rm

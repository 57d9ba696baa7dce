// JSON in and out.
//
// In: nlohmann's SAX parser (no exceptions) feeding a builder that makes Values directly, so
// the request never exists as a second DOM. stdin is streamed through a fixed buffer, never
// held whole; valid typed arrays under the request's top-level "input_data" are decoded to raw
// buffers the moment their object closes, so their base64 text is freed at once.
//
// Out: a small streaming writer. It allocates nothing while writing (fixed nesting stack,
// numbers formatted on the stack), so a result can stream straight to stdout.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "error.hpp"
#include "value.hpp"

namespace rm {

// Deepest nesting of arrays/objects accepted in a request.
constexpr std::size_t kMaxNesting = 1000;

// Reads all of stdin (at most max_bytes) and parses it as one JSON document.
// Errors: request_too_large, invalid_json (with line and column).
Error parse_request_stdin(std::size_t max_bytes, Value& out, std::uint64_t& bytes_read);

// Parses a complete JSON text held in memory (the embedded catalog).
Error parse_json_text(std::string_view text, Value& out);

// ---- Output -------------------------------------------------------------------------------

class Sink {
  public:
    virtual ~Sink() = default;
    virtual void write(const char* data, std::size_t n) = 0;
};

class StringSink final : public Sink {
  public:
    std::string text;
    void write(const char* data, std::size_t n) override { text.append(data, n); }
};

// Buffered writes to a file descriptor; never allocates. Flushes when full and on flush().
class FdSink final : public Sink {
  public:
    explicit FdSink(int fd) : fd_(fd) {}
    ~FdSink() override { flush(); }
    void write(const char* data, std::size_t n) override;
    void flush();

  private:
    int fd_;
    std::size_t len_ = 0;
    char buf_[1 << 16];
};

// Formats a number as the contract writes it: whole values within ±2^53 as integers,
// non-finite values as null, anything else as the shortest text that reads back exactly
// (whole values beyond 2^53 in exponent form, so every reader sees a float). buf >= 40 chars.
std::size_t format_number(double x, char* buf);
std::string number_text(double x);

class JsonWriter {
  public:
    explicit JsonWriter(Sink& out) : out_(out) { first_[0] = true; }

    void begin_object() { open('{'); }
    void end_object() { close('}'); }
    void begin_array() { open('['); }
    void end_array() { close(']'); }
    void key(std::string_view k);
    void string(std::string_view s);
    void number(double x);
    void uinteger(std::uint64_t x);
    void boolean(bool b);
    void null();

    // A string written in pieces whose characters need no escaping (base64 text).
    void begin_raw_string();
    void raw(const char* data, std::size_t n) { out_.write(data, n); }
    void end_raw_string() { out_.write("\"", 1); }

    // Convenience: key + value.
    void field(std::string_view k, std::string_view v) { key(k); string(v); }
    void field_number(std::string_view k, double v) { key(k); number(v); }
    void field_uint(std::string_view k, std::uint64_t v) { key(k); uinteger(v); }
    void field_bool(std::string_view k, bool v) { key(k); boolean(v); }

    Sink& sink() { return out_; }

  private:
    static constexpr std::size_t kDepth = kMaxNesting + 64;
    void before_value();
    void open(char c);
    void close(char c);
    void escaped(std::string_view s);

    Sink& out_;
    std::size_t depth_ = 0;
    bool after_key_ = false;
    bool first_[kDepth + 1];
};

// JSON pointer helpers: append "/<escaped key>" or "/<index>" to a path.
void append_pointer(std::string& path, std::string_view key);
void append_pointer(std::string& path, std::size_t index);
std::string pointer_join(std::string path, std::string_view key);
std::string pointer_join(std::string path, std::size_t index);

// Writes an error (or a warning) object: code, message, path, node_id, hint, line, column.
void write_error_fields(JsonWriter& w, const Error& e);

}  // namespace rm

#include "json_io.hpp"

#include <algorithm>
#include <cerrno>
#include <charconv>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <iterator>
#include <memory>
#include <unistd.h>

#include <nlohmann/json.hpp>

#include "fatal.hpp"
#include "stdin_reader.hpp"
#include "typed_array.hpp"

namespace rm {

namespace {

using njson = nlohmann::json;

// ---- SAX handler building Values ------------------------------------------------------------

// Removes duplicate keys the way JSON readers usually do (Python's json too): the last value
// wins and keeps the position of the first occurrence.
void dedupe_keys(Value::Object& members) {
    const std::size_t n = members.size();
    if (n < 2) return;
    std::vector<bool> drop(n, false);
    bool any = false;
    if (n <= 16) {
        for (std::size_t i = 1; i < n; ++i) {
            for (std::size_t j = 0; j < i; ++j) {
                if (!drop[j] && members[j].first == members[i].first) {
                    members[j].second = std::move(members[i].second);
                    drop[i] = any = true;
                    break;
                }
            }
        }
    } else {
        // Sorting indices by key (stable, so each run of equal keys is in document order).
        std::vector<std::size_t> order(n);
        for (std::size_t i = 0; i < n; ++i) order[i] = i;
        std::stable_sort(order.begin(), order.end(),
                         [&](std::size_t a, std::size_t b) { return members[a].first < members[b].first; });
        std::size_t k = 0;
        while (k < n) {
            std::size_t run = k + 1;
            while (run < n && members[order[run]].first == members[order[k]].first) ++run;
            if (run - k > 1) {
                members[order[k]].second = std::move(members[order[run - 1]].second);
                for (std::size_t r = k + 1; r < run; ++r) drop[order[r]] = true;
                any = true;
            }
            k = run;
        }
    }
    if (!any) return;
    std::size_t out = 0;
    for (std::size_t i = 0; i < n; ++i) {
        if (drop[i]) continue;
        if (out != i) members[out] = std::move(members[i]);
        ++out;
    }
    members.resize(out);
}

class Builder {
  public:
    Builder(bool decode_input_arrays, StdinReader* reader)
        : decode_input_arrays_(decode_input_arrays), reader_(reader) {}

    bool null() { return add(Value()); }
    bool boolean(bool b) { return add(Value::boolean(b)); }
    bool number_integer(njson::number_integer_t v) { return add(Value::number(static_cast<double>(v))); }
    bool number_unsigned(njson::number_unsigned_t v) { return add(Value::number(static_cast<double>(v))); }
    bool number_float(njson::number_float_t v, const njson::string_t&) { return add(Value::number(v)); }
    bool string(njson::string_t& s) {
        if (reader_ && reader_->has_diverted()) return add(Value::string(reader_->take_diverted()));
        return add(Value::string(std::move(s)));
    }
    bool binary(njson::binary_t&) { return false; }  // not produced by JSON text
    bool start_object(std::size_t) { return push(true); }
    bool key(njson::string_t& k) {
        frames_.back().key = reader_ && reader_->has_diverted() ? reader_->take_diverted() : std::move(k);
        return true;
    }
    bool end_object() {
        Frame f = std::move(frames_.back());
        frames_.pop_back();
        dedupe_keys(f.object);
        Value v = Value::object(std::move(f.object));
        if (f.input && decode_input_arrays_ && looks_like_typed_array(v)) {
            // Invalid ones stay objects; the input check reports them with their path.
            Value decoded;
            if (decode_typed_array(v, decoded).ok()) v = std::move(decoded);
        }
        return add(std::move(v));
    }
    bool start_array(std::size_t) { return push(false); }
    bool end_array() {
        Frame f = std::move(frames_.back());
        frames_.pop_back();
        return add(Value::list(std::move(f.list)));
    }
    bool parse_error(std::size_t, const std::string&, const nlohmann::detail::exception& ex) {
        message_ = ex.what();
        return false;
    }

    Value take_root() { return std::move(root_); }
    bool too_deep() const { return too_deep_; }
    const std::string& message() const { return message_; }

  private:
    struct Frame {
        bool is_object = false;
        bool input = false;  // inside the request's top-level "input_data"
        Value::List list;
        Value::Object object;
        std::string key;
    };

    bool push(bool is_object) {
        if (frames_.size() >= kMaxNesting) {
            too_deep_ = true;
            return false;
        }
        bool input = false;
        if (!frames_.empty()) {
            const Frame& parent = frames_.back();
            input = parent.input || (frames_.size() == 1 && parent.is_object && parent.key == "input_data");
        }
        frames_.emplace_back();
        frames_.back().is_object = is_object;
        frames_.back().input = input;
        return true;
    }

    bool add(Value v) {
        if (frames_.empty()) {
            root_ = std::move(v);
            return true;
        }
        Frame& f = frames_.back();
        if (f.is_object)
            f.object.emplace_back(std::move(f.key), std::move(v));
        else
            f.list.push_back(std::move(v));
        return true;
    }

    bool decode_input_arrays_;
    StdinReader* reader_;
    bool too_deep_ = false;
    std::vector<Frame> frames_;
    Value root_;
    std::string message_;
};

// Turns nlohmann's "[json.exception.parse_error.101] parse error at line 1, column 5: syntax
// error ..." into its parts. A position given by the caller (line > 0) wins over the text's.
Error json_error(const std::string& what, long line, long column) {
    std::string detail = what;
    std::size_t close = detail.find("] ");
    if (detail.rfind("[json.exception.", 0) == 0 && close != std::string::npos) detail = detail.substr(close + 2);
    long l = 0, c = 0;
    const char* at = std::strstr(detail.c_str(), " at line ");
    if (at && std::sscanf(at, " at line %ld, column %ld", &l, &c) == 2) {
        if (line <= 0) {  // no position of our own (the reader's counts diverted strings too)
            line = l;
            column = c;
        }
        std::size_t colon = detail.find(": ");
        if (colon != std::string::npos) detail = detail.substr(colon + 2);
    }
    if (detail.empty()) detail = "unreadable input";
    Error e("invalid_json", "invalid JSON at line " + std::to_string(line) + ", column " + std::to_string(column) +
                                ": " + detail);
    e.line = line;
    e.column = column;
    return e;
}

}  // namespace

Error parse_request_stdin(std::size_t max_bytes, Value& out, std::uint64_t& bytes_read) {
    // The reader holds a 64 KiB buffer: keep it on the heap.
    std::unique_ptr<StdinReader> reader(new StdinReader(max_bytes));
    Builder builder(true, reader.get());
    bool parsed = njson::sax_parse(ReaderIterator(reader.get()), ReaderIterator(), &builder);
    bytes_read = reader->bytes_read();
    Error err;
    if (reader->too_large()) {
        err = Error("request_too_large", "the request is larger than the guest's limit of " +
                                             std::to_string(max_bytes) + " bytes")
                  .with_hint("Pass large inputs as files, or raise the limit");
    } else if (builder.too_deep()) {
        err = json_error("arrays and objects nested deeper than " + std::to_string(kMaxNesting) +
                             " levels are not supported",
                         reader->line(), reader->column());
    } else if (!parsed) {
        err = json_error(builder.message(), reader->line(), reader->column());
    } else {
        out = builder.take_root();
    }
    return err;
}

Error parse_json_text(std::string_view text, Value& out) {
    Builder builder(false, nullptr);
    bool parsed = njson::sax_parse(text.data(), text.data() + text.size(), &builder);
    if (!parsed) return json_error(builder.too_deep() ? "nested too deeply" : builder.message(), 0, 0);
    out = builder.take_root();
    return ok();
}

// ---- Output ---------------------------------------------------------------------------------

void FdSink::write(const char* data, std::size_t n) {
    if (len_ + n > sizeof buf_) {
        flush();
        if (n >= sizeof buf_) {
            if (fd_ == 1) note_stdout_started();
            write_all(fd_, data, n);
            return;
        }
    }
    std::memcpy(buf_ + len_, data, n);
    len_ += n;
}

void FdSink::flush() {
    if (len_ == 0) return;
    if (fd_ == 1) note_stdout_started();
    write_all(fd_, buf_, len_);
    len_ = 0;
}

std::size_t format_number(double x, char* buf) {
    if (!std::isfinite(x)) {
        std::memcpy(buf, "null", 4);
        return 4;
    }
    if (x == std::floor(x)) {
        if (std::fabs(x) <= 9007199254740992.0) {
            auto r = std::to_chars(buf, buf + 40, static_cast<long long>(x));
            return static_cast<std::size_t>(r.ptr - buf);
        }
        auto r = std::to_chars(buf, buf + 40, x, std::chars_format::scientific);
        return static_cast<std::size_t>(r.ptr - buf);
    }
    auto r = std::to_chars(buf, buf + 40, x);
    return static_cast<std::size_t>(r.ptr - buf);
}

std::string number_text(double x) {
    char buf[40];
    return std::string(buf, format_number(x, buf));
}

void JsonWriter::before_value() {
    if (after_key_) {
        after_key_ = false;
        return;
    }
    if (!first_[depth_]) out_.write(",", 1);
    first_[depth_] = false;
}

void JsonWriter::open(char c) {
    before_value();
    if (depth_ + 1 > kDepth) fatal_internal("output nested too deeply");
    out_.write(&c, 1);
    first_[++depth_] = true;
}

void JsonWriter::close(char c) {
    out_.write(&c, 1);
    if (depth_ > 0) --depth_;
}

void JsonWriter::key(std::string_view k) {
    before_value();
    out_.write("\"", 1);
    escaped(k);
    out_.write("\":", 2);
    after_key_ = true;
}

void JsonWriter::string(std::string_view s) {
    before_value();
    out_.write("\"", 1);
    escaped(s);
    out_.write("\"", 1);
}

void JsonWriter::begin_raw_string() {
    before_value();
    out_.write("\"", 1);
}

void JsonWriter::number(double x) {
    before_value();
    char buf[40];
    out_.write(buf, format_number(x, buf));
}

void JsonWriter::uinteger(std::uint64_t x) {
    before_value();
    char buf[24];
    auto r = std::to_chars(buf, buf + sizeof buf, x);
    out_.write(buf, static_cast<std::size_t>(r.ptr - buf));
}

void JsonWriter::boolean(bool b) {
    before_value();
    if (b)
        out_.write("true", 4);
    else
        out_.write("false", 5);
}

void JsonWriter::null() {
    before_value();
    out_.write("null", 4);
}

// Escapes for JSON and repairs invalid UTF-8 (each bad byte becomes U+FFFD), so text a node
// produced from raw bytes (e.g. a transcript cut inside a character) still makes valid JSON.
void JsonWriter::escaped(std::string_view s) {
    const unsigned char* p = reinterpret_cast<const unsigned char*>(s.data());
    const std::size_t n = s.size();
    std::size_t run = 0;  // start of the pending run of bytes written as they are
    std::size_t i = 0;
    auto flush_run = [&](std::size_t end) {
        if (end > run) out_.write(s.data() + run, end - run);
    };
    while (i < n) {
        unsigned char c = p[i];
        if (c >= 0x20 && c < 0x80 && c != '"' && c != '\\') {
            ++i;
            continue;
        }
        if (c < 0x80) {
            flush_run(i);
            char esc[8];
            std::size_t len = 2;
            esc[0] = '\\';
            switch (c) {
                case '"': esc[1] = '"'; break;
                case '\\': esc[1] = '\\'; break;
                case '\n': esc[1] = 'n'; break;
                case '\r': esc[1] = 'r'; break;
                case '\t': esc[1] = 't'; break;
                case '\b': esc[1] = 'b'; break;
                case '\f': esc[1] = 'f'; break;
                default: {
                    static const char hex[] = "0123456789abcdef";
                    esc[1] = 'u';
                    esc[2] = '0';
                    esc[3] = '0';
                    esc[4] = hex[c >> 4];
                    esc[5] = hex[c & 15];
                    len = 6;
                }
            }
            out_.write(esc, len);
            run = ++i;
            continue;
        }
        // Multi-byte sequence: validate (RFC 3629: no overlongs, no surrogates, <= U+10FFFF).
        std::size_t need = 0;
        unsigned char lo = 0x80, hi = 0xBF;
        if (c >= 0xC2 && c <= 0xDF) {
            need = 1;
        } else if (c >= 0xE0 && c <= 0xEF) {
            need = 2;
            if (c == 0xE0) lo = 0xA0;
            if (c == 0xED) hi = 0x9F;
        } else if (c >= 0xF0 && c <= 0xF4) {
            need = 3;
            if (c == 0xF0) lo = 0x90;
            if (c == 0xF4) hi = 0x8F;
        }
        bool valid = need > 0 && i + need < n;
        if (valid) {
            if (p[i + 1] < lo || p[i + 1] > hi) valid = false;
            for (std::size_t k = 2; valid && k <= need; ++k) {
                if (p[i + k] < 0x80 || p[i + k] > 0xBF) valid = false;
            }
        }
        if (valid) {
            i += need + 1;
            continue;
        }
        flush_run(i);
        out_.write("\\ufffd", 6);
        run = ++i;
    }
    flush_run(n);
}

void append_pointer(std::string& path, std::string_view key) {
    path += '/';
    for (char c : key) {
        if (c == '~')
            path += "~0";
        else if (c == '/')
            path += "~1";
        else
            path += c;
    }
}

void append_pointer(std::string& path, std::size_t index) {
    path += '/';
    path += std::to_string(index);
}

std::string pointer_join(std::string path, std::string_view key) {
    append_pointer(path, key);
    return path;
}

std::string pointer_join(std::string path, std::size_t index) {
    append_pointer(path, index);
    return path;
}

void write_error_fields(JsonWriter& w, const Error& e) {
    w.field("code", e.code);
    w.field("message", e.message);
    if (e.has_path) w.field("path", e.path);
    if (!e.node_id.empty()) w.field("node_id", e.node_id);
    if (!e.hint.empty()) w.field("hint", e.hint);
    if (e.line > 0) {
        w.field_uint("line", static_cast<std::uint64_t>(e.line));
        w.field_uint("column", static_cast<std::uint64_t>(e.column));
    }
}

}  // namespace rm

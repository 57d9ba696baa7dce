#include "output.hpp"

#include <cstdint>
#include <vector>

#include "base64.hpp"
#include "typed_array.hpp"

namespace rm {

namespace {

// Streams bytes into a JSON string as base64 without holding the whole text.
class Base64Writer {
  public:
    explicit Base64Writer(JsonWriter& w) : w_(w) { w_.begin_raw_string(); }

    void feed(const std::uint8_t* p, std::size_t n) {
        while (n > 0 && pending_ > 0 && pending_ < 3) {
            carry_[pending_++] = *p++;
            --n;
            if (pending_ == 3) {
                emit(carry_, 3);
                pending_ = 0;
            }
        }
        while (n >= 3) {
            std::size_t take = n - n % 3;
            if (take > kChunk) take = kChunk;
            emit(p, take);
            p += take;
            n -= take;
        }
        while (n > 0) {
            carry_[pending_++] = *p++;
            --n;
        }
    }

    void finish() {
        if (pending_ > 0) emit(carry_, pending_);
        pending_ = 0;
        w_.end_raw_string();
    }

  private:
    static constexpr std::size_t kChunk = 3 * 4096;
    void emit(const std::uint8_t* p, std::size_t n) {
        char text[kChunk / 3 * 4];
        base64_encode(p, n, text);
        w_.raw(text, base64_length(n));
    }

    JsonWriter& w_;
    std::uint8_t carry_[3];
    std::size_t pending_ = 0;
};

void write_shape(JsonWriter& w, const std::vector<std::uint64_t>& shape) {
    w.begin_array();
    for (std::uint64_t d : shape) w.uinteger(d);
    w.end_array();
}

template <class T>
void write_dims_as_lists(JsonWriter& w, const T* data, const std::vector<std::uint64_t>& shape, std::size_t dim,
                         std::size_t& index) {
    if (dim == shape.size()) {
        w.number(static_cast<double>(data[index++]));
        return;
    }
    w.begin_array();
    for (std::uint64_t i = 0; i < shape[dim]; ++i) write_dims_as_lists(w, data, shape, dim + 1, index);
    w.end_array();
}

void write_array_as_lists(JsonWriter& w, const TypedArray& a) {
    visit_dtype(a.dtype, [&](auto zero) {
        using T = decltype(zero);
        std::size_t index = 0;
        write_dims_as_lists(w, a.elements<T>(), a.shape, 0, index);
    });
}

// The shape of a non-empty rectangular nest of plain numbers (Python's rule in
// core/native/values.py), found by descending first elements and then checked everywhere.
bool rectangular_shape(const Value& v, std::vector<std::uint64_t>& shape) {
    shape.clear();
    const Value* cur = &v;
    while (cur->is_list()) {
        const Value::List& items = cur->as_list();
        if (items.empty()) return false;
        shape.push_back(items.size());
        cur = &items[0];
    }
    if (!cur->is_number()) return false;
    // verify
    struct Check {
        const std::vector<std::uint64_t>& shape;
        bool operator()(const Value& x, std::size_t dim) const {
            if (dim == shape.size()) return x.is_number();
            if (!x.is_list() || x.as_list().size() != shape[dim]) return false;
            for (const Value& item : x.as_list()) {
                if (!(*this)(item, dim + 1)) return false;
            }
            return true;
        }
    };
    return Check{shape}(v, 0);
}

class DoubleStream {
  public:
    explicit DoubleStream(Base64Writer& b) : b_(b) {}
    void add(double x) {
        buf_[n_++] = x;
        if (n_ == kCount) flush();
    }
    void flush() {
        b_.feed(reinterpret_cast<const std::uint8_t*>(buf_), n_ * sizeof(double));
        n_ = 0;
    }
    void walk(const Value& v) {
        if (v.is_number()) {
            add(v.as_number());
            return;
        }
        for (const Value& item : v.as_list()) walk(item);
    }

  private:
    static constexpr std::size_t kCount = 6144;  // 48 KiB: a multiple of 3 bytes
    Base64Writer& b_;
    double buf_[kCount];
    std::size_t n_ = 0;
};

void write_list_as_float64(JsonWriter& w, const Value& v, const std::vector<std::uint64_t>& shape) {
    w.begin_object();
    w.field("dtype", "float64");
    w.key("shape");
    write_shape(w, shape);
    w.field("encoding", "base64");
    w.key("data");
    Base64Writer b64(w);
    {
        DoubleStream stream(b64);
        stream.walk(v);
        stream.flush();
    }
    b64.finish();
    w.end_object();
}

void write_audio(JsonWriter& w, const Audio& a, ArrayEncoding encoding) {
    w.begin_object();
    w.key("data");
    if (encoding == ArrayEncoding::Json) {
        w.begin_array();
        for (float s : a.samples) w.number(static_cast<double>(s));
        w.end_array();
    } else {
        w.begin_object();
        w.field("dtype", "float32");
        w.key("shape");
        w.begin_array();
        w.uinteger(a.samples.size());
        w.end_array();
        w.field("encoding", "base64");
        w.key("data");
        Base64Writer b64(w);
        b64.feed(reinterpret_cast<const std::uint8_t*>(a.samples.data()), a.samples.size() * sizeof(float));
        b64.finish();
        w.end_object();
    }
    w.field_number("sample_rate", a.sample_rate);
    w.field_uint("channels", a.channels);
    w.field_number("start_time", a.start_time);
    w.end_object();
}

}  // namespace

bool array_encoding_from_name(std::string_view name, ArrayEncoding& out) {
    if (name == "auto") {
        out = ArrayEncoding::Auto;
    } else if (name == "json") {
        out = ArrayEncoding::Json;
    } else if (name == "base64") {
        out = ArrayEncoding::Base64;
    } else {
        return false;
    }
    return true;
}

void write_typed_array(JsonWriter& w, const TypedArray& a) {
    w.begin_object();
    w.field("dtype", dtype_info(a.dtype).name);
    w.key("shape");
    write_shape(w, a.shape);
    w.field("encoding", "base64");
    w.key("data");
    Base64Writer b64(w);
    b64.feed(a.bytes.data(), a.bytes.size());
    b64.finish();
    w.end_object();
}

void write_value(JsonWriter& w, const Value& v, ArrayEncoding encoding) {
    switch (v.type()) {
        case Value::Type::Null: w.null(); return;
        case Value::Type::Bool: w.boolean(v.as_bool()); return;
        case Value::Type::Number: w.number(v.as_number()); return;
        case Value::Type::String: w.string(v.as_string()); return;
        case Value::Type::List: {
            if (encoding == ArrayEncoding::Base64) {
                std::vector<std::uint64_t> shape;
                if (rectangular_shape(v, shape)) {
                    write_list_as_float64(w, v, shape);
                    return;
                }
            }
            w.begin_array();
            for (const Value& item : v.as_list()) write_value(w, item, encoding);
            w.end_array();
            return;
        }
        case Value::Type::Object:
            w.begin_object();
            for (const Value::Member& m : v.as_object()) {
                w.key(m.first);
                write_value(w, m.second, encoding);
            }
            w.end_object();
            return;
        case Value::Type::Array:
            if (encoding == ArrayEncoding::Json)
                write_array_as_lists(w, v.as_array());
            else
                write_typed_array(w, v.as_array());
            return;
        case Value::Type::Audio: write_audio(w, v.as_audio(), encoding); return;
    }
}

std::string to_json_text(const Value& v) {
    StringSink sink;
    JsonWriter w(sink);
    write_value(w, v, ArrayEncoding::Auto);
    return std::move(sink.text);
}

}  // namespace rm

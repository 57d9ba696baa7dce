// The data that flows between nodes.
//
// A Value is a JSON value (null, boolean, number, string, list, object), a typed numeric
// array (raw little-endian buffer + dtype + shape, decoded from base64 once at the edge), or
// an audio buffer (interleaved float32 samples). Composite payloads are immutable and shared:
// copying a Value copies a pointer, so fan-out and pass-through cost nothing, and a node that
// holds the only reference to an array may reuse its buffer (`unique_array`).
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace rm {

enum class DType : std::uint8_t { Float32, Float64, Int8, Int16, Int32, Int64, UInt8, UInt16, UInt32, UInt64 };

struct DTypeInfo {
    DType dtype;
    const char* name;
    std::uint8_t size;
    bool is_float;
};

const DTypeInfo& dtype_info(DType d);
bool dtype_from_name(std::string_view name, DType& out);
// "float32, float64, int8, ..." for messages.
std::string dtype_names();

// A malloc-owned byte buffer that is not zero-initialised (decoded arrays overwrite it whole).
// Allocation failure ends the run with out_of_memory.
class Bytes {
  public:
    Bytes() = default;
    explicit Bytes(std::size_t n);
    ~Bytes();
    Bytes(Bytes&& o) noexcept : data_(o.data_), size_(o.size_) {
        o.data_ = nullptr;
        o.size_ = 0;
    }
    Bytes& operator=(Bytes&& o) noexcept;
    Bytes(const Bytes&) = delete;
    Bytes& operator=(const Bytes&) = delete;

    std::uint8_t* data() { return data_; }
    const std::uint8_t* data() const { return data_; }
    std::size_t size() const { return size_; }

  private:
    std::uint8_t* data_ = nullptr;
    std::size_t size_ = 0;
};

// A C-order numeric array. bytes.size() == count() * itemsize always holds.
struct TypedArray {
    DType dtype = DType::Float64;
    std::vector<std::uint64_t> shape;
    Bytes bytes;

    std::size_t itemsize() const { return dtype_info(dtype).size; }
    std::size_t count() const { return bytes.size() / itemsize(); }
    template <class T>
    const T* elements() const { return reinterpret_cast<const T*>(bytes.data()); }
    template <class T>
    T* elements() { return reinterpret_cast<T*>(bytes.data()); }
};

// Audio as it travels between audio nodes: {data, sample_rate, channels, start_time} on the
// wire (docs/CONTRACT.md, "Audio"). Built and read through audio_item.hpp.
struct Audio {
    std::vector<float> samples;  // interleaved, frames() * channels values
    double sample_rate = 16000;  // an integer 1 ... 768000, held as a double
    std::uint32_t channels = 1;
    double start_time = 0;       // seconds: where the item begins in the original recording

    std::size_t frames() const { return channels ? samples.size() / channels : 0; }
    double duration_s() const { return sample_rate > 0 ? static_cast<double>(frames()) / sample_rate : 0.0; }
};

class Value {
  public:
    enum class Type : std::uint8_t { Null, Bool, Number, String, List, Object, Array, Audio };
    using List = std::vector<Value>;
    using Member = std::pair<std::string, Value>;
    using Object = std::vector<Member>;  // keeps the document's key order

    Value() noexcept : type_(Type::Null), num_(0) {}
    Value(const Value& o) noexcept;
    Value(Value&& o) noexcept;
    Value& operator=(const Value& o) noexcept;
    Value& operator=(Value&& o) noexcept;
    ~Value();

    static Value boolean(bool b);
    static Value number(double x);
    static Value string(std::string s);
    static Value list(List items);
    static Value object(Object members);
    static Value array(TypedArray a);
    static Value audio(Audio a);

    Type type() const { return type_; }
    bool is_null() const { return type_ == Type::Null; }
    bool is_bool() const { return type_ == Type::Bool; }
    bool is_number() const { return type_ == Type::Number; }
    bool is_string() const { return type_ == Type::String; }
    bool is_list() const { return type_ == Type::List; }
    bool is_object() const { return type_ == Type::Object; }
    bool is_array() const { return type_ == Type::Array; }
    bool is_audio() const { return type_ == Type::Audio; }

    // Accessors end the run with internal_error when the type is wrong: check first.
    bool as_bool() const;
    double as_number() const;
    const std::string& as_string() const;
    const List& as_list() const;
    const Object& as_object() const;
    const TypedArray& as_array() const;
    const struct Audio& as_audio() const;

    // The typed array if this Value is its only owner (safe to modify in place), else null.
    TypedArray* unique_array();

    // Object member lookup; null when this is not an object or the key is absent.
    const Value* find(std::string_view key) const;

    // Moves the items out of a list this Value alone owns (copies them otherwise) and leaves
    // this Value null. Lets the executor take input items without duplicating big lists.
    List take_list();
    // Like find(), but only on an object this Value alone owns (else null): for taking parts.
    Value* find_owned(std::string_view key);
    // The members / items for modification, copying them first when the payload is shared
    // (copy on write), so other holders never see the change. Null for other types.
    Object* mutable_object();
    List* mutable_list();

    // The JSON type name used in messages: null, boolean, number, string, array, object.
    // Typed arrays and audio report "object" (that is what they are on the wire).
    const char* json_type() const;
    // A phrase for messages: "a string", "a float32 array", "an audio object", ...
    std::string describe() const;

  private:
    void destroy() noexcept;
    void copy_from(const Value& o) noexcept;
    void move_from(Value& o) noexcept;
    const void* payload() const { return ptr_.get(); }

    Type type_;
    union {
        bool bool_;
        double num_;
        std::shared_ptr<void> ptr_;  // String, List, Object, Array, Audio
    };
};

}  // namespace rm

#include "value.hpp"

#include <cstdlib>
#include <new>

#include "fatal.hpp"

namespace rm {

namespace {

const DTypeInfo kDTypes[] = {
    {DType::Float32, "float32", 4, true}, {DType::Float64, "float64", 8, true},
    {DType::Int8, "int8", 1, false},      {DType::Int16, "int16", 2, false},
    {DType::Int32, "int32", 4, false},    {DType::Int64, "int64", 8, false},
    {DType::UInt8, "uint8", 1, false},    {DType::UInt16, "uint16", 2, false},
    {DType::UInt32, "uint32", 4, false},  {DType::UInt64, "uint64", 8, false},
};

[[noreturn]] void wrong_type(const char* wanted) {
    // A programming error in a node: it read a Value without checking its type.
    static char msg[96];
    int i = 0;
    for (const char* p = "Value accessed as the wrong type: "; *p; ++p) msg[i++] = *p;
    for (const char* p = wanted; *p && i < 94; ++p) msg[i++] = *p;
    msg[i] = 0;
    fatal_internal(msg);
}

}  // namespace

const DTypeInfo& dtype_info(DType d) { return kDTypes[static_cast<int>(d)]; }

bool dtype_from_name(std::string_view name, DType& out) {
    for (const DTypeInfo& info : kDTypes) {
        if (name == info.name) {
            out = info.dtype;
            return true;
        }
    }
    return false;
}

std::string dtype_names() {
    std::string out;
    for (const DTypeInfo& info : kDTypes) {
        if (!out.empty()) out += ", ";
        out += info.name;
    }
    return out;
}

// ---- Bytes ------------------------------------------------------------------------------

Bytes::Bytes(std::size_t n) : data_(static_cast<std::uint8_t*>(xmalloc(n))), size_(n) {}

Bytes::~Bytes() { std::free(data_); }

Bytes& Bytes::operator=(Bytes&& o) noexcept {
    if (this != &o) {
        std::free(data_);
        data_ = o.data_;
        size_ = o.size_;
        o.data_ = nullptr;
        o.size_ = 0;
    }
    return *this;
}

// ---- Value ------------------------------------------------------------------------------

void Value::destroy() noexcept {
    if (type_ >= Type::String) ptr_.~shared_ptr();
    type_ = Type::Null;
    num_ = 0;
}

void Value::copy_from(const Value& o) noexcept {
    type_ = o.type_;
    if (type_ >= Type::String)
        new (&ptr_) std::shared_ptr<void>(o.ptr_);
    else if (type_ == Type::Bool)
        bool_ = o.bool_;
    else
        num_ = o.num_;
}

void Value::move_from(Value& o) noexcept {
    type_ = o.type_;
    if (type_ >= Type::String) {
        new (&ptr_) std::shared_ptr<void>(std::move(o.ptr_));
        o.ptr_.~shared_ptr();
        o.type_ = Type::Null;
        o.num_ = 0;
    } else if (type_ == Type::Bool) {
        bool_ = o.bool_;
    } else {
        num_ = o.num_;
    }
}

Value::Value(const Value& o) noexcept { copy_from(o); }
Value::Value(Value&& o) noexcept { move_from(o); }

Value& Value::operator=(const Value& o) noexcept {
    if (this != &o) {
        Value tmp(o);  // o may live inside *this; copy before destroying
        destroy();
        move_from(tmp);
    }
    return *this;
}

Value& Value::operator=(Value&& o) noexcept {
    if (this != &o) {
        Value tmp(std::move(o));  // o may live inside *this
        destroy();
        move_from(tmp);
    }
    return *this;
}

Value::~Value() { destroy(); }

Value Value::boolean(bool b) {
    Value v;
    v.type_ = Type::Bool;
    v.bool_ = b;
    return v;
}

Value Value::number(double x) {
    Value v;
    v.type_ = Type::Number;
    v.num_ = x;
    return v;
}

#define RM_VALUE_WITH_PAYLOAD(TYPE_TAG, CXX_TYPE, ARG) \
    Value v;                                           \
    new (&v.ptr_) std::shared_ptr<void>(std::make_shared<CXX_TYPE>(std::move(ARG))); \
    v.type_ = TYPE_TAG;                                \
    return v;

Value Value::string(std::string s) { RM_VALUE_WITH_PAYLOAD(Type::String, std::string, s) }
Value Value::list(List items) { RM_VALUE_WITH_PAYLOAD(Type::List, List, items) }
Value Value::object(Object members) { RM_VALUE_WITH_PAYLOAD(Type::Object, Object, members) }
Value Value::array(TypedArray a) { RM_VALUE_WITH_PAYLOAD(Type::Array, TypedArray, a) }
Value Value::audio(Audio a) { RM_VALUE_WITH_PAYLOAD(Type::Audio, Audio, a) }

#undef RM_VALUE_WITH_PAYLOAD

bool Value::as_bool() const {
    if (type_ != Type::Bool) wrong_type("boolean");
    return bool_;
}

double Value::as_number() const {
    if (type_ != Type::Number) wrong_type("number");
    return num_;
}

const std::string& Value::as_string() const {
    if (type_ != Type::String) wrong_type("string");
    return *static_cast<const std::string*>(payload());
}

const Value::List& Value::as_list() const {
    if (type_ != Type::List) wrong_type("list");
    return *static_cast<const List*>(payload());
}

const Value::Object& Value::as_object() const {
    if (type_ != Type::Object) wrong_type("object");
    return *static_cast<const Object*>(payload());
}

const TypedArray& Value::as_array() const {
    if (type_ != Type::Array) wrong_type("typed array");
    return *static_cast<const TypedArray*>(payload());
}

const Audio& Value::as_audio() const {
    if (type_ != Type::Audio) wrong_type("audio");
    return *static_cast<const Audio*>(payload());
}

TypedArray* Value::unique_array() {
    if (type_ != Type::Array || ptr_.use_count() != 1) return nullptr;
    return static_cast<TypedArray*>(ptr_.get());
}

const Value* Value::find(std::string_view key) const {
    if (type_ != Type::Object) return nullptr;
    for (const Member& m : as_object()) {
        if (m.first == key) return &m.second;
    }
    return nullptr;
}

Value::List Value::take_list() {
    List out;
    if (type_ != Type::List) wrong_type("list");
    if (ptr_.use_count() == 1)
        out = std::move(*static_cast<List*>(ptr_.get()));
    else
        out = as_list();
    destroy();
    return out;
}

Value* Value::find_owned(std::string_view key) {
    if (type_ != Type::Object || ptr_.use_count() != 1) return nullptr;
    for (Member& m : *static_cast<Object*>(ptr_.get())) {
        if (m.first == key) return &m.second;
    }
    return nullptr;
}

Value::Object* Value::mutable_object() {
    if (type_ != Type::Object) return nullptr;
    if (ptr_.use_count() != 1) *this = Value::object(as_object());
    return static_cast<Object*>(ptr_.get());
}

Value::List* Value::mutable_list() {
    if (type_ != Type::List) return nullptr;
    if (ptr_.use_count() != 1) *this = Value::list(as_list());
    return static_cast<List*>(ptr_.get());
}

const char* Value::json_type() const {
    switch (type_) {
        case Type::Null: return "null";
        case Type::Bool: return "boolean";
        case Type::Number: return "number";
        case Type::String: return "string";
        case Type::List: return "array";
        default: return "object";
    }
}

std::string Value::describe() const {
    switch (type_) {
        case Type::Null: return "null";
        case Type::Bool: return "a boolean";
        case Type::Number: return "a number";
        case Type::String: return "a string";
        case Type::List: return "a list";
        case Type::Object: return "an object";
        case Type::Array: return std::string("a ") + dtype_info(as_array().dtype).name + " array";
        case Type::Audio: return "an audio object";
    }
    return "a value";
}

}  // namespace rm

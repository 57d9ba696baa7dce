// Typed numeric arrays on the wire (docs/CONTRACT.md, "Data"):
//   flat:  {"dtype": "float32", "shape": [2, 4], "encoding": "base64", "data": "..."}
//   numpy: {"__numpy__": true, "array": {"meta": {"shape", "dtype", "size"}, "data": "..."}}
// Both carry raw little-endian C-order bytes; inside the guest they become a TypedArray
// (wasm is little-endian, so the bytes are used as they are). Outputs use the flat form.
#pragma once

#include <cstdint>
#include <string>

#include "error.hpp"
#include "value.hpp"

namespace rm {

// Most dimensions a decoded array may have (numpy's own limit is 32 or 64).
constexpr std::size_t kMaxArrayDims = 32;

// Whether an object is spelled as a typed array: `"__numpy__": true`, or all of dtype,
// shape and data present. (Such an object is decoded, or rejected as invalid_input.)
bool looks_like_typed_array(const Value& v);

// Decodes a typed-array object into a Value of type Array. On failure returns an
// invalid_input error whose path is relative to the object ("", "/dtype", "/array/data").
Error decode_typed_array(const Value& v, Value& out);

// Whether an object is a file reference: `"encoding": "file"` together with a dtype (the
// reference executor's rule, core/native/values.py). The edge reads these before the run.
bool is_file_reference(const Value& v);

// Reads a file reference {"dtype": "float32", "shape": [...], "encoding": "file", "path":
// "/input/x.f32"} into a float32 Value of type Array. The path is opened through WASI, so only
// files inside the host's read-only preopened directories can be read. Errors are invalid_input
// with a path relative to the object ("/dtype", "/shape", "/path"), worded as the host-side
// reader (core/audio/item.py, read_file_reference) words them.
Error read_file_reference(const Value& ref, Value& out);

// "[2, 4]" as the messages write shapes.
std::string format_shape(const std::vector<std::uint64_t>& shape);

// Calls f(T{}) with the C++ element type of a dtype.
template <class F>
decltype(auto) visit_dtype(DType d, F&& f) {
    switch (d) {
        case DType::Float32: return f(float{});
        case DType::Float64: return f(double{});
        case DType::Int8: return f(std::int8_t{});
        case DType::Int16: return f(std::int16_t{});
        case DType::Int32: return f(std::int32_t{});
        case DType::Int64: return f(std::int64_t{});
        case DType::UInt8: return f(std::uint8_t{});
        case DType::UInt16: return f(std::uint16_t{});
        case DType::UInt32: return f(std::uint32_t{});
        case DType::UInt64: return f(std::uint64_t{});
    }
    return f(double{});
}

// Element i converted to double (numpy's astype(float64)).
double element_as_double(const TypedArray& a, std::size_t i);

}  // namespace rm

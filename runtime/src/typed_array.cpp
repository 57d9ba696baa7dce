#include "typed_array.hpp"

#include <cmath>

#include "base64.hpp"
#include "output.hpp"

namespace rm {

namespace {

// 'text' for strings (as the host quotes them), the JSON text for anything else.
std::string quote_value(const Value* v) {
    if (!v) return "missing";
    if (v->is_string()) return "'" + v->as_string() + "'";
    return to_json_text(*v);
}

Error bad(std::string message, std::string rel_path) {
    return Error("invalid_input", std::move(message)).at(std::move(rel_path));
}

}  // namespace

bool looks_like_typed_array(const Value& v) {
    if (!v.is_object()) return false;
    const Value* flag = v.find("__numpy__");
    if (flag && flag->is_bool() && flag->as_bool()) return true;
    return v.find("dtype") && v.find("data") && v.find("shape");
}

std::string format_shape(const std::vector<std::uint64_t>& shape) {
    std::string out = "[";
    for (std::size_t i = 0; i < shape.size(); ++i) {
        if (i) out += ", ";
        out += std::to_string(shape[i]);
    }
    return out + "]";
}

Error decode_typed_array(const Value& v, Value& out) {
    const Value* dtype_v = nullptr;
    const Value* shape_v = nullptr;
    const Value* data_v = nullptr;
    std::string dtype_path, shape_path, data_path;
    const Value* flag = v.find("__numpy__");
    if (flag && flag->is_bool() && flag->as_bool()) {
        const Value* arr = v.find("array");
        const Value* meta = arr ? arr->find("meta") : nullptr;
        if (!meta || !meta->is_object()) return bad("numpy array object lacks array.meta", "");
        dtype_v = meta->find("dtype");
        shape_v = meta->find("shape");
        data_v = arr->find("data");
        dtype_path = "/array/meta/dtype";
        shape_path = "/array/meta/shape";
        data_path = "/array/data";
    } else {
        const Value* enc = v.find("encoding");
        if (enc && !(enc->is_string() && enc->as_string() == "base64")) {
            return bad("typed array encoding " + quote_value(enc) + " is not supported here (only base64)",
                       "/encoding");
        }
        dtype_v = v.find("dtype");
        shape_v = v.find("shape");
        data_v = v.find("data");
        dtype_path = "/dtype";
        shape_path = "/shape";
        data_path = "/data";
    }

    DType dtype;
    if (!dtype_v || !dtype_v->is_string() || !dtype_from_name(dtype_v->as_string(), dtype)) {
        return bad("unsupported dtype " + quote_value(dtype_v) + "; use one of " + dtype_names(), dtype_path);
    }

    std::vector<std::uint64_t> shape;
    bool shape_ok = shape_v && shape_v->is_list();
    if (shape_ok) {
        for (const Value& d : shape_v->as_list()) {
            if (!d.is_number() || d.as_number() < 0 || d.as_number() != std::floor(d.as_number()) ||
                d.as_number() > 9007199254740992.0) {
                shape_ok = false;
                break;
            }
            shape.push_back(static_cast<std::uint64_t>(d.as_number()));
        }
    }
    if (!shape_ok) return bad("shape must be a list of non-negative integers", shape_path);
    if (shape.size() > kMaxArrayDims) {
        return bad("shape has " + std::to_string(shape.size()) + " dimensions; at most " +
                       std::to_string(kMaxArrayDims) + " are supported",
                   shape_path);
    }

    if (!data_v || !data_v->is_string()) return bad("data must be a base64 string", data_path);

    TypedArray array;
    std::string why;
    if (!base64_decode(data_v->as_string(), array.bytes, why)) {
        return bad("data is not valid base64 (" + why + ")", data_path);
    }

    const std::uint64_t itemsize = dtype_info(dtype).size;
    std::uint64_t count = 1;
    bool overflow = false;
    for (std::uint64_t d : shape) {
        if (d != 0 && count > (std::uint64_t(1) << 56) / d) overflow = true;
        count *= d;
    }
    if (overflow || count * itemsize != array.bytes.size()) {
        std::string need = overflow ? std::string("more") : std::to_string(count * itemsize);
        return bad("shape " + format_shape(shape) + " of " + dtype_info(dtype).name + " needs " + need +
                       " bytes but data has " + std::to_string(array.bytes.size()),
                   data_path);
    }
    array.dtype = dtype;
    array.shape = std::move(shape);
    out = Value::array(std::move(array));
    return ok();
}

double element_as_double(const TypedArray& a, std::size_t i) {
    return visit_dtype(a.dtype, [&](auto zero) -> double {
        using T = decltype(zero);
        return static_cast<double>(a.elements<T>()[i]);
    });
}

}  // namespace rm

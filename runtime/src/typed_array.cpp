#include "typed_array.hpp"

#include <cerrno>
#include <algorithm>
#include <cmath>
#include <cstring>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

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

// ---- File references ------------------------------------------------------------------------
//
// Reading belongs at the edge (like base64 decoding), not in the audio nodes: the reference
// executor resolves file references while it converts the request's input, before any node
// runs, so errors carry the reference's JSON path and no node id on both sides, and every node
// that accepts a typed array accepts a file-backed one too.

bool is_file_reference(const Value& v) {
    if (!v.is_object()) return false;
    const Value* enc = v.find("encoding");
    return enc && enc->is_string() && enc->as_string() == "file" && v.find("dtype");
}

namespace {

// Python's repr of a JSON value, for messages that quote what the request said.
std::string repr_value(const Value* v) {
    if (!v) return "None";
    if (v->is_null()) return "None";
    if (v->is_bool()) return v->as_bool() ? "True" : "False";
    return quote_value(v);
}

// Closes a descriptor when it goes out of scope.
struct Fd {
    int fd = -1;
    ~Fd() {
        if (fd >= 0) ::close(fd);
    }
};

}  // namespace

Error read_file_reference(const Value& ref, Value& out) {
    const Value* dtype_v = ref.find("dtype");
    if (!dtype_v || !dtype_v->is_string() || dtype_v->as_string() != "float32") {
        return bad("file references carry float32 samples, not " + repr_value(dtype_v), "/dtype");
    }
    const Value* shape_v = ref.find("shape");
    std::vector<std::uint64_t> shape;
    bool shape_ok = shape_v && shape_v->is_list() && shape_v->as_list().size() <= kMaxArrayDims;
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
    if (!shape_ok) return bad("shape must be a list of non-negative integers", "/shape");

    const Value* path_v = ref.find("path");
    if (!path_v || !path_v->is_string() || path_v->as_string().empty() || path_v->as_string()[0] != '/') {
        return bad("path must be an absolute guest path such as /input/audio.f32", "/path");
    }
    const std::string& guest = path_v->as_string();
    bool dotdot = false;
    for (std::size_t start = 0; start <= guest.size();) {
        std::size_t end = guest.find('/', start);
        if (end == std::string::npos) end = guest.size();
        if (guest.compare(start, end - start, "..") == 0 && end - start == 2) dotdot = true;
        start = end + 1;
    }
    if (dotdot || guest.find('\\') != std::string::npos || guest.find('\0') != std::string::npos) {
        return bad("path '" + guest + "' may not contain '..', backslashes or NUL", "/path");
    }

    std::uint64_t count = 1;
    bool overflow = false;
    for (std::uint64_t d : shape) {
        if (d != 0 && count > (std::uint64_t(1) << 56) / d) overflow = true;
        count *= d;
    }

    Fd file;
    file.fd = ::open(guest.c_str(), O_RDONLY);
    if (file.fd < 0) {
        const int err = errno;
        if (err == ENOENT) return bad("file " + guest + " does not exist in the preopened directory", "/path");
#ifdef ENOTCAPABLE
        if (err == ENOTCAPABLE) {
            return bad("path '" + guest + "' is not inside a preopened directory", "/path")
                .with_hint("The host must preopen the directory holding the file");
        }
#endif
        return bad("cannot read " + guest + ": " + std::strerror(err), "/path");
    }
    struct stat st;
    if (::fstat(file.fd, &st) != 0) return bad("cannot read " + guest + ": " + std::strerror(errno), "/path");
    if (!S_ISREG(st.st_mode)) return bad(guest + " is not a file", "/path");
    const std::uint64_t size = static_cast<std::uint64_t>(st.st_size);
    if (overflow || count * 4 != size) {
        std::string need = overflow ? std::string("more") : std::to_string(count * 4);
        return bad("shape " + format_shape(shape) + " of float32 needs " + need + " bytes but " + guest + " has " +
                       std::to_string(size),
                   "/shape");
    }

    TypedArray array;
    array.dtype = DType::Float32;
    array.shape = std::move(shape);
    array.bytes = Bytes(static_cast<std::size_t>(size));
    std::size_t done = 0;
    while (done < size) {
        const std::size_t want = std::min<std::size_t>(size - done, std::size_t(1) << 24);
        const ssize_t got = ::read(file.fd, array.bytes.data() + done, want);
        if (got < 0 && errno == EINTR) continue;
        if (got <= 0) {
            return bad("cannot read " + guest + ": " + (got < 0 ? std::strerror(errno) : "the file ended early"),
                       "/path");
        }
        done += static_cast<std::size_t>(got);
    }
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

// Errors and warnings as the guest reports them (docs/CONTRACT.md, "Error codes").
//
// The executor is built without C++ exceptions, so every step that can fail returns an
// Error: an empty `code` means success. The same struct carries warnings (the writer adds
// `"severity": "warning"`).
#pragma once

#include <string>
#include <utility>

namespace rm {

struct [[nodiscard]] Error {
    std::string code;     // empty: no error
    std::string message;
    std::string path;     // JSON pointer into the request; meaningful when has_path
    bool has_path = false;
    std::string node_id;  // empty: none
    std::string hint;     // empty: none
    long line = 0;        // > 0 for invalid_json
    long column = 0;

    Error() = default;
    Error(std::string c, std::string m) : code(std::move(c)), message(std::move(m)) {}

    bool ok() const { return code.empty(); }
    bool failed() const { return !code.empty(); }

    // Chainable setters for building an error in one expression:
    //   return Error("invalid_param", msg).at(path).node(id);
    Error&& at(std::string p) && {
        path = std::move(p);
        has_path = true;
        return std::move(*this);
    }
    Error&& node(std::string id) && {
        node_id = std::move(id);
        return std::move(*this);
    }
    Error&& with_hint(std::string h) && {
        hint = std::move(h);
        return std::move(*this);
    }
};

inline Error ok() { return Error(); }

}  // namespace rm

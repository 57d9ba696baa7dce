// Standard base64 (RFC 4648 alphabet, '=' padding), strict on input as the host's
// `base64.b64decode(..., validate=True)` is: no whitespace, no characters outside the
// alphabet, padding only at the end.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "value.hpp"

namespace rm {

// Decodes `text` into `out`. On failure returns false and says why in `why`.
bool base64_decode(std::string_view text, Bytes& out, std::string& why);

// Encodes `n` bytes to base64 text at `out` (which must hold base64_length(n) chars).
// A trailing partial group is padded, so a stream fed in pieces must use multiples of 3
// for every piece but the last.
std::size_t base64_length(std::size_t n);
void base64_encode(const std::uint8_t* in, std::size_t n, char* out);

}  // namespace rm

#include "base64.hpp"

namespace rm {

namespace {

const char kAlphabet[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

// 0..63 for alphabet characters, 64 for '=', 255 for anything else.
struct DecodeTable {
    std::uint8_t v[256];
    DecodeTable() {
        for (int i = 0; i < 256; ++i) v[i] = 255;
        for (int i = 0; i < 64; ++i) v[static_cast<unsigned char>(kAlphabet[i])] = static_cast<std::uint8_t>(i);
        v[static_cast<unsigned char>('=')] = 64;
    }
};
const DecodeTable kDecode;

std::string describe_char(unsigned char c, std::size_t at) {
    std::string out = "character ";
    if (c >= 0x20 && c < 0x7f) {
        out += '\'';
        out += static_cast<char>(c);
        out += '\'';
    } else {
        static const char hex[] = "0123456789abcdef";
        out += "0x";
        out += hex[c >> 4];
        out += hex[c & 15];
    }
    out += " at offset " + std::to_string(at) + " is not base64";
    return out;
}

}  // namespace

std::size_t base64_length(std::size_t n) { return (n + 2) / 3 * 4; }

void base64_encode(const std::uint8_t* in, std::size_t n, char* out) {
    std::size_t i = 0;
    for (; i + 3 <= n; i += 3) {
        std::uint32_t w = (std::uint32_t(in[i]) << 16) | (std::uint32_t(in[i + 1]) << 8) | in[i + 2];
        *out++ = kAlphabet[(w >> 18) & 63];
        *out++ = kAlphabet[(w >> 12) & 63];
        *out++ = kAlphabet[(w >> 6) & 63];
        *out++ = kAlphabet[w & 63];
    }
    if (i < n) {
        std::uint32_t w = std::uint32_t(in[i]) << 16;
        if (i + 1 < n) w |= std::uint32_t(in[i + 1]) << 8;
        *out++ = kAlphabet[(w >> 18) & 63];
        *out++ = kAlphabet[(w >> 12) & 63];
        *out++ = i + 1 < n ? kAlphabet[(w >> 6) & 63] : '=';
        *out++ = '=';
    }
}

bool base64_decode(std::string_view text, Bytes& out, std::string& why) {
    const std::size_t n = text.size();
    const unsigned char* s = reinterpret_cast<const unsigned char*>(text.data());
    if (n % 4 != 0) {
        // Find a bad character first: it is the more useful message.
        for (std::size_t i = 0; i < n; ++i) {
            if (kDecode.v[s[i]] == 255) {
                why = describe_char(s[i], i);
                return false;
            }
        }
        why = "length " + std::to_string(n) + " is not a multiple of 4 (incorrect padding)";
        return false;
    }
    std::size_t pad = 0;
    if (n >= 1 && s[n - 1] == '=') ++pad;
    if (n >= 2 && s[n - 2] == '=') ++pad;
    Bytes bytes(n / 4 * 3 - pad);
    std::uint8_t* o = bytes.data();
    const std::size_t full = pad ? n - 4 : n;  // the last quad is handled separately if padded
    for (std::size_t i = 0; i < full; i += 4) {
        std::uint8_t a = kDecode.v[s[i]], b = kDecode.v[s[i + 1]], c = kDecode.v[s[i + 2]], d = kDecode.v[s[i + 3]];
        if ((a | b | c | d) & 0xC0) {  // 64 ('=') or 255 (invalid) anywhere inside the data
            for (std::size_t k = i; k < i + 4; ++k) {
                if (kDecode.v[s[k]] >= 64) {
                    why = s[k] == '=' ? "padding '=' at offset " + std::to_string(k) + " before the end of the data"
                                      : describe_char(s[k], k);
                    return false;
                }
            }
        }
        std::uint32_t w = (std::uint32_t(a) << 18) | (std::uint32_t(b) << 12) | (std::uint32_t(c) << 6) | d;
        *o++ = static_cast<std::uint8_t>(w >> 16);
        *o++ = static_cast<std::uint8_t>(w >> 8);
        *o++ = static_cast<std::uint8_t>(w);
    }
    if (pad) {
        std::size_t i = n - 4;
        std::uint8_t a = kDecode.v[s[i]], b = kDecode.v[s[i + 1]], c = kDecode.v[s[i + 2]];
        if (a >= 64 || b >= 64 || (pad == 1 && c >= 64)) {
            std::size_t k = a >= 64 ? i : b >= 64 ? i + 1 : i + 2;
            why = s[k] == '=' ? "padding '=' at offset " + std::to_string(k) + " before the end of the data"
                              : describe_char(s[k], k);
            return false;
        }
        std::uint32_t w = (std::uint32_t(a) << 18) | (std::uint32_t(b) << 12) | (pad == 1 ? std::uint32_t(c) << 6 : 0);
        *o++ = static_cast<std::uint8_t>(w >> 16);
        if (pad == 1) *o++ = static_cast<std::uint8_t>(w >> 8);
    }
    out = std::move(bytes);
    return true;
}

}  // namespace rm

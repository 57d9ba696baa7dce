// stdin as the character stream nlohmann's SAX parser reads (used by json_io.cpp only).
#pragma once

#include <algorithm>
#include <cerrno>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <iterator>
#include <string>
#include <unistd.h>
#include <vector>

namespace rm {

// nlohmann's lexer copies every string twice while reading it (the token, plus the raw text
// it keeps for error messages), both growing by doubling: a 128 MiB base64 array would cost
// over a GiB of linear memory. So the reader diverts long strings of plain ASCII (no escapes,
// no control or non-ASCII bytes: all base64 is like this) into its own buffer and hands the
// lexer an empty string in their place; the SAX handler then takes the diverted text. Strings
// that turn out to be short or to need unescaping are replayed to the lexer unchanged, so
// its validation still applies to them.

constexpr std::size_t kDivertMin = 512;  // shorter strings go through the lexer

inline bool plain_char(char c) {
    unsigned char u = static_cast<unsigned char>(c);
    return u >= 0x20 && u < 0x7f && c != '"' && c != '\\';
}

class StdinReader {
  public:
    explicit StdinReader(std::size_t max_bytes) : max_bytes_(max_bytes) {}

    bool at_end() {
        if (mode_ != Mode::Stream) return false;
        return pos_ == len_ && !refill();
    }

    char current() const {
        if (mode_ == Mode::Stream) return buf_[pos_];
        return mode_ == Mode::Replay ? stash_[replay_chunk_][replay_pos_] : '"';
    }

    void advance() {
        char c;
        if (mode_ == Mode::Stream) {
            c = buf_[pos_++];
        } else {
            c = current();
            if (mode_ == Mode::Inject) {
                mode_ = Mode::Stream;
            } else if (++replay_pos_ == stash_[replay_chunk_].size()) {
                replay_pos_ = 0;
                if (++replay_chunk_ == stash_.size()) {
                    stash_.clear();
                    mode_ = Mode::Stream;
                }
            }
        }
        ++consumed_;
        if (c == '\n') {
            ++line_;
            line_start_ = consumed_;
        }
        // Follow the JSON string syntax to spot where strings start.
        if (in_string_) {
            if (escaped_)
                escaped_ = false;
            else if (c == '\\')
                escaped_ = true;
            else if (c == '"')
                in_string_ = false;
        } else if (c == '"') {
            in_string_ = true;
            escaped_ = false;
            if (mode_ == Mode::Stream) maybe_divert();
        }
    }

    // A diverted string is waiting for the SAX handler (the lexer saw "" in its place).
    bool has_diverted() const { return diverted_; }
    // Joins the chunks into one exactly sized string, freeing each chunk once copied.
    std::string take_diverted() {
        diverted_ = false;
        std::string out;
        out.resize(stash_size());
        std::size_t at = 0;
        for (std::string& chunk : stash_) {
            std::memcpy(&out[at], chunk.data(), chunk.size());
            at += chunk.size();
            std::string().swap(chunk);
        }
        stash_.clear();
        return out;
    }

    bool too_large() const { return too_large_; }
    std::uint64_t bytes_read() const { return total_; }
    long line() const { return line_; }
    // 1-based column of the last character read; one past the end once the input is exhausted
    // (where nlohmann's lexer counts its read of end-of-input).
    long column() const {
        const bool exhausted = eof_ && mode_ == Mode::Stream && pos_ == len_;
        return static_cast<long>(consumed_ - line_start_) + (exhausted ? 1 : 0);
    }

  private:
    enum class Mode { Stream, Replay, Inject };

    // Diverted text is kept in fixed-size chunks: growing one buffer by doubling would leave
    // holes adding up to twice its size in a heap that never shrinks.
    static constexpr std::size_t kChunk = 1 << 20;

    std::size_t stash_size() const {
        std::size_t n = 0;
        for (const std::string& c : stash_) n += c.size();
        return n;
    }

    void stash_append(const char* p, std::size_t n) {
        while (n > 0) {
            if (stash_.empty() || stash_.back().size() == kChunk) {
                stash_.emplace_back();
                stash_.back().reserve(kChunk);
            }
            std::string& last = stash_.back();
            std::size_t take = std::min(n, kChunk - last.size());
            last.append(p, take);
            p += take;
            n -= take;
        }
    }

    // Called right after an opening quote was read from the stream.
    void maybe_divert() {
        std::size_t i = pos_;
        while (i < len_ && plain_char(buf_[i])) ++i;
        if (i < len_ && (buf_[i] != '"' || i - pos_ < kDivertMin)) return;  // the lexer reads it
        stash_.clear();
        stash_.reserve(1024);
        for (;;) {
            if (i < len_) {  // the run ends inside the buffer
                if (buf_[i] == '"' && stash_size() + (i - pos_) >= kDivertMin) {
                    stash_append(buf_ + pos_, i - pos_);
                    consumed_ += stash_size();
                    pos_ = i + 1;  // the closing quote is handed over as the injected one
                    mode_ = Mode::Inject;
                    diverted_ = true;
                } else {
                    start_replay();
                }
                return;
            }
            stash_append(buf_ + pos_, len_ - pos_);
            pos_ = len_;
            if (!refill()) {  // end of input inside the string: let the lexer report it
                start_replay();
                return;
            }
            i = pos_;
            while (i < len_ && plain_char(buf_[i])) ++i;
        }
    }

    void start_replay() {
        if (stash_.empty()) return;
        replay_chunk_ = 0;
        replay_pos_ = 0;
        mode_ = Mode::Replay;
    }

    bool refill() {
        if (eof_) return false;
        for (;;) {
            ssize_t n = ::read(0, buf_, sizeof buf_);
            if (n < 0 && errno == EINTR) continue;
            if (n <= 0) {
                eof_ = true;
                return false;
            }
            total_ += static_cast<std::uint64_t>(n);
            if (total_ > max_bytes_) {
                too_large_ = true;
                eof_ = true;
                return false;
            }
            pos_ = 0;
            len_ = static_cast<std::size_t>(n);
            return true;
        }
    }

    std::uint64_t max_bytes_;
    std::uint64_t total_ = 0;
    std::uint64_t consumed_ = 0;
    std::uint64_t line_start_ = 0;
    long line_ = 1;
    bool eof_ = false;
    bool too_large_ = false;
    bool in_string_ = false;
    bool escaped_ = false;
    bool diverted_ = false;
    Mode mode_ = Mode::Stream;
    std::vector<std::string> stash_;
    std::size_t replay_chunk_ = 0;
    std::size_t replay_pos_ = 0;
    std::size_t pos_ = 0;
    std::size_t len_ = 0;
    char buf_[1 << 16];
};

// The input iterator nlohmann's iterator_input_adapter reads through. A null reader is the
// end sentinel; any iterator compares equal to it once the stream is exhausted.
class ReaderIterator {
  public:
    using iterator_category = std::input_iterator_tag;
    using value_type = char;
    using difference_type = std::ptrdiff_t;
    using pointer = const char*;
    using reference = char;

    ReaderIterator() = default;
    explicit ReaderIterator(StdinReader* r) : r_(r) {}

    char operator*() const { return r_->current(); }
    ReaderIterator& operator++() {
        r_->advance();
        return *this;
    }
    ReaderIterator operator++(int) {
        ReaderIterator tmp = *this;
        r_->advance();
        return tmp;
    }
    bool operator==(const ReaderIterator& o) const { return done() == o.done(); }
    bool operator!=(const ReaderIterator& o) const { return done() != o.done(); }

  private:
    bool done() const { return r_ == nullptr || r_->at_end(); }
    StdinReader* r_ = nullptr;
};

}  // namespace rm

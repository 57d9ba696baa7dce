// Out-of-memory and internal-error exits, and the global allocation operators that route
// every failed C++ allocation into them. See fatal.hpp.
#include "fatal.hpp"

#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <new>
#include <unistd.h>

#include "events.hpp"
#include "request.hpp"

namespace rm {
namespace {

bool g_stdout_started = false;
bool g_in_fatal = false;  // a second fatal exit while writing the first one just exits
char g_buffer[1024];      // fatal messages are formatted here, never on the heap

// Appends `s` as the body of a JSON string (escaped, truncated to fit) to g_buffer.
std::size_t append_escaped(std::size_t at, const char* s, std::size_t limit) {
    for (; *s && at + 8 < limit; ++s) {
        unsigned char c = static_cast<unsigned char>(*s);
        if (c == '"' || c == '\\') {
            g_buffer[at++] = '\\';
            g_buffer[at++] = static_cast<char>(c);
        } else if (c < 0x20) {
            at += static_cast<std::size_t>(std::snprintf(g_buffer + at, limit - at, "\\u%04x", c));
        } else {
            g_buffer[at++] = static_cast<char>(c);
        }
    }
    return at;
}

void write_finish_event(const char* code) {
    if (!events_enabled()) return;
    int n = std::snprintf(g_buffer, sizeof g_buffer,
                          "{\"event\":\"finish\",\"ok\":false,\"t_ms\":%.3f,\"peak_memory_bytes\":%llu,"
                          "\"error\":\"%s\"}\n",
                          now_ms(), static_cast<unsigned long long>(sample_memory()), code);
    if (n > 0) write_all(2, g_buffer, static_cast<std::size_t>(n) < sizeof g_buffer ? n : sizeof g_buffer - 1);
}

void* checked_alloc(std::size_t n) {
    void* p = std::malloc(n ? n : 1);
    if (!p) out_of_memory(n);
    return p;
}

void* aligned_alloc_or_null(std::size_t n, std::size_t align) noexcept {
    if (align <= alignof(std::max_align_t)) return std::malloc(n ? n : 1);
    void* p = nullptr;
    if (posix_memalign(&p, align, n ? n : 1) != 0) return nullptr;
    return p;
}

void* checked_aligned_alloc(std::size_t n, std::size_t align) {
    void* p = aligned_alloc_or_null(n, align);
    if (!p) out_of_memory(n);
    return p;
}

}  // namespace

void write_all(int fd, const char* data, std::size_t n) noexcept {
    while (n > 0) {
        ssize_t w = ::write(fd, data, n);
        if (w < 0) {
            if (errno == EINTR) continue;
            return;
        }
        data += w;
        n -= static_cast<std::size_t>(w);
    }
}

void note_stdout_started() noexcept { g_stdout_started = true; }

void begin_request() noexcept {
    g_stdout_started = false;
    clear_failed_allocation();
}

void out_of_memory(std::size_t requested) noexcept {
    if (g_in_fatal) _Exit(1);
    g_in_fatal = true;
    std::uint64_t mem = sample_memory();
    if (!g_stdout_started) {
        int n = std::snprintf(
            g_buffer, sizeof g_buffer,
            "{\"ok\":false,\"error\":{\"code\":\"out_of_memory\",\"message\":\"out of memory: an "
            "allocation of %zu bytes failed with %llu bytes of linear memory in use\",\"hint\":\"Raise "
            "the run's memory limit or use a smaller input\",\"details\":{\"requested_bytes\":%zu,"
            "\"memory_bytes\":%llu}}}\n",
            requested, static_cast<unsigned long long>(mem), requested, static_cast<unsigned long long>(mem));
        if (n > 0) write_all(1, g_buffer, static_cast<std::size_t>(n));
        g_stdout_started = true;
    }
    write_finish_event("out_of_memory");
    _Exit(1);
}

void fatal_internal(const char* what) noexcept {
    // An abort after the heap failed to grow is how ggml and whisper.cpp react to a full
    // memory: report the cause, not the symptom.
    if (!g_in_fatal && failed_allocation_bytes() > 0) out_of_memory(failed_allocation_bytes());
    if (g_in_fatal) _Exit(1);
    g_in_fatal = true;
    if (!g_stdout_started) {
        static const char head[] = "{\"ok\":false,\"error\":{\"code\":\"internal_error\",\"message\":\"";
        static const char tail[] = "\"}}\n";
        std::size_t at = sizeof head - 1;
        for (std::size_t i = 0; i < at; ++i) g_buffer[i] = head[i];
        at = append_escaped(at, what ? what : "internal error", sizeof g_buffer - sizeof tail);
        for (std::size_t i = 0; i < sizeof tail - 1; ++i) g_buffer[at++] = tail[i];
        write_all(1, g_buffer, at);
        g_stdout_started = true;
    }
    write_finish_event("internal_error");
    _Exit(1);
}

void* xmalloc(std::size_t n) { return checked_alloc(n); }

void* xrealloc(void* p, std::size_t n) {
    void* q = std::realloc(p, n ? n : 1);
    if (!q) out_of_memory(n);
    return q;
}

}  // namespace rm

// The single-threaded libc++ stand-ins compiled into whisper.cpp (runtime/shims/include) report
// a fatal misuse (a mutex locked twice, ...) here instead of printing to stderr.
extern "C" [[noreturn]] void rm_shim_fatal(const char* message) { rm::fatal_internal(message); }

// ---- Replaceable global allocation functions ([new.delete]) --------------------------------
// Throwing forms end the run with out_of_memory (there are no exceptions to throw). The
// nothrow forms keep their standard meaning and return null, because their callers (e.g.
// libc++'s temporary buffers for stable_sort) handle null by taking a slower path.

void* operator new(std::size_t n) { return rm::checked_alloc(n); }
void* operator new[](std::size_t n) { return rm::checked_alloc(n); }
void* operator new(std::size_t n, std::align_val_t al) {
    return rm::checked_aligned_alloc(n, static_cast<std::size_t>(al));
}
void* operator new[](std::size_t n, std::align_val_t al) {
    return rm::checked_aligned_alloc(n, static_cast<std::size_t>(al));
}
void* operator new(std::size_t n, const std::nothrow_t&) noexcept { return std::malloc(n ? n : 1); }
void* operator new[](std::size_t n, const std::nothrow_t&) noexcept { return std::malloc(n ? n : 1); }
void* operator new(std::size_t n, std::align_val_t al, const std::nothrow_t&) noexcept {
    return rm::aligned_alloc_or_null(n, static_cast<std::size_t>(al));
}
void* operator new[](std::size_t n, std::align_val_t al, const std::nothrow_t&) noexcept {
    return rm::aligned_alloc_or_null(n, static_cast<std::size_t>(al));
}

void operator delete(void* p) noexcept { std::free(p); }
void operator delete[](void* p) noexcept { std::free(p); }
void operator delete(void* p, std::size_t) noexcept { std::free(p); }
void operator delete[](void* p, std::size_t) noexcept { std::free(p); }
void operator delete(void* p, std::align_val_t) noexcept { std::free(p); }
void operator delete[](void* p, std::align_val_t) noexcept { std::free(p); }
void operator delete(void* p, std::size_t, std::align_val_t) noexcept { std::free(p); }
void operator delete[](void* p, std::size_t, std::align_val_t) noexcept { std::free(p); }
void operator delete(void* p, const std::nothrow_t&) noexcept { std::free(p); }
void operator delete[](void* p, const std::nothrow_t&) noexcept { std::free(p); }
void operator delete(void* p, std::align_val_t, const std::nothrow_t&) noexcept { std::free(p); }
void operator delete[](void* p, std::align_val_t, const std::nothrow_t&) noexcept { std::free(p); }

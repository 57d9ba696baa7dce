// Last-resort exits that still leave one JSON result on stdout.
//
// A failed allocation anywhere (operator new, xmalloc) ends the run with a preformatted
// `out_of_memory` error; an abort (libc abort(), an assert, a C++ throw in a library built
// with exception syntax) ends it with `internal_error`. Neither path allocates. If the
// result has already started streaming to stdout, nothing more is written there (the host
// then reports the truncated output itself).
#pragma once

#include <cstddef>

namespace rm {

// Writes {"ok":false,"error":{"code":"out_of_memory",...}} and exits with status 1.
[[noreturn]] void out_of_memory(std::size_t requested) noexcept;

// Writes {"ok":false,"error":{"code":"internal_error","message":<what>}} and exits with 1.
[[noreturn]] void fatal_internal(const char* what) noexcept;

// The size of the most recent allocation the heap could not satisfy (linear memory could not
// grow, e.g. at the host's memory cap), 0 when none failed. Libraries that check malloc
// (whisper.cpp, ggml) turn such a failure into an error return or an abort; either way the
// run is reported as out_of_memory, not as an internal error.
std::size_t failed_allocation_bytes() noexcept;
// Forget a failed allocation of an earlier request (a warm instance serves many).
void clear_failed_allocation() noexcept;

// malloc/realloc that never return null: they end the run with out_of_memory instead.
void* xmalloc(std::size_t n);
void* xrealloc(void* p, std::size_t n);

// The result is being written to stdout: a fatal exit must not add a second document.
void note_stdout_started() noexcept;

// Writes all of [data, data+n) to a file descriptor (retrying short writes). No allocation.
void write_all(int fd, const char* data, std::size_t n) noexcept;

}  // namespace rm

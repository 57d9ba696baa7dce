// RM Studio: shared helpers of the single-threaded WASI stand-ins in this directory.
//
// These headers sit in an include directory placed before libc++'s (see
// runtime/whisper_build.py). Each one first includes the real libc++ header with
// #include_next and only adds what that libc++ leaves out when it is configured without
// threads (_LIBCPP_HAS_THREADS=0) or without a filesystem (_LIBCPP_HAS_FILESYSTEM=0), as Zig
// configures it for wasm32-wasi. With a full libc++ they add nothing.
#pragma once

#include <__config>
#include <cstdio>
#include <cstdlib>

// A program that links these shims may define rm_shim_fatal (RM Studio's executor does, to
// end the run with a JSON error, since its stderr is an event stream); otherwise the message
// goes to stderr before abort().
extern "C" [[noreturn]] void rm_shim_fatal(const char* message) __attribute__((weak));

#define RM_SHIM_FATAL(what)                                                           \
    do {                                                                              \
        if (rm_shim_fatal) rm_shim_fatal("rm-shim: " what " (single-threaded wasm32-wasi)"); \
        std::fputs("rm-shim: fatal: " what " (single-threaded wasm32-wasi)\n", stderr); \
        std::abort();                                                                 \
    } while (0)

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

#define RM_SHIM_FATAL(what)                                                           \
    do {                                                                              \
        std::fputs("rm-shim: fatal: " what " (single-threaded wasm32-wasi)\n", stderr); \
        std::abort();                                                                 \
    } while (0)

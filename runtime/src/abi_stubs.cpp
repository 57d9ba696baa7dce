// C and C++ runtime hooks that turn crashes into a JSON `internal_error` result.
//
// * abort(): libc's version traps (`unreachable`), which the host could only report as a
//   bare trap. assert(), std::terminate, nlohmann's JSON_THROW under JSON_NOEXCEPTION and
//   ggml's GGML_ABORT all end here instead.
// * __cxa_allocate_exception / __cxa_throw: wasm32-wasi has no C++ exception runtime, yet code
//   compiled with exception syntax (whisper.cpp) references these two. A throw ends the run.
//
// This file deliberately includes only C headers: libc++ headers declare some __cxa_*
// functions themselves, with C++ types this file does not want to depend on.
#include <stddef.h>

namespace rm {
[[noreturn]] void fatal_internal(const char* what) noexcept;
}

extern "C" {

[[noreturn]] void abort(void) { rm::fatal_internal("the guest aborted (abort() was called)"); }

void* __cxa_allocate_exception(size_t thrown_size) noexcept {
    (void)thrown_size;
    rm::fatal_internal("a C++ exception was thrown inside the guest, which has no exception support");
}

[[noreturn]] void __cxa_throw(void* thrown_exception, void* type_info, void (*destructor)(void*)) {
    (void)thrown_exception;
    (void)type_info;
    (void)destructor;
    rm::fatal_internal("a C++ exception was thrown inside the guest, which has no exception support");
}

}  // extern "C"

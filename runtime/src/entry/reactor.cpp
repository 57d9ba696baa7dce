// The WASI reactor (rm_executor.reactor.wasm): the same executor, but the host calls the
// `rm_serve` export once per request in a long-lived instance, so state that is expensive to
// build and safe to share (a loaded Whisper model) survives between requests.
//
// Before each call the host replaces the store's WASI context: new stdin (the request), new
// stdout/stderr, new preopened directories. wasi-libc caches the preopen table, so it is
// dropped and read again here; nothing else in the guest holds a file descriptor between
// requests. A request that traps (out of memory, timeout, cancel) ends the instance; the host
// then starts a fresh one. See docs/RUNTIME.md, "Warm guests".
#include "request.hpp"

extern "C" {
void __wasilibc_reset_preopens(void);
void __wasilibc_populate_preopens(void);

__attribute__((export_name("rm_serve"))) int rm_serve(void) {
    __wasilibc_reset_preopens();
    __wasilibc_populate_preopens();
    return rm::handle_request();
}
}

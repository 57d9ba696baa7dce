// The WASI command (rm_executor.wasm): one request per instance, the contract's reference form
// that any WASI runtime can run (`wasmtime run`, Node.js's WASI). See docs/CONTRACT.md.
#include "request.hpp"

int main() { return rm::handle_request(); }

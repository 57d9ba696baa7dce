// Handling one run request, shared by the module's two entry points (runtime/src/entry/).
#pragma once

#include "error.hpp"

namespace rm {

// Reads the request on stdin, writes the result on stdout and events on stderr; returns the
// exit status (0 ok, 1 error). Safe to call again in the same instance once it has returned:
// every per-request setting (clock, peak memory, events switch, fatal-path flags) restarts.
int handle_request();

// Writes {"ok": false, "error": ...} on stdout and the `finish` event; returns 1 (the exit
// status). Every request kind ends a failure this way (quantize.cpp too).
int write_failure(const Error& err);

// Per-request state kept outside handle_request (fatal.cpp, heap.cpp), restarted by it.
void begin_request() noexcept;

}  // namespace rm

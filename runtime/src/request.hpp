// Handling one run request, shared by the module's two entry points (runtime/src/entry/).
#pragma once

namespace rm {

// Reads the request on stdin, writes the result on stdout and events on stderr; returns the
// exit status (0 ok, 1 error). Safe to call again in the same instance once it has returned:
// every per-request setting (clock, peak memory, events switch, fatal-path flags) restarts.
int handle_request();

// Per-request state kept outside handle_request (fatal.cpp, heap.cpp), restarted by it.
void begin_request() noexcept;

}  // namespace rm

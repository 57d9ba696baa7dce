// Model quantization in the guest: a whisper.cpp ggml model (f16 or f32 weights) rewritten with
// its large 2-D weights in a quantized ggml type, by ggml's own quantizer (docs/CONTRACT.md,
// "Quantize"). A request of its own, not a pipeline node: it reads one preopened file and writes
// another, and has no inputs or outputs in the pipeline sense.
#pragma once

#include <string>
#include <vector>

#include "value.hpp"

namespace rm {

// True for {"command": "quantize", ...}, and for a request without "command" and without
// "manifest" that carries a "quantize" object.
bool is_quantize_request(const Value& request);

// Runs a quantize request: writes the JSON result on stdout, events on stderr, and returns
// the process exit status (0 on success).
int run_quantize(const Value& request);

// The accepted "type" names, in ggml's spelling (q8_0, q5_1, ..., q6_K), for describe.
std::vector<std::string> quantize_type_names();

}  // namespace rm

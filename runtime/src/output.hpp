// Writing Values as JSON, honouring options.array_encoding (docs/CONTRACT.md, "Request"):
//   auto    typed arrays stay typed (flat base64 form), JSON lists stay lists
//   json    typed arrays become nested JSON lists (shape kept, each element as a double)
//   base64  non-empty rectangular lists of plain numbers become float64 typed arrays
// Audio values are written as {"data": float32 samples, "sample_rate", "channels", "start_time"}.
#pragma once

#include <string>
#include <string_view>

#include "json_io.hpp"
#include "value.hpp"

namespace rm {

enum class ArrayEncoding { Auto, Json, Base64 };

bool array_encoding_from_name(std::string_view name, ArrayEncoding& out);

void write_value(JsonWriter& w, const Value& v, ArrayEncoding encoding);

// A flat typed-array object: {"dtype", "shape", "encoding": "base64", "data"}.
void write_typed_array(JsonWriter& w, const TypedArray& a);

// A Value as compact JSON text (auto encoding), for messages.
std::string to_json_text(const Value& v);

}  // namespace rm

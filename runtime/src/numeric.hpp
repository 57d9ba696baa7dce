// Element-wise arithmetic over numeric Values, shared by the math nodes.
//
// Numbers map to numbers, (nested) lists keep their shape, typed arrays are computed in
// double precision per element and rounded once to the output dtype: float32 stays float32,
// float64 stays float64, integer dtypes become float64 (numpy:
// `(a.astype(float64) * m).astype(out_dtype)`). Anything else is invalid input.
#pragma once

#include <string>
#include <utility>

#include "error.hpp"
#include "node.hpp"
#include "typed_array.hpp"
#include "value.hpp"

namespace rm {

namespace numeric_detail {

template <class In, class Out, class Op>
void apply(const In* in, Out* out, std::size_t n, const Op& op) {
    for (std::size_t i = 0; i < n; ++i) out[i] = static_cast<Out>(op(static_cast<double>(in[i])));
}

template <class Op>
Value map_array(Value& v, const Op& op) {
    // A float array nobody else holds is rewritten in place.
    if (TypedArray* own = v.unique_array()) {
        if (own->dtype == DType::Float32) {
            apply(own->elements<float>(), own->elements<float>(), own->count(), op);
            return std::move(v);
        }
        if (own->dtype == DType::Float64) {
            apply(own->elements<double>(), own->elements<double>(), own->count(), op);
            return std::move(v);
        }
    }
    const TypedArray& in = v.as_array();
    TypedArray out;
    out.dtype = in.dtype == DType::Float32 ? DType::Float32 : DType::Float64;
    out.shape = in.shape;
    const std::size_t n = in.count();
    out.bytes = Bytes(n * dtype_info(out.dtype).size);
    visit_dtype(in.dtype, [&](auto zero) {
        using T = decltype(zero);
        if (out.dtype == DType::Float32)
            apply(in.elements<T>(), out.elements<float>(), n, op);
        else
            apply(in.elements<T>(), out.elements<double>(), n, op);
    });
    return Value::array(std::move(out));
}

}  // namespace numeric_detail

// Maps `op(double) -> double` over a numeric value. `v` may be consumed. On a non-numeric
// part, returns invalid_input naming the node, the item index and what was found.
template <class Op>
Error map_numeric(Value& v, std::size_t item_index, const Op& op, Value& result, const NodeContext& ctx) {
    switch (v.type()) {
        case Value::Type::Number:
            result = Value::number(op(v.as_number()));
            return ok();
        case Value::Type::Array:
            result = numeric_detail::map_array(v, op);
            return ok();
        case Value::Type::List: {
            Value::List out;
            out.reserve(v.as_list().size());
            for (const Value& item : v.as_list()) {
                Value part = item;
                Value mapped;
                Error err = map_numeric(part, item_index, op, mapped, ctx);
                if (err.failed()) return err;
                out.push_back(std::move(mapped));
            }
            result = Value::list(std::move(out));
            return ok();
        }
        default:
            return ctx.invalid_input(item_index, "expects numbers or numeric arrays; item " + std::to_string(item_index) +
                                                     " contains " + v.describe());
    }
}

}  // namespace rm

// The math nodes: MultiplyNode, AddNode, CalculatorNode (catalog category "math").
#include <string>

#include "node.hpp"
#include "numeric.hpp"

namespace rm {
namespace {

class MultiplyNode final : public MapNode {
  public:
    Error init(const Params& params, NodeContext&) override {
        multiplier_ = params.number("multiplier", 2.0);
        return ok();
    }

  protected:
    Error map(Value& item, std::size_t index, Value& result, NodeContext& ctx) override {
        const double m = multiplier_;
        return map_numeric(item, index, [m](double x) { return x * m; }, result, ctx);
    }

  private:
    double multiplier_ = 2.0;
};

class AddNode final : public MapNode {
  public:
    Error init(const Params& params, NodeContext&) override {
        addend_ = params.number("addend", 0.0);
        return ok();
    }

  protected:
    Error map(Value& item, std::size_t index, Value& result, NodeContext& ctx) override {
        const double a = addend_;
        return map_numeric(item, index, [a](double x) { return x + a; }, result, ctx);
    }

  private:
    double addend_ = 0.0;
};

class CalculatorNode final : public MapNode {
  public:
    Error init(const Params& params, NodeContext& ctx) override {
        const std::string op = params.string("operation");
        operand_ = params.number("operand", 0.0);
        if (op == "add") {
            op_ = Op::Add;
        } else if (op == "subtract") {
            op_ = Op::Subtract;
        } else if (op == "multiply") {
            op_ = Op::Multiply;
        } else if (op == "divide") {
            op_ = Op::Divide;
        } else {
            return ctx.failed("unknown operation '" + op + "'");  // the validator rules this out
        }
        return ok();
    }

  protected:
    Error begin(const std::vector<Value>& items, NodeContext& ctx) override {
        if (op_ == Op::Divide && operand_ == 0.0 && !items.empty()) {
            return ctx.failed("division by zero (operation 'divide' with operand 0)");
        }
        return ok();
    }

    Error map(Value& item, std::size_t index, Value& result, NodeContext& ctx) override {
        const double b = operand_;
        switch (op_) {
            case Op::Add: return map_numeric(item, index, [b](double x) { return x + b; }, result, ctx);
            case Op::Subtract: return map_numeric(item, index, [b](double x) { return x - b; }, result, ctx);
            case Op::Multiply: return map_numeric(item, index, [b](double x) { return x * b; }, result, ctx);
            case Op::Divide: return map_numeric(item, index, [b](double x) { return x / b; }, result, ctx);
        }
        return ok();
    }

  private:
    enum class Op { Add, Subtract, Multiply, Divide };
    Op op_ = Op::Add;
    double operand_ = 0.0;
};

}  // namespace

RM_REGISTER_NODE("MultiplyNode", MultiplyNode);
RM_REGISTER_NODE("AddNode", AddNode);
RM_REGISTER_NODE("CalculatorNode", CalculatorNode);

}  // namespace rm

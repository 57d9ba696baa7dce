// Utility nodes: PassThroughNode (catalog category "utility").
#include "node.hpp"

namespace rm {
namespace {

class PassThroughNode final : public Node {
  public:
    Error process(std::vector<Value>& items, std::vector<Value>& out, NodeContext&) override {
        out = std::move(items);  // Values share their payloads: nothing is copied
        return ok();
    }
};

}  // namespace

RM_REGISTER_NODE("PassThroughNode", PassThroughNode);

}  // namespace rm

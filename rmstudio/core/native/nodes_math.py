"""Reference implementations of the numeric nodes (catalog category "math" and utilities)."""

from __future__ import annotations

from typing import Any

from rmstudio.core.errors import RMError
from rmstudio.core.native.base import Context, Node, register
from rmstudio.core.native.values import kind_name, numeric_map


class _Elementwise(Node):
    """A node that applies one double-precision operation to every number it receives."""

    def op(self, x: Any) -> Any:
        raise NotImplementedError

    def process(self, items: list[Any], ctx: Context) -> list[Any]:
        out = []
        for index, item in enumerate(items):

            def bad(value: Any, index: int = index) -> RMError:
                return ctx.invalid_input(
                    index, f"expects numbers or numeric arrays; item {index} contains {kind_name(value)}"
                )

            out.append(numeric_map(item, self.op, bad))
        return out


@register("PassThroughNode")
class PassThrough(Node):
    def process(self, items: list[Any], ctx: Context) -> list[Any]:
        return list(items)


@register("MultiplyNode")
class Multiply(_Elementwise):
    def op(self, x: Any) -> Any:
        return x * float(self.params["multiplier"])


@register("AddNode")
class Add(_Elementwise):
    def op(self, x: Any) -> Any:
        return x + float(self.params["addend"])


@register("CalculatorNode")
class Calculator(_Elementwise):
    def process(self, items: list[Any], ctx: Context) -> list[Any]:
        if self.params["operation"] == "divide" and float(self.params["operand"]) == 0.0 and items:
            raise ctx.failed("division by zero (operation 'divide' with operand 0)")
        return super().process(items, ctx)

    def op(self, x: Any) -> Any:
        operand = float(self.params["operand"])
        operation = self.params["operation"]
        if operation == "add":
            return x + operand
        if operation == "subtract":
            return x - operand
        if operation == "multiply":
            return x * operand
        return x / operand

"""Display through sympy: expression trees as sympy expressions (never on the hot path)."""

from __future__ import annotations

from seq2math.symbolic.expr import Const, Expr, Float, Int, Unary, Var, operands


def to_sympy(e: Expr):
    """A sympy expression (for display and cross-checks; never in the hot path)."""
    import sympy

    functions = {"sqrt": sympy.sqrt, "exp": sympy.exp, "ln": sympy.log, "sin": sympy.sin, "cos": sympy.cos,
                 "tan": sympy.tan, "asin": sympy.asin, "acos": sympy.acos, "atan": sympy.atan, "Abs": sympy.Abs}

    def convert(node: Expr):
        if isinstance(node, Int):
            return sympy.Integer(node.value)
        if isinstance(node, Float):
            value = node.value
            return sympy.Rational(value.numerator, value.denominator)
        if isinstance(node, Var):
            return sympy.Symbol(f"x{node.index}")
        if isinstance(node, Const):
            return sympy.pi if node.name == "pi" else sympy.E
        if isinstance(node, Unary):
            return functions[node.op](convert(node.arg))
        if node.op in ("+", "*"):
            items = [convert(item) for item in operands(node, node.op)]
            return sympy.Add(*items) if node.op == "+" else sympy.Mul(*items)
        left, right = convert(node.left), convert(node.right)
        if node.op == "-":
            return left - right
        if node.op == "/":
            return left / right
        return left ** right

    return convert(e)

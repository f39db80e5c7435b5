"""The torch side of the neural baseline: systems evaluated in torch, and the Lyapunov network.

The network (our choice, documented here because it decides what can be proved):

    φ(x) = [W₁x ; (W₂x)∘(W₂x)]          linear features and square-activated features, no biases
    V(x) = ‖C φ(x)‖² + ε‖x‖²            ε > 0 fixed

So V(0) = 0 and V(x) ≥ ε‖x‖² > 0 for x ≠ 0 hold *by construction*, for every weight value,
and V is radially unbounded: the learner only has to make V̇ = ∇V·f negative. This is the
square-activation family of Fossil 2 and the SOS-of-features structure of LyzNet's
polynomial nets (their papers), chosen because V is then a polynomial of degree ≤ 4 that can
be extracted exactly: after rounding the weights to dyadic rationals, ``to_poly`` rebuilds V
in flint as the same sum of squares plus ε‖x‖², so positivity of the extracted V is exact.
"""

from __future__ import annotations

import math
from fractions import Fraction
from typing import Callable

import torch

from seq2math.symbolic.calculus import ArrayOps, tree_values
from seq2math.symbolic.expr import Expr, from_poly
from seq2math.symbolic.poly import Poly, ring

Tensor = torch.Tensor

_UNARY: dict[str, Callable[[Tensor], Tensor]] = {
    "sqrt": torch.sqrt, "exp": torch.exp, "ln": torch.log, "sin": torch.sin, "cos": torch.cos, "tan": torch.tan,
    "asin": torch.asin, "acos": torch.acos, "atan": torch.atan, "Abs": torch.abs,
}


def _torch_unary(function: Callable[[Tensor], Tensor]) -> Callable:
    return lambda value: function(value if isinstance(value, Tensor) else torch.tensor(value, dtype=torch.float64))


def _torch_power(base, exponent, integer: int | None):
    if integer is not None:
        return base ** integer                               # exact sign for x < 0
    return torch.as_tensor(base, dtype=exponent.dtype if isinstance(exponent, Tensor) else torch.float64) ** exponent


TORCH_OPS = ArrayOps({op: _torch_unary(f) for op, f in _UNARY.items()}, _torch_power, lambda a, b: a / b)


def torch_evaluate(e: Expr, X: Tensor) -> Tensor | float:
    """Value of the tree ``e`` at the rows of ``X`` [N, n] (a float when ``e`` is constant)."""
    return tree_values(e, X, TORCH_OPS)


def system_function(system: list) -> Callable[[Tensor], Tensor]:
    """f as a torch function [N, n] -> [N, n]; equations may be expression trees or flint polynomials."""
    trees = [from_poly(f) if isinstance(f, Poly) else f for f in system]
    if not trees:
        raise ValueError("the system has no equations")

    def f(X: Tensor) -> Tensor:
        columns = [torch_evaluate(tree, X) for tree in trees]
        columns = [c if isinstance(c, Tensor) else torch.full((X.shape[0],), c, dtype=X.dtype) for c in columns]
        return torch.stack(columns, dim=1)  # (N, n)

    return f


class SquareNetwork(torch.nn.Module):
    """V(x) = ‖C φ(x)‖² + ε‖x‖² with φ(x) = [W₁x ; (W₂x)²]; see the module docstring."""

    def __init__(self, nvars: int, linear_width: int, square_width: int, output_width: int, epsilon: float,
                 generator: torch.Generator):
        super().__init__()
        def init(rows: int, cols: int, scale: float) -> torch.nn.Parameter:
            return torch.nn.Parameter(torch.randn(rows, cols, generator=generator, dtype=torch.float64) * scale)

        self.nvars = nvars
        self.epsilon = Fraction(round(epsilon * 2 ** 20), 2 ** 20)      # dyadic: the float is the exact value
        if self.epsilon <= 0:
            raise ValueError(f"epsilon {epsilon} rounds to 0; use at least 2^-20")
        self.W1 = init(linear_width, nvars, 1 / math.sqrt(nvars))
        self.W2 = init(square_width, nvars, 1 / math.sqrt(nvars))
        self.C = init(output_width, linear_width + square_width, 1 / math.sqrt(linear_width + square_width))

    def _parts(self, X: Tensor) -> tuple[Tensor, Tensor, Tensor]:
        pre = X @ self.W2.T                                             # (N, S)
        phi = torch.cat([X @ self.W1.T, pre * pre], dim=1)              # (N, L+S)
        return pre, phi, phi @ self.C.T                                 # (N, m)

    def value(self, X: Tensor) -> Tensor:
        """V at the rows of X [N, n] -> [N]."""
        _, _, out = self._parts(X)
        return (out * out).sum(dim=1) + float(self.epsilon) * (X * X).sum(dim=1)

    def gradient(self, X: Tensor) -> Tensor:
        """∇V at the rows of X [N, n] -> [N, n], written out (no autograd, so it is cheap to differentiate)."""
        pre, _, out = self._parts(X)
        upstream = out @ self.C                                          # (N, L+S) = ∂(½‖Cφ‖²)/∂φ
        linear = upstream[:, : self.W1.shape[0]] @ self.W1               # (N, n)
        square = (upstream[:, self.W1.shape[0]:] * 2 * pre) @ self.W2    # (N, n)
        return 2 * (linear + square) + 2 * float(self.epsilon) * X

    @torch.no_grad()
    def quantize_(self, bits: int) -> None:
        """Round every weight to a multiple of 2^-bits, so the float V is exactly the rational one."""
        scale = 2.0 ** bits
        for weight in (self.W1, self.W2, self.C):
            weight.copy_(torch.round(weight * scale) / scale)

    def to_poly(self) -> Poly:
        """The exact V in Q[x0..x{n-1}] of the current (quantized) weights, built as a sum of squares."""
        gens = ring(self.nvars).gens()

        def linear_form(row: Tensor) -> Poly:
            total = ring(self.nvars).constant(0)
            for weight, x in zip(row.tolist(), gens):
                if weight:
                    total += _exact(weight) * x
            return total

        features = [linear_form(row) for row in self.W1] + [linear_form(row) ** 2 for row in self.W2]
        V = ring(self.nvars).constant(0)
        for row in self.C:
            output = ring(self.nvars).constant(0)
            for weight, feature in zip(row.tolist(), features):
                if weight:
                    output += _exact(weight) * feature
            V += output ** 2
        epsilon = _exact(self.epsilon)
        return V + sum((epsilon * x ** 2 for x in gens), ring(self.nvars).constant(0))


def _exact(value: float | Fraction):
    """A float (exactly, as the binary number it is) or a Fraction as an fmpq."""
    import flint

    value = Fraction(value)
    return flint.fmpq(value.numerator, value.denominator)

"""Backward generation with non-polynomial V and f (``seq2math generate lyapunov --nonpoly``).

The construction of ``seq2math.lyapunov.generation.backward`` works for any differentiable V:
f = −D(x)∇V + Σ c_j(x)·s_j still gives V̇ = −Σ h_k²(∂_kV)² ≤ 0. Here (docs/generation.md):

* the proper polynomial part P is composed with an increasing function that keeps V(0) = 0
  and properness: exp(P) − 1, √(1 + P) − 1, ln(1 + P), or multiplied by a positive function
  bounded below by 1 (2 + sin q, 2 + cos q, 1 + exp q), or kept as is;
* cross terms are non-negative, vanish at 0 and are built from functions of polynomials q
  without constant term: sin(q)², 1 − cos(q), ln(1 + q²), (exp(q) − 1)², or q²;
* rotation coefficients c_j are polynomials or sin/cos/atan/exp of polynomials.

Gradients are exact symbolic derivatives (``seq2math.symbolic.calculus.diff``).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from seq2math.lyapunov.generation.backward import (
    BackwardConfig,
    draw_recipe,
    proper_part,
)
from seq2math.symbolic import poly as P
from seq2math.symbolic.calculus import add, diff, evaluate, mul, simplify
from seq2math.symbolic.expr import (
    Binary,
    Expr,
    Int,
    Unary,
    Var,
    chain,
    from_poly,
    negate,
)
from seq2math.tokens.prefix import expression_tokens, system_tokens

TRANSFORMS = ("none", "exp", "sqrt", "ln", "times_positive")
CROSS_KINDS = ("sin_squared", "one_minus_cos", "ln_one_plus_square", "exp_minus_one_squared", "square")
COEFFICIENT_FUNCTIONS = ("sin", "cos", "atan", "exp")


@dataclass
class NonpolyExample:
    """A generated non-polynomial pair and its construction (for numerical checks in tests)."""

    n: int
    V: Expr
    system: list[Expr]
    damping: dict[int, Expr]  # k -> h_k (D_kk = h_k²)
    rotations: list[tuple[int, int, Expr]] = field(default_factory=list)
    transform: str = "none"


def _pick(rng: np.random.Generator, choices: tuple[str, ...]) -> str:
    return choices[int(rng.integers(0, len(choices)))]


def _transform(rng: np.random.Generator, proper: Expr, n: int, kind: str) -> Expr:
    one = Int(1)
    if kind == "exp":
        return Binary("-", Unary("exp", proper), one)
    if kind == "sqrt":
        return Binary("-", Unary("sqrt", Binary("+", one, proper)), one)
    if kind == "ln":
        return Unary("ln", Binary("+", one, proper))
    if kind == "times_positive":
        argument = Binary("*", Int(int(rng.integers(1, 4))), _variable(rng, n))
        factor = _pick(rng, ("sin", "cos", "exp"))
        weight = Binary("+", Int(1 if factor == "exp" else 2), Unary(factor, argument))
        return Binary("*", weight, proper)
    return proper


def _variable(rng: np.random.Generator, n: int) -> Expr:

    return Var(int(rng.integers(0, n)))


def _cross_term(rng: np.random.Generator, q: Expr) -> Expr:
    kind = _pick(rng, CROSS_KINDS)
    two = Int(2)
    if kind == "sin_squared":
        return Binary("^", Unary("sin", q), two)
    if kind == "one_minus_cos":
        return Binary("-", Int(1), Unary("cos", q))
    if kind == "ln_one_plus_square":
        return Unary("ln", Binary("+", Int(1), Binary("^", q, two)))
    if kind == "exp_minus_one_squared":
        return Binary("^", Binary("-", Unary("exp", q), Int(1)), two)
    return Binary("^", q, two)


def _coefficient(rng: np.random.Generator, polynomial: P.Poly) -> Expr:
    base = from_poly(polynomial)
    if rng.random() < 0.5:
        return base
    return Unary(_pick(rng, COEFFICIENT_FUNCTIONS), base)


def build_nonpoly(rng: np.random.Generator, config: BackwardConfig) -> NonpolyExample:
    """Draw and build one example (consumes ``rng`` only)."""
    recipe = draw_recipe(rng, config)
    n = recipe.n
    transform = _pick(rng, TRANSFORMS)
    pieces = [_transform(rng, from_poly(proper_part(recipe)), n, transform)]
    pieces += [_cross_term(rng, from_poly(P.ring(n).from_dict(q))) for q in recipe.cross]
    V = chain("+", pieces)
    grad = [simplify(diff(V, i)) for i in range(n)]
    damping = {k: from_poly(P.ring(n).from_dict(h)) for k, h in recipe.damping.items()}
    rotations = [(i, j, _coefficient(rng, P.ring(n).from_dict(c))) for i, j, c in recipe.rotations]
    terms: list[list[Expr]] = [[] for _ in range(n)]
    for k, h in damping.items():
        squared = Int(int(h.value) ** 2) if isinstance(h, Int) else Binary("^", h, Int(2))
        terms[k].append(negate(mul(squared, grad[k])))
    for i, j, c in rotations:
        terms[i].append(mul(c, grad[j]))
        terms[j].append(negate(mul(c, grad[i])))
    system = [_sum(items) for items in terms]
    return NonpolyExample(n, V, system, damping, rotations, transform)


def _sum(items: list[Expr]) -> Expr:
    items = [item for item in items if item != Int(0)]
    if not items:
        return Int(0)
    result = items[-1]
    for item in reversed(items[:-1]):
        result = add(item, result)
    return result


def generate_nonpoly(rng: np.random.Generator, config: BackwardConfig
                     ) -> tuple[NonpolyExample, list[str], list[str]] | None:
    """One non-polynomial example with its tokens, or None when rejected (sizes, f(0) ≠ 0)."""
    example = build_nonpoly(rng, config)
    if not config.allow_zero_equations and any(f == Int(0) for f in example.system):
        return None
    origin = np.zeros((1, example.n))
    at_origin = np.array([evaluate(f, origin)[0] for f in example.system])
    if not np.all(np.isfinite(at_origin)) or np.any(np.abs(at_origin) > 1e-12):
        return None
    source, target = system_tokens(example.system), expression_tokens(example.V)
    if len(source) > config.max_source_tokens or len(target) > config.max_target_tokens:
        return None
    return example, source, target


def lie_derivative_values(example: NonpolyExample, X: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(V̇ at the rows of X, Σ|∂_iV·f_i| as the rounding scale), from exact symbolic gradients."""
    total = np.zeros(X.shape[0])
    scale = np.zeros(X.shape[0])
    with np.errstate(all="ignore"):  # exp(P) overflows far from 0: those points come back inf/nan
        for i, f in enumerate(example.system):
            product = evaluate(diff(example.V, i), X) * evaluate(f, X)
            total += product
            scale += np.abs(product)
    return total, scale


"""``seq2math bench generate``: examples per second per core of a generator, next to a baseline.

``--mode backward`` (default): the backward polynomial generator at its default
configuration (python-flint), against a plain sympy implementation of the *same steps* on
the *same random recipes* (``sympy.expand`` of V = proper + Σq², ∇V by ``sympy.diff``,
f = −D∇V + Σ c_j s_j expanded, the same rejection rules, tokens from ``sympy.Poly`` terms),
run in the same process on a few dozen examples. One process = one core.
Other modes register themselves in ``MODES`` (name -> function(args) -> None).
"""

from __future__ import annotations

import time
from typing import Callable

import numpy as np

from seq2math.benchmarks.forward import bench_forward
from seq2math.lyapunov.generation.backward import (
    BackwardConfig,
    draw_recipe,
    generate_backward,
)
from seq2math.symbolic.expr import number
from seq2math.tokens.prefix import expression_tokens, integer_tokens
from seq2math.tokens.vocab import EQUATION_SEPARATOR

HELP = "examples/s/core of a data generator next to a baseline run in the same process"


def add_arguments(parser) -> None:
    parser.add_argument("--mode", choices=sorted(MODES), default="backward", help="generator to measure")
    parser.add_argument("--count", type=int, default=2000, help="examples drawn for our generator")
    parser.add_argument("--baseline-count", type=int, default=30, help="examples drawn for the baseline")
    parser.add_argument("--seed", type=int, default=0)


def run(args) -> int:
    MODES[args.mode](args)
    return 0


# ---- the sympy baseline: the same algorithm, expanded with sympy ---------------------------
def _sympy_polynomial(monomials: dict, symbols) -> "object":
    import sympy

    return sympy.Add(*[c * sympy.Mul(*[s ** e for s, e in zip(symbols, m)]) for m, c in monomials.items()])


def sympy_backward(recipe, config) -> tuple[list[str], list[str]] | None:
    """Build one example from a recipe with sympy (the baseline of the benchmark)."""
    import sympy


    n = recipe.n
    x = sympy.symbols(f"x0:{n}")
    g = [x[i] ** recipe.half_degrees[i] for i in range(n)]
    if recipe.diagonal is not None:
        proper = sum(recipe.diagonal[i] * g[i] ** 2 for i in range(n))
    else:
        proper = sum(recipe.matrix[i][j] * g[i] * g[j] for i in range(n) for j in range(n))
    V = sympy.expand(proper + sum(_sympy_polynomial(q, x) ** 2 for q in recipe.cross))
    grad = [sympy.diff(V, xi) for xi in x]
    system = [sympy.Integer(0)] * n
    for k, h in recipe.damping.items():
        system[k] -= _sympy_polynomial(h, x) ** 2 * grad[k]
    for i, j, c in recipe.rotations:
        coefficient = _sympy_polynomial(c, x)
        system[i] += coefficient * grad[j]
        system[j] -= coefficient * grad[i]
    system = [sympy.expand(f) for f in system]
    polys = [sympy.Poly(f, *x) for f in system]
    V_poly = sympy.Poly(V, *x)
    for p in polys:
        if p.is_zero or p.coeff_monomial(1) != 0 or p.total_degree() > config.max_system_degree:
            return None
    if V_poly.total_degree() > config.max_lyapunov_degree:
        return None

    def tokens(p) -> list[str]:
        # deglex order, the same writer conventions as seq2math.tokens.prefix.poly_tokens
        items = sorted(p.terms(), key=lambda t: (sum(t[0]), t[0]), reverse=True)
        out: list[str] = []
        for k, (monom, c) in enumerate(items):
            if k < len(items) - 1:
                out.append("+")
            factors = [(i, e) for i, e in enumerate(monom) if e]
            if not factors:
                out.extend(expression_tokens(number(int(c))))
                continue
            if c != 1:
                out.append("*")
                out.extend(expression_tokens(number(int(c))))
            for position, (i, e) in enumerate(factors):
                if position < len(factors) - 1:
                    out.append("*")
                out.extend([f"x{i}"] if e == 1 else ["^", f"x{i}", *integer_tokens(e)])
        return out

    source = integer_tokens(n)
    for p in polys:
        source += [EQUATION_SEPARATOR, *tokens(p)]
    target = tokens(V_poly)
    if len(source) > config.max_source_tokens or len(target) > config.max_target_tokens:
        return None
    return source, target


def _rate(function: Callable[[int], object], count: int) -> tuple[float, int, float]:
    """(accepted examples per second, accepted, seconds) over indices 0..count-1."""
    start = time.process_time()
    accepted = sum(function(i) is not None for i in range(count))
    seconds = time.process_time() - start
    return accepted / seconds, accepted, seconds


def bench_backward(args) -> None:

    config = BackwardConfig()
    ours, accepted, seconds = _rate(lambda i: generate_backward(np.random.default_rng([args.seed, i]), config),
                                    args.count)
    baseline, base_accepted, base_seconds = _rate(
        lambda i: sympy_backward(draw_recipe(np.random.default_rng([args.seed, i]), config), config),
        args.baseline_count)
    # same recipes give the same tokens: the baseline is the same algorithm, not a different one
    for i in range(min(args.baseline_count, 10)):
        mine = generate_backward(np.random.default_rng([args.seed, i]), config)
        theirs = sympy_backward(draw_recipe(np.random.default_rng([args.seed, i]), config), config)
        if (mine is None) != (theirs is None) or (mine is not None and (mine[1], mine[2]) != theirs):
            raise RuntimeError(f"baseline and generator disagree on example {i}")
    print(f"backward generator (python-flint), default config: {ours:9.1f} examples/s/core "
          f"({accepted} accepted of {args.count} draws in {seconds:.2f} s CPU)")
    print(f"sympy baseline, same algorithm and recipes:        {baseline:9.1f} examples/s/core "
          f"({base_accepted} accepted of {args.baseline_count} draws in {base_seconds:.2f} s CPU)")
    print(f"ratio: {ours / baseline:.0f}x   (goal: >= 400 examples/s/core; published generator ~4)")


#: generator name -> benchmark function; other generators add themselves here
MODES: dict[str, Callable] = {"backward": bench_backward}


def _bench_forward(args) -> None:            # forward / barrier generation (seq2math.benchmarks.forward)

    bench_forward(args, "barrier" if args.mode == "barrier" else "lyapunov")


MODES["forward"] = MODES["barrier"] = _bench_forward

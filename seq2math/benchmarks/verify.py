"""``seq2math bench verify``: seconds per (system, V) pair, ours next to the straightforward approach.

Pairs come from the backward generator (2–3 variables, default knobs otherwise), so every
pair is correct. "Ours" is ``check_candidate(..., "lyapunov")`` with exact certificates
(falsification first, half-Newton bases, one sparse Clarabel solve, rational rounding
and LDLᵀ, z3 when rounding has no margin). The straightforward approach is what one
writes first: the full monomial basis of degree ≤ deg/2, coefficient matching written as
one cvxpy expression per monomial in Python loops, cvxpy's default solver and settings,
a feasibility problem, and the solver's status taken as the answer (no exact check).
Both run in this process on the same pairs; the figure is the ratio of medians.
"""

from __future__ import annotations

import statistics
import time

import numpy as np

from seq2math.lyapunov.batch import percentile
from seq2math.lyapunov.generation.backward import BackwardConfig, generate_backward
from seq2math.symbolic.poly import lie_derivative

HELP = "seconds per verified (system, V) pair: median and p90, against a straightforward SOS check"


def add_arguments(parser) -> None:
    parser.add_argument("--count", type=int, default=100, help="pairs checked by our verifier (default 100)")
    parser.add_argument("--baseline-count", type=int, default=10, help="pairs checked by the straightforward approach")
    parser.add_argument("--max-variables", type=int, default=3, help="2..this many variables (default 3)")
    parser.add_argument("--seed", type=int, default=0)


def backward_pairs(count: int, seed: int, max_variables: int) -> list:

    config = BackwardConfig(min_variables=2, max_variables=max_variables)
    pairs, index = [], 0
    while len(pairs) < count:
        generated = generate_backward(np.random.default_rng([seed, index]), config)
        index += 1
        if generated is not None:
            pairs.append((generated[0].system, generated[0].V))
    return pairs


def straightforward_check(system, V) -> str:
    """Full basis, per-monomial cvxpy constraints in loops, default solver: returns the solver status."""
    import cvxpy as cp

    from seq2math.sos.newton import full_basis

    n = len(system)
    positive = V
    for i in range(n):
        powers = [e[i] for e in V.monoms() if sum(e) == e[i] and e[i] % 2 == 0 and e[i] > 0]
        if powers:
            positive -= V.context().from_dict({tuple(min(powers) if j == i else 0 for j in range(n)): 1}) * \
                (max(abs(c) for c in V.coeffs()) / 10**6)
    constraints = []
    for p in (positive, -lie_derivative(V, system)):
        degree = p.total_degree()
        basis = [tuple(int(v) for v in m) for m in full_basis(n, (degree + 1) // 2)]
        Q = cp.Variable((len(basis), len(basis)), symmetric=True)
        constraints.append(Q >> 0)
        coefficients = {tuple(int(v) for v in e): float(c) for e, c in zip(p.monoms(), p.coeffs())}
        sums: dict = {}
        for a, ma in enumerate(basis):
            for b, mb in enumerate(basis):
                sums.setdefault(tuple(x + y for x, y in zip(ma, mb)), []).append(Q[a, b])
        for alpha, entries in sums.items():
            constraints.append(cp.sum(cp.hstack(entries)) == coefficients.get(alpha, 0.0))
        if any(alpha not in sums for alpha in coefficients):
            return "infeasible (support)"
    problem = cp.Problem(cp.Minimize(0), constraints)
    try:
        problem.solve()
    except cp.error.SolverError as err:
        return f"solver error: {err}"
    return str(problem.status)


def _timed(function, pairs) -> tuple[list[float], dict]:
    seconds, outcomes = [], {}
    for system, V in pairs:
        start = time.perf_counter()
        answer = function(system, V)
        seconds.append(time.perf_counter() - start)
        outcomes[answer] = outcomes.get(answer, 0) + 1
    return seconds, outcomes


def _line(name: str, seconds: list[float], outcomes: dict) -> str:

    counts = ", ".join(f"{k}: {v}" for k, v in sorted(outcomes.items(), key=lambda kv: -kv[1]))
    return (f"{name:<34} median {statistics.median(seconds):8.4f} s   p90 {percentile(seconds, 0.9):8.4f} s"
            f"   ({len(seconds)} pairs; {counts})")


def run(args) -> int:
    from seq2math.lyapunov.check import check_candidate

    if args.count < 1 or args.baseline_count < 0:
        raise ValueError("--count must be at least 1 and --baseline-count non-negative")
    pairs = backward_pairs(max(args.count, args.baseline_count), args.seed, args.max_variables)
    check_candidate(*pairs[0])                                            # warm-up: imports, first solver call

    def ours(system, V) -> str:
        result = check_candidate(system, V, "lyapunov")
        return f"{result.valid} ({result.proof or 'open'})"

    seconds, outcomes = _timed(ours, pairs[:args.count])
    print(f"verify: backward pairs with 2..{args.max_variables} variables, check lyapunov, seed {args.seed}")
    print(_line("ours (exact certificates)", seconds, outcomes))
    if args.baseline_count:
        same, same_outcomes = _timed(ours, pairs[:args.baseline_count])
        base, base_outcomes = _timed(straightforward_check, pairs[:args.baseline_count])
        print(_line("ours, on the baseline's pairs", same, same_outcomes))
        print(_line("straightforward (full basis, loops)", base, base_outcomes))
        print(f"ratio of medians: {statistics.median(base) / statistics.median(same):.1f}x faster"
              f"   (goal: median <= 0.05 s per pair)")
    return 0

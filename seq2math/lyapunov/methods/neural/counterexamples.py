"""The verifier side of the neural baseline: counterexamples on the annulus, numerical and exact.

Region claim (what Fossil 2 / NLC / ANLC / LyzNet certify): V(x) > 0 and V̇(x) < 0 for all x
with r ≤ ‖x‖ ≤ R. V > 0 holds by construction (``SquareNetwork``), so only V̇ < 0 is searched:

- ``falsify``: dense sampling of the annulus (uniform in volume, log-uniform in radius, the
  two boundary spheres, the axes), then projected gradient ascent of cos(∇V, f) from the
  worst states. Finding nothing is *not* a proof; it only sends the candidate on.
- ``exact_region_check``: for polynomial f and V, z3 decides ∃x: r² ≤ ‖x‖² ≤ R² ∧ V̇(x) ≥ 0
  exactly (nlsat); ``unsat`` proves the region claim, ``sat`` gives an exact counterexample.
  This replaces dReal of the published tools (docs/verification.md: z3 is complete for
  polynomial real arithmetic; dReal does not install from PyPI alone).
"""

from __future__ import annotations

import math
from fractions import Fraction
from typing import Callable

import flint
import torch

from seq2math.lyapunov.methods.neural.network import SquareNetwork, Tensor
from seq2math.sos.prover import ProverAnswer, Verdict, _model_point, _to_z3
from seq2math.symbolic.poly import Poly, lie_derivative
from seq2math.symbolic.polytools import exact_value, fmt_point

LOCAL_SEARCH_STARTS = 32
LOCAL_SEARCH_STEPS = 40
MAX_COUNTEREXAMPLES = 64


def sample_annulus(nvars: int, count: int, inner: float, outer: float, generator: torch.Generator) -> Tensor:
    """``count`` states with inner ≤ ‖x‖ ≤ outer [count, n]: half uniform in volume, half log-uniform radius.

    Uniform-in-volume samples sit almost all near the outer sphere in a wide annulus; the
    log-uniform half keeps every scale (where the low- and high-degree terms of V̇ dominate).
    """
    directions = torch.randn(count, nvars, generator=generator, dtype=torch.float64)
    directions = directions / directions.norm(dim=1, keepdim=True).clamp_min(1e-300)
    u = torch.rand(count, generator=generator, dtype=torch.float64)
    volume = (inner ** nvars + u * (outer ** nvars - inner ** nvars)) ** (1.0 / nvars)
    logarithmic = inner * (outer / inner) ** u
    half = count // 2
    radii = torch.cat([volume[:half], logarithmic[half:]])
    return directions * radii[:, None]  # (count, n)


def decrease_cosine(network: SquareNetwork, f: Callable[[Tensor], Tensor], X: Tensor) -> tuple[Tensor, Tensor]:
    """(V̇, cos(∇V, f)) at the rows of X; the cosine is the scale-free quantity the learner trains on."""
    grad = network.gradient(X)                                             # (N, n)
    field = f(X)                                                           # (N, n)
    vdot = (grad * field).sum(dim=1)
    cosine = vdot / (grad.norm(dim=1) * field.norm(dim=1)).clamp_min(1e-30)
    return vdot, cosine


def _boundary_and_axes(nvars: int, inner: float, outer: float) -> Tensor:
    eye = torch.eye(nvars, dtype=torch.float64)
    axes = torch.cat([eye, -eye])                                          # (2n, n)
    radii = torch.tensor([inner, math.sqrt(inner * outer), outer], dtype=torch.float64)
    return (radii[:, None, None] * axes[None]).reshape(-1, nvars)         # (3·2n, n)


def _project(X: Tensor, inner: float, outer: float) -> Tensor:
    norms = X.norm(dim=1, keepdim=True).clamp_min(1e-300)
    return X * (norms.clamp(inner, outer) / norms)


def falsify(network: SquareNetwork, f: Callable[[Tensor], Tensor], inner: float, outer: float, count: int,
            generator: torch.Generator) -> Tensor:
    """States of the annulus where V̇ ≥ 0 (worst first, at most ``MAX_COUNTEREXAMPLES``) [K, n]."""
    n = network.nvars
    X = torch.cat([sample_annulus(n, count, inner, outer, generator), _boundary_and_axes(n, inner, outer)])
    on_spheres = torch.randn(count // 4, n, generator=generator, dtype=torch.float64)
    on_spheres = on_spheres / on_spheres.norm(dim=1, keepdim=True).clamp_min(1e-300)
    alternate = torch.arange(count // 4) % 2 == 0
    radii = torch.where(alternate, torch.tensor(inner, dtype=torch.float64), torch.tensor(outer, dtype=torch.float64))
    X = torch.cat([X, on_spheres * radii[:, None]])                        # + the two boundary spheres
    with torch.no_grad():
        vdot, cosine = decrease_cosine(network, f, X)
    bad = X[vdot >= 0]
    starts = X[torch.argsort(cosine, descending=True)[:LOCAL_SEARCH_STARTS]]
    polished = _local_search(network, f, starts, inner, outer)
    with torch.no_grad():
        polished_vdot, _ = decrease_cosine(network, f, polished)
    found = torch.cat([bad, polished[polished_vdot >= 0]])
    if len(found) == 0:
        return found
    with torch.no_grad():
        _, order_key = decrease_cosine(network, f, found)
    return found[torch.argsort(order_key, descending=True)[:MAX_COUNTEREXAMPLES]]


def _local_search(network: SquareNetwork, f, starts: Tensor, inner: float, outer: float) -> Tensor:
    """Projected gradient ascent of cos(∇V, f) (steps relative to the radius, so every scale moves)."""
    X = starts.clone()
    for _ in range(LOCAL_SEARCH_STEPS):
        X.requires_grad_(True)
        _, cosine = decrease_cosine(network, f, X)
        (step,) = torch.autograd.grad(cosine.sum(), X)
        with torch.no_grad():
            norms = X.norm(dim=1, keepdim=True)
            direction = step / step.norm(dim=1, keepdim=True).clamp_min(1e-300)
            X = _project(X + 0.05 * norms * direction, inner, outer)
            X = torch.where(torch.isfinite(X), X, starts)
    return X.detach()


def exact_region_check(V: Poly, system: list[Poly], inner: float, outer: float, timeout: float) -> ProverAnswer:
    """Decide ∃x: inner² ≤ ‖x‖² ≤ outer² ∧ V̇(x) ≥ 0 with z3; radii are read as the decimals given.

    PROVED: V̇ < 0 on the whole annulus; COUNTEREXAMPLE: a rational point (exact when the
    detail says ``dV/dt >= 0 at``; otherwise z3's algebraic model was rounded); UNKNOWN: z3 gave up.
    """
    import z3

    n = len(system)
    vdot = lie_derivative(V, system)
    xs = [z3.Real(f"x{i}") for i in range(n)]
    squared_norm = z3.Sum([x * x for x in xs]) if n > 1 else xs[0] * xs[0]
    low, high = Fraction(str(inner)) ** 2, Fraction(str(outer)) ** 2
    solver = z3.SolverFor("QF_NRA")
    solver.set("timeout", max(1, int(timeout * 1000)))
    solver.add(squared_norm >= z3.RealVal(f"{low.numerator}/{low.denominator}"),
               squared_norm <= z3.RealVal(f"{high.numerator}/{high.denominator}"),
               _to_z3(vdot, xs) >= 0)
    answer = solver.check()
    if answer == z3.unsat:
        return ProverAnswer(Verdict.PROVED, None, "z3: unsat (dV/dt < 0 on the whole annulus)")
    if answer == z3.sat:
        point = _model_point(solver.model(), xs)
        norm2 = sum((v * v for v in point), flint.fmpq(0))
        inside = flint.fmpq(low.numerator, low.denominator) <= norm2 <= flint.fmpq(high.numerator, high.denominator)
        if inside and exact_value(vdot, point) >= 0:
            return ProverAnswer(Verdict.COUNTEREXAMPLE, point, f"z3: dV/dt >= 0 at ({', '.join(fmt_point(point))})")
        return ProverAnswer(Verdict.COUNTEREXAMPLE, point, "z3: sat (algebraic point, rational neighbour not exact)")
    return ProverAnswer(Verdict.UNKNOWN, None, f"z3: {solver.reason_unknown()}")

"""The SOS search of the paper-faithful forward presets (``docs/presets.md``).

``seq2math.lyapunov.generation.forward`` uses the findlyap search (degrees 2, 4, …, the
rounding ladder) unless a preset asks for the paper's settings, which live here:

- FLyap positivity (``forward_positivity="fixed"``, ``lyapunov`` check): per system draw
  e_i ∈ {2, 4} and c_i in 1..``forward_max_positivity_coefficient``, and require
  V − Σ c_i·x_i^(e_i) SOS and −∇V·f SOS. V then dominates a positive definite, radially
  unbounded polynomial, and the fixed c_i also fix V's scale (no normalisation needed).
- FBarr (``barrier`` check): findlyap's barrier program (V SOS, its pure even powers summing
  to ≥ 0.1 so that V ≠ 0) and −∇V·f SOS.
- V over the monomials of degrees ``forward_min_lyapunov_degree``..d, d = min, min + 2, …
  up to ``forward_max_lyapunov_degree`` (the presets use one degree: 4, or 6 for FSOSTOOL).
- ``forward_scale_top`` > 0: V scaled so that its largest coefficient is exactly this, then
  rounded to integers (the paper's "largest coefficient 10"); one candidate, no gcd division.

Every candidate is still proved exactly by the caller (``check_candidate``) before it is kept.
"""

from __future__ import annotations

from typing import Iterator

import numpy as np

from seq2math.lyapunov.methods.findlyap import (
    MARGIN_TOLERANCE,
    build_program,
    monomials,
    rounded_candidates,
)
from seq2math.sos.sdp import SOSCondition, SOSProgram, solve_sos
from seq2math.symbolic.poly import Poly, lie_derivative, ring

Exps = tuple[int, ...]


def _float_terms(p: Poly) -> dict[Exps, float]:
    return {tuple(int(v) for v in e): float(c) for e, c in zip(p.monoms(), p.coeffs())}


def positivity_terms(rng: np.random.Generator, nvars: int, max_coefficient: int) -> dict[Exps, int]:
    """{x_i^(e_i): c_i}: e_i uniform in {2, 4}, c_i uniform in 1..max_coefficient (FLyap)."""
    terms = {}
    for i in range(nvars):
        power = 2 * int(rng.integers(1, 3))
        terms[tuple(power if j == i else 0 for j in range(nvars))] = int(rng.integers(1, max_coefficient + 1))
    return terms


def fixed_positivity_program(system: list[Poly], degree: int, powers: dict[Exps, int]
                             ) -> tuple[SOSProgram, list[Exps]]:
    """V = Σ v_m·m over monomials of degree 2..degree with V − Σ c_i x_i^(e_i) SOS and −V̇ SOS."""
    n = len(system)
    R = ring(n)
    basis = monomials(n, 2, degree)
    positive = {k: {m: 1.0} for k, m in enumerate(basis)}
    decrease = {k: _float_terms(-lie_derivative(R.from_dict({m: 1}), system)) for k, m in enumerate(basis)}
    constant = {m: -float(c) for m, c in powers.items()}
    conditions = [SOSCondition("positive", constant, positive), SOSCondition("decrease", {}, decrease)]
    return SOSProgram(n, len(basis), conditions, shared_margin=True), basis


def scaled_to_top(coefficients: np.ndarray, basis: list[Exps], nvars: int, top: int) -> Poly | None:
    """V with integer coefficients round(top·c/max|c|), so its largest coefficient is ±top; None if V = 0."""
    largest = float(np.max(np.abs(coefficients))) if len(coefficients) else 0.0
    if largest == 0.0:
        return None
    values = np.rint(coefficients / largest * top).astype(np.int64)
    return ring(nvars).from_dict({m: int(v) for m, v in zip(basis, values) if v})


def preset_candidates(system: list[Poly], config, check: str, rng: np.random.Generator,
                      backend: str = "clarabel") -> Iterator[Poly]:
    """Rounded candidates V of the preset search (see the module docstring), simplest degree first."""
    n = len(system)
    fixed = config.forward_positivity == "fixed" and check == "lyapunov"
    powers = positivity_terms(rng, n, config.forward_max_positivity_coefficient) if fixed else None
    for degree in range(config.forward_min_lyapunov_degree, config.forward_max_lyapunov_degree + 1, 2):
        if fixed:
            program, basis = fixed_positivity_program(system, degree, powers)
        else:
            program, basis = build_program(system, degree, check)
        solution = solve_sos(program, backend=backend)
        if solution.status != "solved" or min(solution.margins) < -MARGIN_TOLERANCE:
            continue
        coefficients = solution.params[:len(basis)]
        if config.forward_scale_top:
            V = scaled_to_top(coefficients, basis, n, config.forward_scale_top)
            if V is not None:
                yield V
        else:
            yield from rounded_candidates(coefficients, basis, n, config.forward_max_rounding)

"""Forward generation (FLyap / FBarr, docs/generation.md): random system first, V by SOS search.

1. Draw a polynomial system: 2..``forward_max_variables`` variables, each equation a few
   monomials of degree 1..``forward_max_degree`` with integer coefficients in
   [−``forward_max_coefficient``, ``forward_max_coefficient``] and no constant term. With
   probability ``forward_damping_probability`` equation i also gets a term −a·xᵢ
   (a ≥ 1): a bias towards stable systems that costs no generality (rejection does the rest).
2. Cheap filters, cheapest first: an eigenvalue of the linearisation with positive real
   part → reject (the origin is then unstable); simulated trajectories from a few
   starting points that grow past a bound → reject.
3. The findlyap SOS search (``seq2math.lyapunov.methods.findlyap``) for V of degree ≤
   ``forward_max_lyapunov_degree``, rounded to small integer coefficients, and accepted
   only if ``check_candidate`` proves it exactly (``lyapunov`` for ``--mode forward``,
   ``barrier`` for ``--mode barrier``).
No solver time limits are used, so the output depends only on the seed.

The knobs the paper's FLyap / FBarr / FSOSTOOL presets need (``docs/presets.md``), all off by
default so existing seeds give the same files: ``forward_coefficient_draw="paper"`` (coefficients
uniform in −m..m−1 without 0); ``forward_degree_draw="system"`` (the system's degree D uniform in
1..max, each term's degree uniform in 1..D, instead of monomials drawn from one pool of all
degrees); ``forward_odd_degree`` (keep systems of odd degree only: with V of even degree, V̇ then
has even degree); ``forward_min_lyapunov_degree`` (search V at the top degree only);
``forward_positivity="fixed"`` (FLyap: V − Σ c_i·x_i^(e_i) SOS with e_i ∈ {2, 4} and c_i drawn per
system, in ``seq2math.lyapunov.generation.forward_sos``); ``forward_scale_top`` (scale V so its
largest coefficient is this and round, one try, instead of the rounding ladder).
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass
from typing import Literal

import numpy as np

from seq2math.config import ConfigError, knob
from seq2math.lyapunov.generation.backward import paper_nonzero
from seq2math.symbolic.poly import NumericPoly, ring
from seq2math.tokens.prefix import integer_tokens, poly_tokens
from seq2math.tokens.vocab import EQUATION_SEPARATOR


@dataclass
class ForwardConfig:
    """Knobs of forward / barrier generation (flags of ``seq2math generate lyapunov``)."""

    forward_max_variables: int = knob(3, "forward/barrier: most variables (2..6)")
    forward_max_degree: int = knob(3,
                                   "forward/barrier: degree of the random system (<= 7 in the paper's sets)")
    forward_max_terms: int = knob(3, "forward/barrier: random monomials per equation besides damping")
    forward_max_coefficient: int = knob(10, "forward/barrier: integer coefficients in [-this, this]")
    forward_damping_probability: float = knob(0.8,
                                              "forward/barrier: probability of a damping term per equation")
    forward_max_lyapunov_degree: int = knob(4,
                                            "forward/barrier: SOS search over V of degree 2, 4, ... <= this")
    forward_max_rounding: int = knob(100, "forward/barrier: V's coefficients rounded to integers <= this")
    forward_coefficient_draw: Literal["symmetric", "paper"] = knob(
        "symmetric", "forward/barrier: symmetric = coefficients in +-(1..m); paper = uniform in -m..m-1 without 0")
    forward_degree_draw: Literal["pool", "system"] = knob(
        "pool", "forward/barrier: pool = monomials drawn from all degrees 1..max; system = the system's "
                "degree D uniform in 1..max, each term's degree uniform in 1..D")
    forward_odd_degree: bool = knob(False, "forward/barrier: keep only systems whose degree is odd")
    forward_min_lyapunov_degree: int = knob(2, "forward/barrier: SOS search over V of degree >= this (even)")
    forward_positivity: Literal["findlyap", "fixed"] = knob(
        "findlyap", "forward: findlyap = V - sum eps_ik x_i^(2k) SOS with sum_k eps_ik >= 0.1; fixed = "
                    "V - sum c_i x_i^(e_i) SOS, e_i in {2, 4}, c_i in 1..forward_max_positivity_coefficient")
    forward_max_positivity_coefficient: int = knob(5, "forward, fixed positivity: c_i drawn in 1..this")
    forward_scale_top: int = knob(0, "forward/barrier: > 0: scale V so its largest coefficient is this and "
                                     "round (one try); 0: try scales 1, 2, 3, ... up to forward_max_rounding")

    def validate_forward(self) -> None:
        if not 2 <= self.forward_max_variables <= 6:
            raise ConfigError(f"forward_max_variables must be in 2..6, got {self.forward_max_variables}")
        if not 1 <= self.forward_max_degree <= 9:
            raise ConfigError(f"forward_max_degree must be in 1..9, got {self.forward_max_degree}")
        if self.forward_max_lyapunov_degree < 2 or self.forward_max_lyapunov_degree % 2:
            raise ConfigError(f"forward_max_lyapunov_degree must be even and ≥ 2, got {self.forward_max_lyapunov_degree}")
        if self.forward_max_terms < 1 or self.forward_max_coefficient < 1 or self.forward_max_rounding < 1:
            raise ConfigError("forward_max_terms, forward_max_coefficient and forward_max_rounding must be ≥ 1")
        low = self.forward_min_lyapunov_degree
        if low < 2 or low % 2 or low > self.forward_max_lyapunov_degree:
            raise ConfigError(f"forward_min_lyapunov_degree must be even, >= 2 and <= forward_max_lyapunov_degree, "
                              f"got {low}")
        if self.forward_max_positivity_coefficient < 1 or self.forward_scale_top < 0:
            raise ConfigError("forward_max_positivity_coefficient must be >= 1 and forward_scale_top >= 0")
        if self.forward_odd_degree and self.forward_max_degree < 1:
            raise ConfigError("forward_odd_degree needs forward_max_degree >= 1")


def random_system(rng: np.random.Generator, config: ForwardConfig, nvars: int):
    """A random polynomial system in ring(nvars) with no constant term."""

    R = ring(nvars)
    pool = [m for m in itertools.product(range(config.forward_max_degree + 1), repeat=nvars)
            if 1 <= sum(m) <= config.forward_max_degree]
    if config.forward_degree_draw == "system" or config.forward_coefficient_draw == "paper":
        return [R.from_dict(terms) for terms in _drawn_equations(rng, config, nvars, pool)]
    system = []
    for i in range(nvars):
        terms: dict = {}
        for k in rng.choice(len(pool), size=int(rng.integers(1, config.forward_max_terms + 1)), replace=False):
            terms[pool[k]] = _nonzero(rng, config.forward_max_coefficient)
        if rng.random() < config.forward_damping_probability:
            own = tuple(1 if j == i else 0 for j in range(nvars))
            terms[own] = -int(rng.integers(1, config.forward_max_coefficient + 1))
        system.append(R.from_dict({m: c for m, c in terms.items() if c}))
    return system


def _drawn_equations(rng: np.random.Generator, config: ForwardConfig, nvars: int, pool: list) -> list[dict]:
    """The equations' terms under the paper's draws (``forward_degree_draw``, ``forward_coefficient_draw``)."""
    top = int(rng.integers(1, config.forward_max_degree + 1)) if config.forward_degree_draw == "system" else None
    by_degree = {d: [m for m in pool if sum(m) == d] for d in range(1, config.forward_max_degree + 1)}
    draw = (lambda: paper_nonzero(rng, config.forward_max_coefficient)) if config.forward_coefficient_draw == "paper" \
        else (lambda: _nonzero(rng, config.forward_max_coefficient))
    equations = []
    for i in range(nvars):
        terms: dict = {}
        for _ in range(int(rng.integers(1, config.forward_max_terms + 1))):
            if top is None:
                monomial = pool[int(rng.integers(0, len(pool)))]
            else:
                same = by_degree[int(rng.integers(1, top + 1))]
                monomial = same[int(rng.integers(0, len(same)))]
            terms[monomial] = draw()
        if rng.random() < config.forward_damping_probability:
            terms[tuple(1 if j == i else 0 for j in range(nvars))] = -int(rng.integers(1, config.forward_max_coefficient + 1))
        equations.append(terms)
    return equations


def system_degree(system) -> int:
    return max((f.total_degree() for f in system if not f.is_zero()), default=0)


def _nonzero(rng: np.random.Generator, bound: int) -> int:
    value = int(rng.integers(1, bound + 1))
    return value if rng.random() < 0.5 else -value


def linearly_unstable(system) -> bool:
    """True if the Jacobian at 0 has an eigenvalue with positive real part."""
    n = len(system)
    A = np.zeros((n, n))
    for i, f in enumerate(system):
        for exps, c in zip(f.monoms(), f.coeffs()):
            if sum(exps) == 1:
                A[i, list(exps).index(1)] += float(c)
    return bool(np.max(np.linalg.eigvals(A).real) > 1e-9)


def diverges(system, rng: np.random.Generator, starts: int = 12, steps: int = 300, bound: float = 1e4) -> bool:
    """Simulate trajectories (explicit midpoint, step adapted to the speed) from radius 0.5..3."""

    n = len(system)
    fields = [NumericPoly(f) for f in system]
    directions = rng.standard_normal((starts, n))
    x = directions / np.linalg.norm(directions, axis=1, keepdims=True) * rng.uniform(0.5, 3.0, (starts, 1))  # (S, n)
    r0 = np.linalg.norm(x, axis=1).max()
    velocity = lambda y: np.stack([f(y) for f in fields], axis=1)            # noqa: E731  (S, n)
    with np.errstate(all="ignore"):
        for _ in range(steps):
            v = velocity(x)
            speed = np.max(np.linalg.norm(v, axis=1) / (np.linalg.norm(x, axis=1) + 1e-9))
            if not np.isfinite(speed):
                return True
            dt = min(0.1, 0.2 / (speed + 1e-12))
            x = x + dt * velocity(x + 0.5 * dt * v)
            radius = np.linalg.norm(x, axis=1).max()
            if not np.isfinite(radius) or radius > bound * max(1.0, r0):
                return True
    return False


def search_forward(rng: np.random.Generator, config: ForwardConfig, check: str, backend: str = "clarabel"):
    """(system, V) with V proved exactly under ``check``, or None (rejected)."""
    from seq2math.lyapunov.check import check_candidate
    from seq2math.lyapunov.methods.findlyap import candidates

    nvars = int(rng.integers(2, config.forward_max_variables + 1))
    system = random_system(rng, config, nvars)
    if any(f.is_zero() for f in system) or (config.forward_odd_degree and system_degree(system) % 2 == 0):
        return None
    if linearly_unstable(system) or diverges(system, rng):
        return None
    if _original_search(config, check):
        found = candidates(system, config.forward_max_lyapunov_degree, check=check,
                           max_scale=config.forward_max_rounding, backend=backend)
        found = (V for V, _ in found)
    else:
        from seq2math.lyapunov.generation.forward_sos import preset_candidates

        found = preset_candidates(system, config, check, rng, backend)
    for V in found:
        if check_candidate(system, V, check, use_z3=False).valid:
            return system, V
    return None


def _original_search(config: ForwardConfig, check: str) -> bool:
    """True when the SOS search is the original one (degrees 2, 4, …, the rounding ladder)."""
    fixed = config.forward_positivity == "fixed" and check == "lyapunov"
    return config.forward_min_lyapunov_degree == 2 and config.forward_scale_top == 0 and not fixed


def generate_forward(rng: np.random.Generator, options) -> tuple[list[str], list[str]] | None:
    """One accepted example as (source tokens, target tokens) for the lyapunov task, or None."""

    if hasattr(options, "validate_forward"):
        options.validate_forward()
    check = "barrier" if getattr(options, "mode", "forward") == "barrier" else "lyapunov"
    found = search_forward(rng, options, check)
    if found is None:
        return None
    system, V = found
    source = integer_tokens(len(system))
    for f in system:
        source += [EQUATION_SEPARATOR, *poly_tokens(f)]
    return source, poly_tokens(V)

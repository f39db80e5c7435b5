"""Backward generation of (system, Lyapunov function) pairs (docs/generation.md, the paper's BPoly set).

Start from V, then build a system that V provably stabilises:

1. V = proper part + cross terms. Proper part: Σ c_i·x_i^(2d_i) with c_i ≥ 1, or gᵀPg with
   g = (x_0^d_0, ...) and P = AAᵀ + I. Cross terms: squares q² of random polynomials with no
   constant term. V(0) = 0, ∇V(0) = 0, V positive definite and proper by construction.
2. f = −D(x)∇V + Σ_j c_j(x)·s_j, with D = diag(h_k²) on a non-empty subset of coordinates and
   rotations s_j (s[i] = ∂_jV, s[j] = −∂_iV). Since ∇V·s_j = 0, V̇ = −Σ h_k²(∂_kV)² ≤ 0.
3. Expand, reject if f(0) ≠ 0, an equation vanishes, or a size limit is exceeded.
   Counts of damped components and rotations k are drawn with weights ∝ e^(−1.5k).

Three knobs reproduce the paper's own draws (the ``bpoly`` preset, ``docs/presets.md``):
``coefficient_draw="paper"`` draws signed integers uniformly in −m..m−1 (zero excluded for
coefficients) instead of ±1..m; ``reduce_matrix_gcd`` divides P = AAᵀ + I by the gcd of its
entries; ``rotation_draw="count"`` draws the number of rotations in 0..n−1 directly (systems
with a vanishing equation are then rejected) instead of first covering every undamped coordinate.
Their defaults keep the original draws, so existing seeds give the same files.

Drawing is split from building: ``draw_recipe`` consumes the random generator and returns
plain integers and exponent tuples; ``build_polynomial`` expands a recipe with python-flint.
The speed benchmark expands the *same* recipes with sympy (``seq2math bench generate``).
The non-polynomial variant (``--nonpoly``) lives in ``seq2math.lyapunov.generation.nonpoly``.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Literal

import numpy as np

from seq2math.config import ConfigError, knob
from seq2math.symbolic import poly as P
from seq2math.tokens.prefix import integer_tokens, poly_tokens
from seq2math.tokens.vocab import EQUATION_SEPARATOR

Monomials = dict[tuple[int, ...], int]  # exponent tuple -> integer coefficient


@dataclass
class BackwardConfig:
    """Every knob of the backward generator (the lyapunov task exposes them as flags)."""

    min_variables: int = knob(2, "fewest variables n of a system")
    max_variables: int = knob(5, "most variables n of a system (up to 12)")
    diagonal_probability: float = knob(0.5,
                                       "probability of the proper part sum c_i x_i^(2 d_i); else g^T P g")
    max_half_degree: int = knob(3, "d_i of the proper part: degree 2 d_i per variable")
    max_diagonal_coefficient: int = knob(5, "c_i of the diagonal proper part, drawn in 1..this")
    max_matrix_entry: int = knob(2, "entries of A in [-this, this] for P = A A^T + I")
    max_cross_terms: int = knob(2, "number of squares q^2 added to V (0..this)")
    max_cross_degree: int = knob(2, "degree of each q")
    max_cross_monomials: int = knob(3, "monomials of each q")
    max_cross_coefficient: int = knob(3, "coefficients of q in [-this, this]")
    max_damping_degree: int = knob(1, "degree of each damping factor h_k (f gets -h_k^2 dV/dx_k)")
    max_damping_monomials: int = knob(2, "monomials of each h_k")
    max_damping_coefficient: int = knob(3, "coefficients of h_k in [-this, this]")
    max_rotations: int = knob(3, "rotations c_j(x) s_j added to f (V-preserving), 0..this")
    max_rotation_degree: int = knob(2, "degree of each rotation factor c_j(x)")
    max_rotation_monomials: int = knob(2, "monomials of each c_j(x)")
    max_rotation_coefficient: int = knob(3, "coefficients of c_j in [-this, this]")
    count_decay: float = knob(1.5, "damped components and rotations: k drawn with weight exp(-this k)")
    max_lyapunov_degree: int = knob(12, "reject pairs whose V has a larger degree")
    max_system_degree: int = knob(15, "reject pairs whose system has a larger degree")
    max_source_tokens: int = knob(512, "reject systems longer than this many prefix tokens")
    max_target_tokens: int = knob(256, "reject V longer than this many prefix tokens")
    allow_zero_equations: bool = knob(False,
                                      "keep systems with an equation x_i' = 0 (degenerate; off by default)")
    coefficient_draw: Literal["symmetric", "paper"] = knob(
        "symmetric", "signed integers: symmetric = coefficients in +-(1..m), A entries in -m..m; "
                     "paper = uniform in -m..m-1 (zero excluded for coefficients), as the paper's generator")
    reduce_matrix_gcd: bool = knob(False, "divide P = A A^T + I by the gcd of its entries")
    rotation_draw: Literal["cover", "count"] = knob(
        "cover", "cover = one rotation through each undamped coordinate, then 0..max_rotations extra; "
                 "count = 0..min(max_rotations, n-1) rotations, drawn like the damped count")

    def validate(self) -> None:
        if not 1 <= self.min_variables <= self.max_variables <= P.MAX_VARIABLES:
            raise ConfigError(f"need 1 <= min_variables <= max_variables <= {P.MAX_VARIABLES}, "
                              f"got {self.min_variables}..{self.max_variables}")
        for name in ("max_half_degree", "max_diagonal_coefficient", "max_cross_degree", "max_cross_monomials",
                     "max_cross_coefficient", "max_damping_monomials", "max_damping_coefficient",
                     "max_rotation_monomials", "max_rotation_coefficient"):
            if getattr(self, name) < 1:
                raise ConfigError(f"{name} must be at least 1, got {getattr(self, name)}")
        for name in ("max_matrix_entry", "max_cross_terms", "max_damping_degree", "max_rotations",
                     "max_rotation_degree"):
            if getattr(self, name) < 0:
                raise ConfigError(f"{name} must be non-negative, got {getattr(self, name)}")
        if not 0.0 <= self.diagonal_probability <= 1.0:
            raise ConfigError(f"diagonal_probability must be in [0, 1], got {self.diagonal_probability}")
        if self.coefficient_draw == "paper" and self.max_matrix_entry < 1:
            raise ConfigError("coefficient_draw paper draws A entries in -m..m-1: max_matrix_entry must be >= 1")
        if 2 * self.max_half_degree > self.max_lyapunov_degree:
            raise ConfigError("max_lyapunov_degree is below the degree of the proper part (2·max_half_degree)")


@dataclass
class Recipe:
    """All random choices of one example, as plain Python data (no polynomial arithmetic yet)."""

    n: int
    half_degrees: list[int]  # d_i
    diagonal: list[int] | None  # c_i (diagonal proper part) or None
    matrix: list[list[int]] | None  # P = AAᵀ + I (gᵀPg proper part) or None
    cross: list[Monomials]  # q_j, V contains q_j²
    damping: dict[int, Monomials]  # k -> h_k
    rotations: list[tuple[int, int, Monomials]]  # (i, j, c_ij)


@dataclass
class BackwardExample:
    """A generated pair with its construction, so tests can check V̇ = −Σ h_k²(∂_kV)² exactly."""

    n: int
    V: P.Poly
    system: list[P.Poly]
    proper: P.Poly
    cross: list[P.Poly]
    damping: dict[int, P.Poly]
    rotations: list[tuple[int, int, P.Poly]] = field(default_factory=list)

    def tokens(self) -> tuple[list[str], list[str]]:
        """(source, target) tokens in the benchmark format."""
        return system_source_tokens(self.system), poly_tokens(self.V)


# ---- drawing ------------------------------------------------------------------------------
def weighted_count(rng: np.random.Generator, low: int, high: int, decay: float) -> int:
    """k in low..high with probability ∝ exp(−decay·k): small counts are favoured."""
    if high <= low:
        return low
    weights = np.exp(-decay * np.arange(low, high + 1))
    return low + int(rng.choice(high - low + 1, p=weights / weights.sum()))


def random_monomial(rng: np.random.Generator, n: int, degree: int) -> tuple[int, ...]:
    """A monomial of the given total degree, its degree units spread over random variables."""
    exponents = [0] * n
    for variable in rng.integers(0, n, size=degree):
        exponents[int(variable)] += 1
    return tuple(exponents)


def random_polynomial(rng: np.random.Generator, n: int, min_degree: int, max_degree: int, max_monomials: int,
                      max_coefficient: int, draw: str = "symmetric") -> Monomials:
    """A random nonzero polynomial with monomials of total degree min_degree..max_degree
    (min_degree = 1: no constant term) and nonzero integer coefficients: ±1..max_coefficient
    (``draw="symmetric"``) or uniform in −m..m−1 without 0 (``draw="paper"``, m = max_coefficient)."""
    count = int(rng.integers(1, max_monomials + 1))
    result: Monomials = {}
    for _ in range(count):
        monom = random_monomial(rng, n, int(rng.integers(min_degree, max_degree + 1)))
        if draw == "paper":
            result[monom] = paper_nonzero(rng, max_coefficient)
        else:
            magnitude = int(rng.integers(1, max_coefficient + 1))
            result[monom] = magnitude if rng.random() < 0.5 else -magnitude
    return result


def paper_nonzero(rng: np.random.Generator, m: int) -> int:
    """Uniform on −m..m−1 without 0 (the paper's "uniform in −m..m−1" draws of nonzero coefficients)."""
    if m == 1:
        return -1
    value = int(rng.integers(-m, m - 1))  # 2m − 1 values: −m..m−2, then shift 0..m−2 up to 1..m−1
    return value + 1 if value >= 0 else value


def gcd_reduced(matrix: list[list[int]]) -> list[list[int]]:
    """The integer matrix divided by the gcd of its entries (the paper's normalisation of P)."""
    common = math.gcd(*(v for row in matrix for v in row))
    return matrix if common <= 1 else [[v // common for v in row] for row in matrix]


def draw_recipe(rng: np.random.Generator, config: BackwardConfig) -> Recipe:
    """Every random choice of one example (consumes ``rng`` only; deterministic per seed)."""
    c = config
    n = int(rng.integers(c.min_variables, c.max_variables + 1))
    half_degrees = [int(d) for d in rng.integers(1, c.max_half_degree + 1, size=n)]
    diagonal = matrix = None
    if rng.random() < c.diagonal_probability:
        diagonal = [int(v) for v in rng.integers(1, c.max_diagonal_coefficient + 1, size=n)]
    else:
        top = c.max_matrix_entry if c.coefficient_draw == "paper" else c.max_matrix_entry + 1
        a = rng.integers(-c.max_matrix_entry, top, size=(n, n))
        matrix = (a @ a.T + np.eye(n, dtype=np.int64)).astype(int).tolist()
        if c.reduce_matrix_gcd:
            matrix = gcd_reduced(matrix)
    draw = c.coefficient_draw
    cross = [random_polynomial(rng, n, 1, c.max_cross_degree, c.max_cross_monomials, c.max_cross_coefficient, draw)
             for _ in range(int(rng.integers(0, c.max_cross_terms + 1)))]
    damped_count = weighted_count(rng, 1, n, c.count_decay)
    damped = sorted(int(k) for k in rng.choice(n, size=damped_count, replace=False))
    damping = {k: random_polynomial(rng, n, 0, c.max_damping_degree, c.max_damping_monomials,
                                    c.max_damping_coefficient, draw) for k in damped}
    pairs = _rotation_pairs(rng, n, damped, c) if c.rotation_draw == "cover" else _counted_pairs(rng, n, c)
    rotations = [(*pair, random_polynomial(rng, n, 0, c.max_rotation_degree, c.max_rotation_monomials,
                                           c.max_rotation_coefficient, draw)) for pair in pairs]
    return Recipe(n, half_degrees, diagonal, matrix, cross, damping, rotations)


def _rotation_pairs(rng: np.random.Generator, n: int, damped: list[int], config: BackwardConfig
                    ) -> list[tuple[int, int]]:
    """Pairs (i, j), i < j, of the rotations: first one pair through each undamped coordinate
    (otherwise its equation would be ẋ_i = 0, a degenerate problem, unless zero equations are
    allowed), then ``k`` extra distinct pairs with weights ∝ e^(−count_decay·k)."""
    chosen: list[tuple[int, int]] = []
    if not config.allow_zero_equations:
        for i in range(n):
            if i in damped or any(i in pair for pair in chosen):
                continue
            j = int(rng.integers(0, n - 1))
            j += j >= i  # any coordinate but i
            chosen.append((min(i, j), max(i, j)))
    free = [(i, j) for i in range(n) for j in range(i + 1, n) if (i, j) not in chosen]
    extra = weighted_count(rng, 0, min(config.max_rotations, len(free)), config.count_decay)
    if extra:
        chosen += [free[int(p)] for p in rng.choice(len(free), size=extra, replace=False)]
    return sorted(chosen)


def _counted_pairs(rng: np.random.Generator, n: int, config: BackwardConfig) -> list[tuple[int, int]]:
    """``rotation_draw="count"``: k in 0..min(max_rotations, n − 1) distinct pairs (i, j), i < j,
    with weights ∝ e^(−count_decay·k), as the paper draws its rotations."""
    pairs = [(i, j) for i in range(n) for j in range(i + 1, n)]
    count = weighted_count(rng, 0, min(config.max_rotations, n - 1), config.count_decay)
    if not count:
        return []
    return sorted(pairs[int(p)] for p in rng.choice(len(pairs), size=count, replace=False))


# ---- building with flint -----------------------------------------------------------------
def _poly(monomials: Monomials, n: int) -> P.Poly:
    return P.ring(n).from_dict(monomials)


def proper_part(recipe: Recipe) -> P.Poly:
    n, d = recipe.n, recipe.half_degrees
    g = [P.ring(n).gen(i) ** d[i] for i in range(n)]
    if recipe.diagonal is not None:
        return sum((recipe.diagonal[i] * g[i] ** 2 for i in range(1, n)), recipe.diagonal[0] * g[0] ** 2)
    m = recipe.matrix
    total = P.ring(n).constant(0)
    for i in range(n):
        total += m[i][i] * g[i] ** 2
        for j in range(i + 1, n):
            if m[i][j]:
                total += 2 * m[i][j] * g[i] * g[j]
    return total


def build_polynomial(recipe: Recipe) -> BackwardExample:
    """Expand a recipe into V and f = −D∇V + Σ c_j s_j with python-flint."""
    n = recipe.n
    proper = proper_part(recipe)
    cross = [_poly(q, n) for q in recipe.cross]
    V = proper
    for q in cross:
        V += q * q
    grad = [V.derivative(i) for i in range(n)]
    damping = {k: _poly(h, n) for k, h in recipe.damping.items()}
    system = [P.ring(n).constant(0) for _ in range(n)]
    for k, h in damping.items():
        system[k] -= h * h * grad[k]
    rotations = []
    for i, j, coefficient in recipe.rotations:
        c = _poly(coefficient, n)
        system[i] += c * grad[j]
        system[j] -= c * grad[i]
        rotations.append((i, j, c))
    return BackwardExample(n, V, system, proper, cross, damping, rotations)


def system_source_tokens(system: list[P.Poly]) -> list[str]:
    out = integer_tokens(len(system))
    for equation in system:
        out.append(EQUATION_SEPARATOR)
        out.extend(poly_tokens(equation))
    return out


def rejection_reason(example: BackwardExample, config: BackwardConfig) -> str | None:
    """Why an expanded example must be dropped, or None when it is kept."""
    zero = (0,) * example.n
    for i, f in enumerate(example.system):
        if f.is_zero():
            if not config.allow_zero_equations:
                return f"equation {i} vanishes"
            continue
        if any(tuple(m) == zero for m in f.monoms()):
            return f"f{i}(0) != 0"
        if f.total_degree() > config.max_system_degree:
            return f"equation {i} has degree {f.total_degree()} > {config.max_system_degree}"
    if example.V.total_degree() > config.max_lyapunov_degree:
        return f"V has degree {example.V.total_degree()} > {config.max_lyapunov_degree}"
    return None


def generate_backward(rng: np.random.Generator, config: BackwardConfig | None = None
                      ) -> tuple[BackwardExample, list[str], list[str]] | None:
    """One backward example with its tokens, or None when the draw is rejected."""
    config = config or BackwardConfig()
    example = build_polynomial(draw_recipe(rng, config))
    if rejection_reason(example, config) is not None:
        return None
    # cheap token-count bound before writing tokens: each term costs at least 1 token
    if sum(len(f) for f in example.system) > config.max_source_tokens or len(example.V) > config.max_target_tokens:
        return None
    source, target = example.tokens()
    if len(source) > config.max_source_tokens or len(target) > config.max_target_tokens:
        return None
    return example, source, target


def expected_count_weights(high: int, decay: float = 1.5) -> list[float]:
    """The probabilities of counts 0..high (documentation and tests of the e^(−1.5k) weighting)."""
    weights = [math.exp(-decay * k) for k in range(high + 1)]
    total = sum(weights)
    return [w / total for w in weights]

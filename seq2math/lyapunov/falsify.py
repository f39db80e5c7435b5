"""The one numerical falsification of the checks: find points where a sign condition fails, in milliseconds.

Both checkers state what must hold as ``SignCondition``s, g(x) ≥ 0 everywhere (and g(x) > 0
at x ≠ 0 when ``definite``): g = V for ``positive``, g = −V̇ for ``decrease``. The polynomial
checker (``check.py``) evaluates g from exact polynomials and confirms a point exactly in
rationals; the non-polynomial one (``nonpoly.py``) evaluates expression trees and reports
numerical counterexamples (docs/verification.md).

Wrong candidates are usually wrong somewhere obvious, at some scale: near the origin
(the quadratic part), far away (the top-degree part) or along an axis. We sample
spheres of radii 1e-3 … 1e3 (random directions plus the axis and diagonal directions),
then polish the worst points by a short local search on the same sphere. Points are
returned worst first.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass
from typing import Callable

import numpy as np
from scipy.optimize import minimize

RADII = (1e-3, 1e-2, 1e-1, 0.3, 1.0, 3.0, 10.0, 100.0, 1e3)

#: f(X[N, n]) -> values[N]
Function = Callable[[np.ndarray], np.ndarray]


@dataclass(frozen=True)
class SignCondition:
    """g(x) ≥ 0 must hold at every x; a point where it fails is a violation."""

    name: str                          # "positive" (g = V) or "decrease" (g = −V̇)
    function: Function                 # g
    scale: Function | None = None      # violations are measured as −g(x)/scale(x), e.g. Σ|terms|(x)
    definite: bool = False             # g(x) = 0 at a point x ≠ 0 is a violation too


def _directions(nvars: int, count: int, rng: np.random.Generator) -> np.ndarray:
    special = [np.eye(nvars), -np.eye(nvars)]
    for signs in itertools.product((1.0, -1.0), repeat=nvars):
        special.append(np.array(signs)[None, :] / np.sqrt(nvars))
    random = rng.standard_normal((count, nvars))
    random /= np.linalg.norm(random, axis=1, keepdims=True)
    return np.concatenate(special + [random])                         # (D, n)


def _relative(condition: SignCondition, X: np.ndarray) -> np.ndarray:
    """−g(X)/scale(X): positive at a violation; −inf where it is not finite."""
    with np.errstate(all="ignore"):
        values = -condition.function(X)
        if condition.scale is not None:
            values = values / np.maximum(condition.scale(X), 1e-300)
    return np.where(np.isfinite(values), values, -np.inf)


def _violates(condition: SignCondition, relative: float) -> bool:
    # relative is 0 where g is (the origin is never sampled), or where −g/scale underflows: callers re-check points
    return relative > 0 or (condition.definite and relative == 0)


def find_violations(conditions: list[SignCondition], nvars: int, rng: np.random.Generator, samples: int = 96,
                    polish: int = 2, radii: tuple[float, ...] = RADII) -> list[tuple[str, np.ndarray, float]]:
    """Points (condition name, x, relative violation) with a violation, worst first; [] if none found.

    Per condition: the 8 worst sampled points that violate it, or, when none does, a local
    search from each of the ``polish`` worst points, keeping the first that ends in a violation.
    """
    directions = _directions(nvars, samples, rng)
    X = np.concatenate([r * directions for r in radii])               # (R·D, n)
    radius_of = np.repeat(np.array(radii), len(directions))
    found = []
    for condition in conditions:
        relative = _relative(condition, X)
        order = np.argsort(-relative)
        hits = [k for k in order[:8] if _violates(condition, relative[k])]
        if hits:
            found += [(condition.name, X[k], float(relative[k])) for k in hits]
            continue
        for k in order[:polish]:                                       # local search on the sphere
            x = _polish(condition, X[k], radius_of[k])
            value = float(_relative(condition, x[None, :])[0])
            if _violates(condition, value):
                found.append((condition.name, x, value))
                break
    found.sort(key=lambda item: -item[2])
    return found


def _polish(condition: SignCondition, start: np.ndarray, radius: float, evaluations: int = 80) -> np.ndarray:
    def loss(u: np.ndarray) -> float:
        norm = np.linalg.norm(u)
        if norm == 0:
            return 0.0
        value = _relative(condition, (radius * u / norm)[None, :])[0]
        return -value if np.isfinite(value) else 0.0

    result = minimize(loss, start / radius, method="Nelder-Mead",
                      options={"maxfev": evaluations, "xatol": 1e-6, "fatol": 1e-12})
    u = result.x
    return radius * u / max(np.linalg.norm(u), 1e-300)

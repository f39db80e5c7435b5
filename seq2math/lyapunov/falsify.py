"""Cheap numerical falsification: find points where V ≤ 0 or V̇ > 0, in milliseconds.

Wrong candidates are usually wrong somewhere obvious, at some scale: near the origin
(the quadratic part), far away (the top-degree part) or along an axis. We sample
spheres of radii 1e-3 … 1e3 (random directions plus the axis and diagonal directions),
then polish the worst points by a short local search on the same sphere. Points are
returned worst first; the caller confirms them exactly (polynomial case) or reports
them as numerical counterexamples (non-polynomial case).
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass
from typing import Callable

import numpy as np
from scipy.optimize import minimize

RADII = (1e-3, 1e-2, 1e-1, 0.3, 1.0, 3.0, 10.0, 100.0, 1e3)

#: f(X[N, n]) -> values[N]; ``scale(X)`` is the magnitude that makes a violation meaningful
Function = Callable[[np.ndarray], np.ndarray]


@dataclass
class Target:
    """Search for points where ``sign * function(x) > 0`` (a violation)."""

    name: str
    function: Function
    sign: float
    scale: Function | None = None      # e.g. Σ|terms|(x): violations are measured relative to it
    strict: bool = True                # False: a value of exactly 0 (at x ≠ 0) is a violation too


def _directions(nvars: int, count: int, rng: np.random.Generator) -> np.ndarray:
    special = [np.eye(nvars), -np.eye(nvars)]
    for signs in itertools.product((1.0, -1.0), repeat=nvars):
        special.append(np.array(signs)[None, :] / np.sqrt(nvars))
    random = rng.standard_normal((count, nvars))
    random /= np.linalg.norm(random, axis=1, keepdims=True)
    return np.concatenate(special + [random])                         # (D, n)


def _relative(target: Target, X: np.ndarray) -> np.ndarray:
    with np.errstate(all="ignore"):
        values = target.sign * target.function(X)
        if target.scale is not None:
            values = values / np.maximum(target.scale(X), 1e-300)
    return np.where(np.isfinite(values), values, -np.inf)


def find_violations(targets: list[Target], nvars: int, rng: np.random.Generator, samples: int = 96,
                    polish: int = 2, radii: tuple[float, ...] = RADII) -> list[tuple[str, np.ndarray, float]]:
    """Points (target name, x, relative violation) with a violation, worst first; [] if none found."""
    directions = _directions(nvars, samples, rng)
    X = np.concatenate([r * directions for r in radii])               # (R·D, n)
    radius_of = np.repeat(np.array(radii), len(directions))
    found = []
    for target in targets:
        relative = _relative(target, X)
        order = np.argsort(-relative)
        hits = [k for k in order[:8] if relative[k] > 0 or (not target.strict and relative[k] == 0)]
        if hits:
            found += [(target.name, X[k], float(relative[k])) for k in hits]
            continue
        for k in order[:polish]:                                       # local search on the sphere
            x = _polish(target, X[k], radius_of[k])
            value = float(_relative(target, x[None, :])[0])
            if value > 0 or (not target.strict and value == 0):
                found.append((target.name, x, value))
                break
    found.sort(key=lambda item: -item[2])
    return found


def _polish(target: Target, start: np.ndarray, radius: float, evaluations: int = 80) -> np.ndarray:
    def loss(u: np.ndarray) -> float:
        norm = np.linalg.norm(u)
        if norm == 0:
            return 0.0
        value = _relative(target, (radius * u / norm)[None, :])[0]
        return -value if np.isfinite(value) else 0.0

    result = minimize(loss, start / radius, method="Nelder-Mead",
                      options={"maxfev": evaluations, "xatol": 1e-6, "fatol": 1e-12})
    u = result.x
    return radius * u / max(np.linalg.norm(u), 1e-300)

"""Random matrices for the linear-algebra tasks: entry distributions and symmetric spectra.

Entries are uniform in [-a, a] or Gaussian with the same variance a^2 / 3 (Charton 2022).
Symmetric matrices either are Wigner matrices (iid entries above the diagonal, so their
spectrum follows the semicircle law on [-R, R] with R = 2 sigma sqrt(n)), or are built as
Q^T diag(l) Q with Q Haar-orthogonal and eigenvalues l drawn on the same scale:
uniform on [-R, R], Gaussian and Laplace with the semicircle's variance R^2 / 4, "positive"
(absolute values of a Wigner spectrum) or Marchenko-Pastur (the spectrum of A^T A / n,
support [0, 4 sigma^2], rescaled to [0, R]).
"""

from __future__ import annotations

import numpy as np

SPECTRA = ("semicircle", "uniform", "gaussian", "laplace", "positive", "marchenko-pastur")


def entry_std(max_coefficient: float) -> float:
    """Standard deviation of an entry uniform in [-a, a] (and of the matching Gaussian)."""
    return max_coefficient / np.sqrt(3.0)


def draw_entries(rng: np.random.Generator, shape, distribution: str, max_coefficient: float) -> np.ndarray:
    if distribution == "gaussian":
        return rng.normal(0.0, entry_std(max_coefficient), size=shape)
    if distribution != "uniform":
        raise ValueError(f"unknown entry distribution {distribution!r}; expected uniform or gaussian")
    return rng.uniform(-max_coefficient, max_coefficient, size=shape)


def mix_log_uniform(rng: np.random.Generator, entries: np.ndarray, fraction: float, low: float,
                    high: float) -> np.ndarray:
    """Replace a ``fraction`` of the entries (each independently) by values of random sign whose
    magnitude is log-uniform on [low, high]: every decade gets the same share, so the rare
    exponents of a uniform draw (|x| < a/1000, |x| close to a) appear often. Draws nothing
    from ``rng`` when ``fraction`` is 0, so such data sets are unchanged."""
    if fraction <= 0:
        return entries
    chosen = rng.random(entries.shape) < fraction
    magnitudes = np.exp(rng.uniform(np.log(low), np.log(high), entries.shape))
    signs = np.where(rng.random(entries.shape) < 0.5, -1.0, 1.0)
    return np.where(chosen, signs * magnitudes, entries)


def haar_orthogonal(rng: np.random.Generator, n: int) -> np.ndarray:
    """A Haar-distributed orthogonal matrix (QR of a Gaussian matrix with the sign fix of Mezzadri 2007)."""
    q, r = np.linalg.qr(rng.standard_normal((n, n)))
    return q * np.sign(np.diag(r))


def draw_symmetric(rng: np.random.Generator, n: int, spectrum: str, distribution: str,
                   max_coefficient: float) -> np.ndarray:
    """A symmetric n x n matrix whose eigenvalues follow ``spectrum`` on the Wigner scale."""
    full = draw_entries(rng, (n, n), distribution, max_coefficient)
    wigner = np.triu(full) + np.triu(full, 1).T
    if spectrum == "semicircle":
        return wigner
    sigma = entry_std(max_coefficient)
    radius = 2.0 * sigma * np.sqrt(n)  # semicircle support [-R, R], variance R^2 / 4
    if spectrum == "uniform":
        eigenvalues = rng.uniform(-radius, radius, n)
    elif spectrum == "gaussian":
        eigenvalues = rng.normal(0.0, radius / 2, n)
    elif spectrum == "laplace":
        eigenvalues = rng.laplace(0.0, radius / (2 * np.sqrt(2)), n)  # variance 2 b^2 = R^2 / 4
    elif spectrum == "positive":
        eigenvalues = np.abs(np.linalg.eigvalsh(wigner))
    elif spectrum == "marchenko-pastur":
        a = draw_entries(rng, (n, n), distribution, max_coefficient)
        eigenvalues = np.linalg.eigvalsh(a.T @ a / n) * radius / (4 * sigma ** 2)
    else:
        raise ValueError(f"unknown spectrum {spectrum!r}; expected one of {', '.join(SPECTRA)}")
    q = haar_orthogonal(rng, n)
    matrix = q.T @ np.diag(eigenvalues) @ q
    return (matrix + matrix.T) / 2

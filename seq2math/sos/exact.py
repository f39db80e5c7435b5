"""Exact SOS certificates: round a numerical Gram matrix, project it, prove it in rationals.

Peyrl and Parrilo ("Computing sum of squares decompositions with rational coefficients",
Theor. Comp. Sci. 2008): if the solver's Gram matrix Q has a margin (λ_min(Q) ≥ t > 0),
then rounding Q to rationals and projecting it orthogonally onto the affine space
{Q : zᵀQz = p} moves it by much less than t, so the projected rational matrix is still
positive semidefinite — which we then prove by an exact LDLᵀ. The projection is cheap
because each Gram entry (a, b) feeds exactly one coefficient (of x^(m_a+m_b)): entries
are shifted by (p_α − Σ entries)/(number of entries) within each coefficient class.

A certificate is a JSON object (basis, rational Gram matrix, the polynomial) that
``check_certificate`` re-proves from scratch; nothing rests on solver tolerance.
"""

from __future__ import annotations

import json
from pathlib import Path

import flint
import numpy as np

from seq2math.jobs.files import write_atomically

Exps = tuple[int, ...]
Q = flint.fmpq


def _pair_classes(basis: np.ndarray) -> dict[Exps, list[tuple[int, int]]]:
    """α -> the Gram positions (a ≤ b) with m_a + m_b = α."""
    classes: dict[Exps, list[tuple[int, int]]] = {}
    rows = [tuple(int(v) for v in m) for m in basis]
    for a in range(len(rows)):
        for b in range(a, len(rows)):
            key = tuple(x + y for x, y in zip(rows[a], rows[b]))
            classes.setdefault(key, []).append((a, b))
    return classes


def round_and_project(p: dict[Exps, Q], basis: np.ndarray, gram: np.ndarray, denominator: int
                      ) -> list[list[Q]] | None:
    """The rational Gram matrix closest to ``gram`` (on a 1/denominator grid) with zᵀQz = p exactly."""
    size = len(basis)
    scaled = np.rint(gram * denominator).astype(object)               # (s, s) Python ints
    G = [[Q(int(scaled[a][b] if a <= b else scaled[b][a]), denominator) for b in range(size)]
         for a in range(size)]
    classes = _pair_classes(basis)
    if any(c != 0 and alpha not in classes for alpha, c in p.items()):
        return None
    for alpha, positions in classes.items():
        current = Q(0)
        count = 0
        for a, b in positions:
            weight = 1 if a == b else 2
            current += weight * G[a][b]
            count += weight
        delta = (p.get(alpha, Q(0)) - current) / count
        if delta != 0:
            for a, b in positions:
                G[a][b] += delta
                if a != b:
                    G[b][a] = G[a][b]
    return G


def is_psd_exact(gram: list[list[Q]]) -> bool:
    """Exact LDLᵀ on the upper triangle; a zero pivot needs a zero row (semidefinite case)."""
    A = [row[:] for row in gram]
    n = len(A)
    for k in range(n):
        pivot = A[k][k]
        if pivot < 0:
            return False
        row_k = A[k]
        if pivot == 0:
            if any(row_k[j] != 0 for j in range(k + 1, n)):
                return False
            continue
        for i in range(k + 1, n):
            factor = row_k[i] / pivot
            if factor == 0:
                continue
            row_i = A[i]
            for j in range(i, n):
                if row_k[j] != 0:
                    row_i[j] -= factor * row_k[j]
    return True


def gram_polynomial(basis: np.ndarray, gram: list[list[Q]]) -> dict[Exps, Q]:
    """zᵀQz as {exponent: coefficient} (exactly)."""
    result: dict[Exps, Q] = {}
    for alpha, positions in _pair_classes(basis).items():
        total = Q(0)
        for a, b in positions:
            total += gram[a][b] if a == b else gram[a][b] + gram[b][a]
        if total != 0:
            result[alpha] = total
    return result


def verify_gram(p: dict[Exps, Q], basis: np.ndarray, gram: list[list[Q]]) -> tuple[bool, str]:
    """Exact proof that p = zᵀQz with Q symmetric ⪰ 0; returns (ok, reason)."""
    size = len(basis)
    if len(gram) != size or any(len(row) != size for row in gram):
        return False, f"Gram matrix is not {size}x{size}"
    if any(gram[a][b] != gram[b][a] for a in range(size) for b in range(a + 1, size)):
        return False, "Gram matrix is not symmetric"
    target = {k: v for k, v in p.items() if v != 0}
    if gram_polynomial(basis, gram) != target:
        return False, "zᵀQz differs from the polynomial"
    if not is_psd_exact(gram):
        return False, "Gram matrix is not positive semidefinite (exact LDLᵀ)"
    return True, "exact"


def rounding_grids(size: int, margin: float) -> list[int]:
    """Denominators to round a Gram matrix of ``size`` rows to, coarsest first: fine enough that the
    rounding error (about size / denominator) stays below the solver's ``margin``, then 10^6, 10^9."""
    first = 10 ** int(np.clip(np.ceil(np.log10(20 * size / max(margin, 1e-12))), 2, 12))
    return [d for d in sorted({first, 10 ** 6, 10 ** 9}) if d >= first]


def exact_certificate(p: dict[Exps, Q], basis: np.ndarray, gram: np.ndarray, margin: float
                      ) -> list[list[Q]] | None:
    """Round-and-project with a grid fine enough for the margin; None if no grid works."""
    for denominator in rounding_grids(max(1, len(basis)), margin):
        G = round_and_project(p, basis, gram, denominator)
        if G is None:
            return None
        if is_psd_exact(G):
            return G
    return None


# ---- block-diagonal Gram matrices (seq2math.sos.sparsity) ---------------------------------

def round_and_project_blocks(p: dict[Exps, Q], bases: list[np.ndarray], grams: list[np.ndarray], denominator: int
                             ) -> list[list[list[Q]]] | None:
    """``round_and_project`` for Q = diag(Q_1, …, Q_K): each coefficient class spans the blocks that feed it,
    so Σ_k z_kᵀQ_kz_k = p exactly; None when some term of p is fed by no block."""
    rounded = []
    for gram in grams:
        scaled = np.rint(gram * denominator).astype(object)
        size = len(gram)
        rounded.append([[Q(int(scaled[a][b] if a <= b else scaled[b][a]), denominator) for b in range(size)]
                        for a in range(size)])
    classes: dict[Exps, list[tuple[int, int, int]]] = {}
    for k, basis in enumerate(bases):
        for alpha, positions in _pair_classes(basis).items():
            classes.setdefault(alpha, []).extend((k, a, b) for a, b in positions)
    if any(c != 0 and alpha not in classes for alpha, c in p.items()):
        return None
    for alpha, positions in classes.items():
        current, count = Q(0), 0
        for k, a, b in positions:
            weight = 1 if a == b else 2
            current += weight * rounded[k][a][b]
            count += weight
        delta = (p.get(alpha, Q(0)) - current) / count
        if delta != 0:
            for k, a, b in positions:
                rounded[k][a][b] += delta
                if a != b:
                    rounded[k][b][a] = rounded[k][a][b]
    return rounded


def exact_block_certificate(p: dict[Exps, Q], basis: np.ndarray, gram: np.ndarray, blocks: list[np.ndarray],
                            margin: float) -> list[list[list[Q]]] | None:
    """Exact Gram blocks (one per index array of ``blocks`` into ``basis``) from a block-diagonal ``gram``.

    The grid is chosen as in ``exact_certificate``; each block is proved ⪰ 0 by its own exact LDLᵀ,
    so the cost grows with the blocks' sizes, not the whole basis."""
    bases = [basis[part] for part in blocks]
    grams = [gram[np.ix_(part, part)] for part in blocks]
    for denominator in rounding_grids(max(1, max((len(part) for part in blocks), default=1)), margin):
        rational = round_and_project_blocks(p, bases, grams, denominator)
        if rational is None:
            return None
        if all(is_psd_exact(G) for G in rational):
            return rational
    return None


def verify_blocks(p: dict[Exps, Q], parts: list[tuple[np.ndarray, list[list[Q]]]]) -> tuple[bool, str]:
    """Exact proof that p = Σ_k z_kᵀQ_kz_k with every Q_k symmetric ⪰ 0; returns (ok, reason)."""
    total: dict[Exps, Q] = {}
    for k, (basis, gram) in enumerate(parts):
        size = len(basis)
        if len(gram) != size or any(len(row) != size for row in gram):
            return False, f"Gram block {k} is not {size}x{size}"
        if any(gram[a][b] != gram[b][a] for a in range(size) for b in range(a + 1, size)):
            return False, f"Gram block {k} is not symmetric"
        for alpha, value in gram_polynomial(basis, gram).items():
            total[alpha] = total.get(alpha, Q(0)) + value
    if {k: v for k, v in total.items() if v != 0} != {k: v for k, v in p.items() if v != 0}:
        return False, "the sum of the blocks' zᵀQz differs from the polynomial"
    for k, (_, gram) in enumerate(parts):
        if not is_psd_exact(gram):
            return False, f"Gram block {k} is not positive semidefinite (exact LDLᵀ)"
    return True, "exact"


def blocks_to_json(bases: list[np.ndarray], grams: list[list[list[Q]]]) -> dict:
    """{"blocks": [{"basis", "gram"}, …]}: a block-diagonal Gram matrix, block by block."""
    return {"blocks": [gram_to_json(basis, gram) for basis, gram in zip(bases, grams)]}


# ---- JSON form ------------------------------------------------------------------------

def poly_to_json(p: dict[Exps, Q]) -> list[list]:
    return [[[int(v) for v in e], str(c)] for e, c in sorted(p.items(), key=lambda item: tuple(map(int, item[0])))]


def poly_from_json(terms: list[list]) -> dict[Exps, Q]:
    return {tuple(int(v) for v in e): _parse_q(c) for e, c in terms}


def _parse_q(text: str) -> Q:
    num, _, den = str(text).partition("/")
    return Q(int(num), int(den or 1))


def gram_to_json(basis: np.ndarray, gram: list[list[Q]]) -> dict:
    return {"basis": [[int(v) for v in m] for m in basis], "gram": [[str(v) for v in row] for row in gram]}


def gram_from_json(data: dict) -> tuple[np.ndarray, list[list[Q]]]:
    if not data["basis"]:  # the zero polynomial: an empty sum of squares (e.g. -dV/dt = 0)
        return np.zeros((0, 0), dtype=np.int64), []
    basis = np.array(data["basis"], dtype=np.int64).reshape(len(data["basis"]), -1)
    return basis, [[_parse_q(v) for v in row] for row in data["gram"]]


def gram_parts(part: dict) -> list[tuple[np.ndarray, list[list[Q]]]]:
    """(basis, Gram matrix) of each block of a certificate part: one for "basis"/"gram", several for "blocks"."""
    if "blocks" in part:
        return [gram_from_json(block) for block in part["blocks"]]
    return [gram_from_json(part)]


def save_certificate(path: str | Path, certificate: dict) -> Path:
    """Write ``certificate`` to ``path`` atomically (a temporary file moved into place)."""
    return write_atomically(path, readable_json(certificate) + "\n")


def readable_json(value, indent: str = "") -> str:
    """JSON with one line per key, per condition and per Gram matrix row (terms kept compact)."""
    inner = indent + "  "
    if isinstance(value, dict) and value:
        items = [f"{inner}{json.dumps(k)}: {readable_json(v, inner)}" for k, v in value.items()]
        return "{\n" + ",\n".join(items) + "\n" + indent + "}"
    if isinstance(value, list) and value and all(isinstance(v, dict) for v in value):
        return "[\n" + ",\n".join(inner + readable_json(v, inner) for v in value) + "\n" + indent + "]"
    if isinstance(value, list) and value and all(isinstance(v, list) and v and isinstance(v[0], str) for v in value):
        return "[\n" + ",\n".join(inner + json.dumps(v) for v in value) + "\n" + indent + "]"   # Gram rows
    return json.dumps(value)

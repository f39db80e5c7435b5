"""Term sparsity: split a Gram matrix into blocks, in the manner of TSSOS.

Wang, Magron and Lasserre ("TSSOS: a moment-SOS hierarchy that exploits term sparsity",
SIAM J. Optim. 2021) restrict the Gram matrix Q of p = zᵀQz to the pattern of a graph on the
basis monomials: (a, b) is an edge when m_a + m_b is an exponent of p or the square of a basis
monomial (2m). Taking the *block closure* (every connected component made complete) gives a
block-diagonal Q; the next step adds the sums m_a + m_b of the blocks to the support and
builds the graph again, until the blocks stop growing.

Two levels are offered, both computed with numpy on integer codes of the exponents (no Python
loop per monomial pair):

- ``tssos_blocks(support, basis, steps=1)``: the first TSSOS step (sparser; it may lose
  feasibility, so a caller escalates when it finds no margin);
- ``sign_blocks(support, basis)``: the lossless blocks. If every exponent α of p (parametric
  terms included) satisfies s·α ≡ 0 (mod 2) for a sign pattern s ∈ {0,1}ⁿ, then p is invariant
  under x ↦ (−1)^s x, and so is the set of its Gram matrices; averaging a feasible Q over that
  group keeps it feasible, keeps λ_min(Q) ≥ t, and zeroes Q[a, b] unless (m_a + m_b) mod 2 lies
  in the GF(2) span W of the exponents mod 2 (Löfberg, IEEE TAC 2009, on sign symmetries). The
  blocks are therefore the cosets of the basis monomials' parities modulo W, and a program split
  this way has the same optimal margin as the dense one. Every TSSOS step, even at its fixed
  point, gives a partition at least as fine as this one (its edges join only monomials of one
  coset; ``tests/test_sparse_sos.py`` checks it): TSSOS blocks are smaller, sign blocks are exact.
"""

from __future__ import annotations

import numpy as np
import scipy.sparse as sp
from scipy.sparse.csgraph import connected_components

#: the sparsity levels of ``seq2math.sos.sdp.SOSProgram.sparsity``
SPARSITY_LEVELS = ("dense", "signs", "terms")


def _codes(exps: np.ndarray, radix: int) -> np.ndarray:
    return exps.astype(np.int64) @ (radix ** np.arange(exps.shape[1], dtype=np.int64))


def _components(size: int, rows: np.ndarray, cols: np.ndarray) -> list[np.ndarray]:
    """Index arrays of the connected components of the graph with these edges, in basis order."""
    graph = sp.csr_matrix((np.ones(len(rows)), (rows, cols)), shape=(size, size))
    count, labels = connected_components(graph, directed=False)
    first = np.full(count, size)
    np.minimum.at(first, labels, np.arange(size))
    order = np.argsort(first)                       # blocks ordered by their first monomial
    return [np.flatnonzero(labels == label) for label in order]


def tssos_blocks(support: np.ndarray, basis: np.ndarray, steps: int | None = 1) -> list[np.ndarray]:
    """Blocks (index arrays into ``basis``) of ``steps`` TSSOS steps with block closure (None: to the fixed point)."""
    size = len(basis)
    if size == 0:
        return []
    support = np.asarray(support, dtype=np.int64).reshape(-1, basis.shape[1])
    i_idx, j_idx = np.triu_indices(size)
    sums = basis[i_idx] + basis[j_idx]                                        # (pairs, n)
    radix = int(max(sums.max(initial=0), support.max(initial=0))) + 1
    pair_codes = _codes(sums, radix)
    allowed = np.union1d(_codes(support, radix), _codes(2 * basis, radix))
    blocks: list[np.ndarray] | None = None
    step = 0
    while steps is None or step < steps:
        edge = np.isin(pair_codes, allowed)
        new_blocks = _components(size, i_idx[edge], j_idx[edge])
        step += 1
        if blocks is not None and len(new_blocks) == len(blocks):
            return new_blocks                                                  # fixed point
        blocks = new_blocks
        label = np.empty(size, dtype=np.int64)
        for k, block in enumerate(blocks):
            label[block] = k
        inside = label[i_idx] == label[j_idx]
        allowed = np.union1d(allowed, pair_codes[inside])
    return blocks


def _gf2_masks(exps: np.ndarray) -> np.ndarray:
    """Parity vectors (exponents mod 2) as integer bit masks."""
    return (exps.astype(np.int64) % 2) @ (1 << np.arange(exps.shape[1], dtype=np.int64))


def sign_blocks(support: np.ndarray, basis: np.ndarray) -> list[np.ndarray]:
    """The lossless blocks: basis monomials grouped by parity modulo the GF(2) span of the support."""
    size = len(basis)
    if size == 0:
        return []
    nvars = basis.shape[1]
    support = np.asarray(support, dtype=np.int64).reshape(-1, nvars)
    pivots: list[tuple[int, int]] = []                   # (pivot bit, vector), echelon form of W
    for vector in np.unique(_gf2_masks(support)):
        vector = int(vector)
        for bit, pivot_vector in pivots:
            if vector >> bit & 1:
                vector ^= pivot_vector
        if vector:
            pivots.append((vector.bit_length() - 1, vector))
            pivots.sort(reverse=True)
    reduced = _gf2_masks(basis)
    for bit, pivot_vector in pivots:                     # canonical coset representative, vectorised over the basis
        has_bit = (reduced >> bit) & 1
        reduced = reduced ^ (has_bit * pivot_vector)
    _, labels = np.unique(reduced, return_inverse=True)
    first = np.full(labels.max() + 1, size)
    np.minimum.at(first, labels, np.arange(size))
    return [np.flatnonzero(labels == label) for label in np.argsort(first)]


def gram_blocks(support: np.ndarray, basis: np.ndarray, level: str) -> list[np.ndarray]:
    """The blocks of one sparsity level (``SPARSITY_LEVELS``); "dense" is one block."""
    if level == "dense" or len(basis) == 0:
        return [np.arange(len(basis))]
    if level == "signs":
        return sign_blocks(support, basis)
    if level == "terms":
        return tssos_blocks(support, basis, steps=1)
    raise ValueError(f"unknown sparsity {level!r}; expected one of {', '.join(SPARSITY_LEVELS)}")

"""The nine linear-algebra tasks of Charton, "Linear algebra with transformers" (TMLR 2022).

Layouts (M is m x n; every matrix is ``V{rows} V{cols}`` + row-major entries, a vector ``V{n}`` + entries):

=================  ============================  ==================================================
task               source                        target
=================  ============================  ==================================================
transpose          M                             M^T (n x m)
add                M, N (both m x n)             M + N
matvec             M, v (v has m entries)        M^T v (vector of n entries)
matmul             M, N (both m x n)             M^T N (n x n)
eigenvalues        M symmetric n x n             its n eigenvalues, descending (vector)
eigenvectors       M symmetric n x n             (n+1) x n: eigenvalues (descending) in row 0, then Q
                                                 whose rows are unit eigenvectors: Q M Q^T = diag
singular-values    M                             the n eigenvalues of M^T M, descending (vector)
svd                M                             (m+n+1) x k, k = min(m, n): singular values s in
                                                 row 0, then U (m x k), then V (n x k) with
                                                 U^T M V = diag(s), i.e. M = U diag(s) V^T
inverse            M square, invertible          P with M P = P M = I
=================  ============================  ==================================================

Example (transpose, 2x2, P1000): ``V2 V2 + 100 E-2 + 200 E-2 - 300 E-2 + 400 E-2`` ->
``V2 V2 + 100 E-2 - 300 E-2 + 200 E-2 + 400 E-2``.

Targets are computed in float64 on the *unrounded* input, then rounded (as in the paper);
the verifier only sees the rounded input, so a correct 3-digit answer carries both errors.
Factors are canonical up to sign: the largest entry of each eigenvector row of Q (and of
each column of V, with its partner column of U) is positive.

Scores (metrics ``5%``, ``2%``, ``1%``, ``0.5%``; primary ``5%``): relative L1 error
``||hyp - ref||_1 / ||ref||_1`` with ``ref`` recomputed from the decoded source, below the
tolerance. Exceptions, which cannot be fooled by zeros or rescaling:

* eigenvectors: the maximum of the spectrum error, the orthonormality error
  ``||Q Q^T - I||_1 / n`` and the reconstruction error ``||Q^T diag(l) Q - M||_1 / ||M||_1``;
* svd: the maximum of the spectrum error, ``||U^T U - I||_1 / k``, ``||V^T V - I||_1 / k``
  and ``||U diag(s) V^T - M||_1 / ||M||_1``;
* inverse: ``||M P - I||_1 / n``. Rounding M and P to 3 digits alone costs up to about
  0.003 * cond(M) of this error, so generation rejects matrices with cond(M) > ``max_condition``
  and those whose own 3-digit target fails the primary 5% check (about 2% of draws at the
  default 100); the stricter tolerances then measure how close to exact an answer is.

Each task is a small registered subclass of ``seq2math.tasks.linalg_base.LinalgTask``, which
holds the shared work (options, sampling, tokens, checking, human form); the tolerances and the
relative L1 error are those of ``seq2math.tasks.numeric``.
"""

from __future__ import annotations

import numpy as np

from seq2math.tasks.base import register_task
from seq2math.tasks.linalg_base import LinalgTask
from seq2math.tasks.numeric import TOLERANCES, relative_l1


def canonical_signs(vectors: np.ndarray) -> np.ndarray:
    """+1/-1 per row making each row's largest-magnitude entry positive."""
    picks = vectors[np.arange(len(vectors)), np.abs(vectors).argmax(axis=1)]
    return np.where(picks < 0, -1.0, 1.0)


@register_task
class Transpose(LinalgTask):
    """transpose: M (m x n) -> M^T."""

    name = "transpose"

    def solve(self, operands):
        return operands[0].T.copy()

    def target_shape(self, rows, cols):
        return cols, rows


@register_task
class Add(LinalgTask):
    """add: M, N (m x n) -> M + N."""

    name, operands = "add", ("matrix", "matrix")

    def solve(self, operands):
        return operands[0] + operands[1]

    def target_shape(self, rows, cols):
        return rows, cols


@register_task
class MatVec(LinalgTask):
    """matvec: M (m x n), v (m) -> M^T v."""

    name, operands = "matvec", ("matrix", "vector")

    def solve(self, operands):
        return operands[0].T @ operands[1]

    def target_shape(self, rows, cols):
        return (cols,)


@register_task
class MatMul(LinalgTask):
    """matmul: M, N (m x n) -> M^T N (n x n)."""

    name, operands = "matmul", ("matrix", "matrix")

    def solve(self, operands):
        return operands[0].T @ operands[1]

    def target_shape(self, rows, cols):
        return cols, cols


@register_task
class Eigenvalues(LinalgTask):
    """eigenvalues: M symmetric n x n -> its eigenvalues, descending."""

    name, square_only, symmetric = "eigenvalues", True, True

    def solve(self, operands):
        return np.linalg.eigvalsh(operands[0])[::-1].copy()

    def target_shape(self, rows, cols):
        return (rows,)


@register_task
class Eigenvectors(LinalgTask):
    """eigenvectors: M symmetric n x n -> (n+1) x n: eigenvalues (row 0), then Q with Q M Q^T = D."""

    name, square_only, symmetric = "eigenvectors", True, True

    def solve(self, operands):
        eigenvalues, vectors = np.linalg.eigh(operands[0])
        q = vectors[:, ::-1].T  # rows = eigenvectors, eigenvalues descending
        q = q * canonical_signs(q)[:, None]
        return np.vstack([eigenvalues[::-1], q])

    def target_shape(self, rows, cols):
        return rows + 1, cols

    def error(self, operands, hypothesis):
        matrix = operands[0]
        eigenvalues, q = hypothesis[0], hypothesis[1:]
        n = len(eigenvalues)
        parts = {
            "spectrum": relative_l1(eigenvalues, np.linalg.eigvalsh(matrix)[::-1]),
            "orthonormality": relative_l1(q @ q.T, np.eye(n)),
            "reconstruction": relative_l1(q.T @ np.diag(eigenvalues) @ q, matrix),
        }
        return max(parts.values()), parts


@register_task
class SingularValues(LinalgTask):
    """singular-values: M (m x n) -> the n eigenvalues of M^T M, descending."""

    name = "singular-values"

    def solve(self, operands):
        gram = operands[0].T @ operands[0]
        return np.maximum(np.linalg.eigvalsh(gram)[::-1], 0.0)  # M^T M is positive semidefinite

    def target_shape(self, rows, cols):
        return (cols,)


@register_task
class SVD(LinalgTask):
    """svd: M (m x n) -> (m+n+1) x min(m,n): singular values, then U (m x k), then V (n x k)."""

    name = "svd"

    def solve(self, operands):
        u, s, vt = np.linalg.svd(operands[0], full_matrices=False)
        signs = canonical_signs(vt)  # flip u_i and v_i together
        return np.vstack([s, u * signs, (vt * signs[:, None]).T])

    def target_shape(self, rows, cols):
        return rows + cols + 1, min(rows, cols)

    def error(self, operands, hypothesis):
        matrix = operands[0]
        rows = matrix.shape[0]
        s, u, v = hypothesis[0], hypothesis[1:rows + 1], hypothesis[rows + 1:]
        k = len(s)
        parts = {
            "spectrum": relative_l1(s, np.linalg.svd(matrix, compute_uv=False)),
            "orthonormality_u": relative_l1(u.T @ u, np.eye(k)),
            "orthonormality_v": relative_l1(v.T @ v, np.eye(k)),
            "reconstruction": relative_l1(u @ np.diag(s) @ v.T, matrix),
        }
        return max(parts.values()), parts


@register_task
class Inverse(LinalgTask):
    """inverse: M square invertible -> P with M P = I (scored on ||M P - I||_1 / n)."""

    name, square_only = "inverse", True

    def sample_operands(self, rng):
        operands = super().sample_operands(rng)
        if np.linalg.cond(operands[0]) > self.options.max_condition:
            return None  # the 3-digit inverse of an ill-conditioned matrix cannot satisfy M P ~ I
        return operands

    def generate(self, rng):
        example = super().generate(rng)
        if example is not None and self.verify(*example).error > TOLERANCES[self.primary_metric]:
            return None  # rounding M and P to 3 digits already breaks M P ~ I (measured: error <= 0.003 cond)
        return example

    def solve(self, operands):
        return np.linalg.inv(operands[0])

    def target_shape(self, rows, cols):
        return rows, cols

    def error(self, operands, hypothesis):
        n = operands[0].shape[0]
        return relative_l1(operands[0] @ hypothesis, np.eye(n)), {}

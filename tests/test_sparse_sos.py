"""Term sparsity (seq2math/sos/sparsity.py): the blocks, the same verdicts as the dense program, exact re-checks."""

from __future__ import annotations

import copy

import numpy as np
import pytest

from seq2math.lyapunov import conditions
from seq2math.lyapunov.check import check_candidate
from seq2math.lyapunov.methods.findlyap import solve_program
from seq2math.sos import certificates as C
from seq2math.sos.newton import half_newton_basis
from seq2math.sos.sdp import SolverStatus, SOSCondition, SOSProgram, solve_sos
from seq2math.sos.sparsity import sign_blocks, tssos_blocks
from seq2math.symbolic.poly import ring


def _partition(blocks) -> set[frozenset[int]]:
    return {frozenset(int(i) for i in block) for block in blocks}


def test_tssos_blocks_refine_the_sign_symmetry_blocks_on_random_supports():
    rng = np.random.default_rng(0)
    finer = 0
    for _ in range(100):
        nvars = int(rng.integers(2, 4))
        support = np.vstack([rng.integers(0, 5, size=(int(rng.integers(2, 7)), nvars)), 4 * np.eye(nvars, dtype=int)])
        basis = half_newton_basis(support, prune=False)
        signs, terms = _partition(sign_blocks(support, basis)), _partition(tssos_blocks(support, basis, None))
        assert set().union(*signs) == set(range(len(basis))) == set().union(*terms)    # both are partitions
        assert all(any(t <= s for s in signs) for t in terms)                         # terms refines signs
        finer += len(terms) > len(signs)
    assert finer > 0                                 # TSSOS is sometimes strictly sparser


def test_sign_blocks_of_an_even_polynomial_are_the_parity_classes():
    basis = np.array([[0, 0], [1, 0], [0, 1], [2, 0], [1, 1], [0, 2]])
    blocks = _partition(sign_blocks(np.array([[4, 0], [0, 4], [2, 2], [0, 0]]), basis))
    assert blocks == {frozenset({0, 3, 5}), frozenset({1}), frozenset({2}), frozenset({4})}


def _random_program(rng, nvars: int) -> SOSProgram:
    """p = Σ squares of sparse random polynomials, minus a random perturbation: SOS or not."""
    terms: dict[tuple, float] = {}
    for _ in range(2):
        monomials = [tuple(int(v) for v in rng.integers(0, 3, size=nvars)) for _ in range(3)]
        coefficients = rng.normal(size=3)
        for a, ca in zip(monomials, coefficients):
            for b, cb in zip(monomials, coefficients):
                key = tuple(x + y for x, y in zip(a, b))
                terms[key] = terms.get(key, 0.0) + ca * cb
    for i in range(nvars):                          # a definite part
        key = tuple(4 if j == i else 0 for j in range(nvars))
        terms[key] = terms.get(key, 0.0) + 0.1
    odd = tuple(int(v) for v in rng.integers(0, 3, size=nvars))
    terms[odd] = terms.get(odd, 0.0) + float(rng.normal()) * 3
    return SOSProgram(nvars, 0, [SOSCondition("p", {k: v for k, v in terms.items() if abs(v) > 1e-9})])


@pytest.mark.parametrize("seed", range(6))
def test_sparse_programs_give_the_dense_verdict(seed):
    rng = np.random.default_rng(seed)
    program = _random_program(rng, 2 + seed % 2)
    dense = solve_sos(program)
    for level in ("signs", "terms"):
        program.sparsity = level
        sparse = solve_sos(program)
        if dense.status is SolverStatus.INFEASIBLE:
            assert sparse.status is SolverStatus.INFEASIBLE
            continue
        assert sparse.status is SolverStatus.SOLVED
        assert (sparse.margins[0] > 1e-7) == (dense.margins[0] > 1e-7)
        if level == "signs":                         # lossless: the same optimal margin
            assert sparse.margins[0] == pytest.approx(dense.margins[0], rel=1e-4, abs=1e-6)


def test_checks_give_the_same_verdicts_sparse_and_dense(monkeypatch):
    x0, x1, x2 = ring(3).gens()
    cases = [([-x0 + x1, -x0 - x1**3, -x2], x0**2 + x1**2 + x2**2, True),
             ([-x0 + x1**2, -x1, -x2 + x0 * x1], x0**2 + x1**2 + x2**2, None),
             ([-x0 - x0 * x1**2, -x1 + x0**2 * x1, -x2**3], x0**2 + x1**2 + x2**4, True),
             ([-x0, x1, -x2], x0**2 + x1**2 + x2**2, False)]
    verdicts = {}
    for level in ("signs", "terms", "dense"):
        monkeypatch.setattr(conditions, "SPARSITY", level)
        verdicts[level] = [check_candidate(system, V, "lyapunov").valid for system, V, _ in cases]
    assert verdicts["signs"] == verdicts["terms"] == verdicts["dense"]
    assert [v is True for v in verdicts["dense"]] == [expected is True for _, _, expected in cases]


def test_a_certificate_from_the_sparse_path_rechecks_exactly_and_tampering_fails():
    x0, x1, x2 = ring(3).gens()
    system, V = [-x0 - x0 * x1**2, -x1 + x0**2 * x1, -x2**3], x0**2 + x1**2 + x2**4
    result = check_candidate(system, V, "lyapunov", certificate=True)
    assert result.valid is True, result.reason
    document = C.certificate_document(system, V, "lyapunov", result.certificate["conditions"])
    blocked = [part for part in document["conditions"] if "blocks" in part]
    assert blocked and all(len(part["blocks"]) > 1 for part in blocked)
    assert C.recheck(document) == (True, "every condition re-proved exactly")
    bad = copy.deepcopy(document)
    part = next(p for p in bad["conditions"] if "blocks" in p)
    gram = part["blocks"][-1]["gram"]
    gram[0][0] = str(-1 - int(gram[0][0].split("/")[0]))      # the identity breaks (and the block may be indefinite)
    assert C.recheck(bad)[0] is False


def test_findlyap_programs_give_the_same_verdict_sparse_and_dense():
    x0, x1 = ring(2).gens()
    for system, degree in (([-x0 + x1, -x0 - x1**3], 2), ([-x0 + 2 * x1**3, -x1], 2), ([-x0 + 2 * x1**3, -x1], 4)):
        dense, _, _ = solve_program(system, degree, sparsity="dense")
        sparse, _, _ = solve_program(system, degree, sparsity="terms")
        assert sparse.status == dense.status, (system, degree, sparse, dense)

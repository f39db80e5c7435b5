"""Exact certificates: rounding + projection, exact LDLᵀ, certificate files and their re-check."""

from __future__ import annotations

import copy
from fractions import Fraction

import flint
import numpy as np

from seq2math.lyapunov.check import check_candidate
from seq2math.sos import certificates as C
from seq2math.sos import exact as X
from seq2math.symbolic.poly import ring

Q = flint.fmpq


def _matrix(rows):
    return [[Q(v) if not isinstance(v, Q) else v for v in row] for row in rows]


def test_exact_ldl_accepts_psd_and_rejects_indefinite_matrices():
    assert X.is_psd_exact(_matrix([[2, 1], [1, 2]]))
    assert X.is_psd_exact(_matrix([[1, 1], [1, 1]]))                      # singular PSD
    assert X.is_psd_exact(_matrix([[0, 0], [0, 3]]))                      # zero pivot with zero row
    assert not X.is_psd_exact(_matrix([[0, 1], [1, 3]]))                  # zero pivot, nonzero row
    assert not X.is_psd_exact(_matrix([[1, 2], [2, 1]]))
    # a matrix with eigenvalue -1e-30: floats would call it PSD, exact arithmetic does not
    tiny = Q(1, 10**30)
    assert not X.is_psd_exact([[Q(1), Q(1)], [Q(1), Q(1) - tiny]])


def test_round_and_project_makes_the_identity_exact():
    x0, x1 = ring(2).gens()
    p = 2 * x0**4 + 2 * x0**3 * x1 - x0**2 * x1**2 + 5 * x1**4
    terms = dict(zip(map(tuple, p.monoms()), p.coeffs()))
    basis = np.array([[2, 0], [1, 1], [0, 2]])
    noisy = np.array([[2.0, 1.0, -1.5], [1.0, 2.0, 0.0], [-1.5, 0.0, 5.0]]) + 1e-7   # near a Gram matrix of p
    G = X.round_and_project(terms, basis, noisy, 10**6)
    assert X.gram_polynomial(basis, G) == terms
    ok, why = X.verify_gram(terms, basis, G)
    assert ok, why


def test_verify_gram_rejects_a_wrong_identity():
    basis = np.array([[1, 0], [0, 1]])
    G = _matrix([[1, 0], [0, 1]])
    ok, why = X.verify_gram({(2, 0): Q(1), (0, 2): Q(2)}, basis, G)
    assert not ok and "differs" in why


def _certified(system, V, check="lyapunov"):
    result = check_candidate(system, V, check, certificate=True)
    assert result.valid is True and result.proof.startswith("sos-exact"), result.reason
    return C.certificate_document(system, V, check, result.certificate["conditions"])


def test_a_claimed_certificate_passes_the_exact_recheck_after_a_json_round_trip(tmp_path):
    x0, x1 = ring(2).gens()
    system, V = [-x0 + x1, -x0 - x1**3], x0**2 + x1**2
    document = _certified(system, V)
    path = C.save(tmp_path / "c.json", document)
    ok, why = C.recheck(C.load(path))
    assert ok, why


def test_tampered_certificates_are_rejected():
    x0, x1 = ring(2).gens()
    document = _certified([-x0 + x1, -x0 - x1**3], x0**2 + x1**2)
    # 1. a Gram entry changed: the identity breaks
    bad = copy.deepcopy(document)
    decrease = bad["conditions"][1]
    (decrease["blocks"][0] if "blocks" in decrease else decrease)["gram"][0][0] = "3"
    assert not C.recheck(bad)[0]
    # 2. a different system with the same certificate: the polynomial no longer matches
    bad = copy.deepcopy(document)
    bad["system"][1] = [[[1, 0], "-1"], [[0, 3], "1"]]                      # x1' = -x0 + x1^3
    assert not C.recheck(bad)[0]
    # 3. a negative epsilon would let V - eps*x^2 be SOS without V being definite
    bad = copy.deepcopy(document)
    key = next(iter(bad["conditions"][0]["epsilon"]))
    bad["conditions"][0]["epsilon"][key] = "-1/2"
    assert not C.recheck(bad)[0]
    # 4. a missing condition
    bad = copy.deepcopy(document)
    bad["conditions"] = bad["conditions"][:1]
    assert not C.recheck(bad)[0]


def test_an_indefinite_gram_matrix_with_the_right_identity_is_rejected(textbook):
    """The identity p = z^T Q z is not enough: Q must be PSD. Swap in Gram matrices that keep the
    identity of -dV/dt = 2 x0^2 + 2 x1^4 exactly but are indefinite; recheck must refuse them."""
    document = _certified(textbook.system, textbook.V)
    index = next(k for k, c in enumerate(document["conditions"]) if c["name"] == "decrease")
    assert X.poly_from_json(document["conditions"][index]["polynomial"]) == {(2, 0): Q(2), (0, 4): Q(2)}
    basis = [[0, 0], [1, 0], [0, 1], [0, 2]]                               # z = (1, x0, x1, x1^2)
    psd = [["0", "0", "0", "0"], ["0", "2", "0", "0"], ["0", "0", "0", "0"], ["0", "0", "0", "2"]]
    # x1^2 has two Gram positions, (x1, x1) and (1, x1^2): move weight between them, the identity stays
    negative_pivot = [["0", "0", "0", "1/2"], ["0", "2", "0", "0"], ["0", "0", "-1", "0"], ["1/2", "0", "0", "2"]]
    zero_pivot = [["0", "0", "0", "-1/2"], ["0", "2", "0", "0"], ["0", "0", "1", "0"], ["-1/2", "0", "0", "2"]]
    for gram, expected in ((psd, True), (negative_pivot, False), (zero_pivot, False)):
        numeric = np.array([[float(Fraction(v)) for v in row] for row in gram])
        assert bool(np.linalg.eigvalsh(numeric).min() >= -1e-12) is expected           # numpy agrees on definiteness
        G = _matrix([[Q(Fraction(v).numerator, Fraction(v).denominator) for v in row] for row in gram])
        assert X.gram_polynomial(np.array(basis), G) == {(2, 0): Q(2), (0, 4): Q(2)}   # the identity holds
        forged = copy.deepcopy(document)
        forged["conditions"][index].pop("blocks", None)                   # a sparse solve writes blocks instead
        forged["conditions"][index] |= {"basis": basis, "gram": gram}
        ok, why = C.recheck(forged)
        assert ok is expected, why
        if not expected:
            assert "positive semidefinite" in why


def test_certificate_of_a_higher_degree_pair_is_exact():
    x0, x1 = ring(2).gens()
    # x0' = -x0 + 2 x1^3, x1' = -x1 with V = x0^2 + x0 x1^3 + x1^2 + x1^6: -V' = 2x0^2 - x0x1^3 + 2x1^2 + 6x1^6 ... SOS
    system = [-x0 + 2 * x1**3, -x1]
    V = x1**6 + x0 * x1**3 + x0**2 + x1**2
    document = _certified(system, V)
    assert C.recheck(document)[0]
    for part in document["conditions"]:
        for basis, G in X.gram_parts(part):
            assert X.is_psd_exact(G)

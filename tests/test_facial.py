"""Facial reduction: exact certificates for SOS conditions whose Gram matrices are all singular."""

from __future__ import annotations

import flint
import numpy as np
import pytest

from seq2math.lyapunov.check import check_candidate
from seq2math.sos import certificates as C
from seq2math.sos import exact as X
from seq2math.sos import facial as F
from seq2math.sos import facial_lp as L
from seq2math.sos.facial_lp import fixed_epsilon
from seq2math.sos.newton import half_newton_basis
from seq2math.symbolic.poly import ring

Q = flint.fmpq


def _terms(p) -> dict:
    return {tuple(int(v) for v in e): c for e, c in zip(p.monoms(), p.coeffs())}


def _degenerate_pair():
    """V = x0^4 + x1^4 + (x0 − 3x1)², system by the backward recipe: f = −D∇V + c·s with
    D = diag(1, 0) and one rotation s = (∂1V, −∂0V) with c = x0, so V̇ = −(∂0V)²."""
    x0, x1 = ring(2).gens()
    V = x0**4 + x1**4 + (x0 - 3 * x1) ** 2
    d0, d1 = V.derivative(0), V.derivative(1)
    return [-d0 + x0 * d1, -x0 * d0], V


def test_degenerate_quadratic_part_gets_an_exact_certificate_that_rechecks(tmp_path):
    system, V = _degenerate_pair()
    result = check_candidate(system, V, "lyapunov", certificate=True)
    assert result.valid is True and result.proof == "sos-exact", result.reason
    parts = {part["name"]: part for part in result.certificate["conditions"]}
    assert parts["positive"].get("reduction") == "facial"
    # V's quadratic part vanishes along x0 = 3·x1 and is the degree-1 block of any Gram matrix, so
    # every Gram matrix of V − ε(...) has (x0, x1) ↦ (3, 1), 0 elsewhere, in its kernel: the face is real
    basis, gram = X.gram_from_json(parts["positive"])
    rows = [tuple(int(v) for v in m) for m in basis]
    kernel = [Q(0)] * len(rows)
    kernel[rows.index((1, 0))], kernel[rows.index((0, 1))] = Q(3), Q(1)
    assert all(sum(g * k for g, k in zip(row, kernel)) == 0 for row in gram)
    document = C.certificate_document(system, V, "lyapunov", result.certificate["conditions"])
    ok, why = C.recheck(C.load(C.save(tmp_path / "facial.json", document)))
    assert ok, why


def test_tampered_facial_certificate_is_rejected():
    system, V = _degenerate_pair()
    result = check_candidate(system, V, "lyapunov", certificate=True)
    document = C.certificate_document(system, V, "lyapunov", result.certificate["conditions"])
    positive = next(part for part in document["conditions"] if part["name"] == "positive")
    positive["gram"][0][0] = str(X._parse_q(positive["gram"][0][0]) + Q(1, 10**6))
    assert not C.recheck(document)[0]


def test_a_perturbed_degenerate_candidate_is_never_certified():
    """(x0 − 3x1)² − x0·x1/1000 is indefinite: V is negative near 0 along x0 = 3x1."""
    system, V = _degenerate_pair()
    x0, x1 = ring(2).gens()
    wrong = V - x0 * x1 / 1000
    point = (Q(3, 1000), Q(1, 1000))
    assert wrong(*point) < 0
    assert check_candidate(system, wrong, "lyapunov").valid is not True
    basis = half_newton_basis(np.array(list(_terms(wrong))))
    assert F.face_certificate(_terms(wrong), basis, hints=[]) is None


def test_a_nonnegative_polynomial_that_is_not_sos_gets_no_certificate():
    """The Motzkin form is ≥ 0 but not SOS: no face can hold a Gram matrix for it."""
    x0, x1, x2 = ring(3).gens()
    motzkin = x0**4 * x1**2 + x0**2 * x1**4 + x2**6 - 3 * x0**2 * x1**2 * x2**2
    terms = _terms(motzkin)
    basis = half_newton_basis(np.array(list(terms)), prune=False)
    assert F.face_certificate(terms, basis, hints=[np.eye(len(basis))]) is None


def test_rational_range_recovers_a_rational_face_from_a_noisy_gram_matrix():
    rng = np.random.default_rng(3)
    B = np.array([[1, 0], [-3, 1], [0, 2], [1, -1], [0, 0]], dtype=float)   # (s, r) rational face
    R = np.array([[2.0, 0.3], [0.3, 1.0]])
    gram = B @ R @ B.T + 1e-9 * rng.standard_normal((5, 5))                    # (s, s)
    assert F.candidate_ranks(gram) == [2]
    recovered = F.rational_range(gram, 2)
    exact_B = flint.fmpq_mat([[Q(int(v)) for v in row] for row in B])
    stacked = flint.fmpq_mat([list(a) + list(b) for a, b in zip(recovered, exact_B.tolist())])
    assert stacked.rank() == 2                                                  # the same column space, exactly


def test_kernel_range_reads_a_simple_kernel_through_errors_the_range_cannot_take():
    # a face whose kernel is x3 + x2^3/2 (bpoly system 19's (x3 − 2x2³)² block), the Gram matrix off by 1e-4
    rng = np.random.default_rng(5)
    k = np.array([1.0, 0.5, 0.0, 0.0, 0.0, 0.0])
    A = rng.standard_normal((6, 6))
    projector = np.eye(6) - np.outer(k, k) / (k @ k)
    gram = projector @ (A @ A.T + np.eye(6)) @ projector
    noisy = gram + 1e-4 * (lambda E: E + E.T)(rng.standard_normal((6, 6)))
    assert F.rational_range(noisy, 5) is None                                   # the range's entries carry the error
    B = F.kernel_range(noisy, 5)
    assert B is not None and len(B) == 6 and len(B[0]) == 5
    exact = flint.fmpq_mat(B)
    assert exact.rank() == 5
    assert all(v == 0 for v in (flint.fmpq_mat([[Q(1), Q(1, 2), Q(0), Q(0), Q(0), Q(0)]]) * exact).entries())
    assert F.kernel_range(noisy, 6) is None                                     # no kernel: no face


def test_a_degenerate_bpoly_v_is_proved_through_its_kernel():
    # bpoly system 19 of our test set: V ⊇ (x3 − 2x2³)², undecided at 60 s before kernel_range, now milliseconds
    from pathlib import Path

    from seq2math.lyapunov.batch import parse_benchmark_line
    path = Path(__file__).parent / "data" / "lyapunov-bpoly-test200.txt"
    _, system, V = parse_benchmark_line(path.read_text().splitlines()[18], str(path), 19)
    result = check_candidate(system, V, "lyapunov", timeout=60, certificate=True)
    assert result.valid is True and result.proof == "sos-exact", result.reason
    parts = {part["name"]: part for part in result.certificate["conditions"]}
    assert parts["positive"].get("reduction") == "facial"
    basis, gram = X.gram_from_json(parts["positive"])
    assert X.verify_gram(X.poly_from_json(parts["positive"]["polynomial"]), basis, gram)[0]


def test_exact_in_face_matches_the_polynomial_exactly_or_declines():
    x0, x1 = ring(2).gens()
    basis = np.array([[1, 0], [0, 1], [2, 0], [1, 1], [0, 2]])
    B = [[Q(1), Q(0), Q(0), Q(0)], [Q(-3), Q(0), Q(0), Q(0)], [Q(0), Q(1), Q(0), Q(0)],
         [Q(0), Q(0), Q(1), Q(0)], [Q(0), Q(0), Q(0), Q(1)]]                  # x0 − 3x1, x0², x0x1, x1²
    R_num = np.array([[1.0, 0, 0, 0], [0, 3.0, 1.0, 0], [0, 1.0, 2.0, 0], [0, 0, 0, 1.0]])
    p = (x0 - 3 * x1) ** 2 + 3 * x0**4 + 2 * x0**3 * x1 + 2 * x0**2 * x1**2 + x1**4
    rounded_badly = R_num + 1e-4 * np.arange(16).reshape(4, 4) / 16                # off the affine space
    gram = F.exact_in_face(_terms(p), basis, B, rounded_badly, margin=0.5)
    assert gram is not None and X.verify_gram(_terms(p), basis, gram)[0]
    # x0² + x1² is outside this face (its only quadratic direction is x0 − 3x1): no certificate
    outside = x0**2 + x1**2 + 3 * x0**4 + x1**4
    assert F.exact_in_face(_terms(outside), basis, B, R_num, margin=0.5) is None


def test_fixed_epsilon_keeps_one_power_of_two_per_variable():
    params = {0: (0, 2), 1: (0, 4), 2: (1, 4), 3: (1, 2)}
    chosen = fixed_epsilon(params, np.array([1e-9, 1.5, 0.3, 0.01]))
    assert chosen == {0: (4, Q(1, 2)), 1: (4, Q(1, 8))}
    assert fixed_epsilon(params, np.array([0.0, -1e-9, 0.3, 0.01])) == {}


# --- the diagonally dominant stage (partial facial reduction by LP) -------------------------------------------
def test_dd_kernel_finds_only_vectors_that_every_gram_matrix_annihilates():
    # p = (x0 − x1)² + (x0² − x0·x1)² + x1⁴ in the basis x0, x1, x0², x0x1, x1²: one Gram matrix is the sum of
    # three rank-one terms, and every vector the LP reports must be in its kernel (a kernel of *every* Gram matrix)
    x0, x1 = ring(2).gens()
    p = (x0 - x1) ** 2 + (x0**2 - x0 * x1) ** 2 + x1**4
    basis = np.array([[1, 0], [0, 1], [2, 0], [1, 1], [0, 2]])
    u = [Q(1), Q(-1), Q(0), Q(0), Q(0)]
    w = [Q(0), Q(0), Q(1), Q(-1), Q(0)]
    e = [Q(0), Q(0), Q(0), Q(0), Q(1)]
    gram = [[u[a] * u[b] + w[a] * w[b] + e[a] * e[b] for b in range(5)] for a in range(5)]
    assert X.verify_gram(_terms(p), basis, gram)[0]
    kernel = L.dd_kernel({k: float(v) for k, v in _terms(p).items()}, basis)
    assert kernel, "the face of (x0 − x1)² is diagonally dominant: the LP must find it"
    for vector in kernel:
        assert all(sum(gram[a][b] * vector[b] for b in range(5)) == 0 for a in range(5))
    nullspace = L.rational_nullspace(kernel, 5)
    assert len(nullspace) == 5 - len(kernel)
    assert all(sum(k * v for k, v in zip(kv, nv)) == 0 for kv in kernel for nv in nullspace)


def test_dd_kernel_finds_no_kernel_when_a_gram_matrix_is_positive_definite():
    x0, x1 = ring(2).gens()
    p = x0**2 + x1**2 + x0**4 + x0**2 * x1**2 + x1**4            # the identity is one of its Gram matrices
    basis = np.array([[1, 0], [0, 1], [2, 0], [1, 1], [0, 2]])
    assert L.dd_kernel({k: float(v) for k, v in _terms(p).items()}, basis) is None


def test_dd_stage_never_certifies_a_nonnegative_polynomial_that_is_not_sos():
    x0, x1, x2 = ring(3).gens()
    motzkin = x0**4 * x1**2 + x0**2 * x1**4 + x2**6 - 3 * x0**2 * x1**2 * x2**2
    terms = _terms(motzkin)
    basis = half_newton_basis(np.array(list(terms)), prune=False)
    assert L.dd_face_certificate(terms, basis, [np.eye(len(basis))]) is None


def test_a_scaled_dd_lp_finds_the_kernel_that_plain_diagonal_dominance_cannot():
    # (x0 − 3x1)² sends (3, 1) to 0: S = (3, 1)(3, 1)ᵀ is not diagonally dominant (1 < 3), D·S·D is for
    # D = diag(1, 3), which √Q_aa of a Gram matrix gives
    x0, x1 = ring(2).gens()
    p = (x0 - 3 * x1) ** 2 + x0**4 + x1**4
    basis = np.array([[1, 0], [0, 1], [2, 0], [1, 1], [0, 2]])
    u = [Q(1), Q(-3), Q(0), Q(0), Q(0)]
    gram = [[u[a] * u[b] + (Q(1) if a == b and a in (2, 4) else Q(0)) for b in range(5)] for a in range(5)]
    assert X.verify_gram(_terms(p), basis, gram)[0]
    terms = {k: float(v) for k, v in _terms(p).items()}
    assert L.dd_kernel(terms, basis) is None
    scale = np.sqrt(np.array([float(gram[a][a]) for a in range(5)]) + 1e-9)
    kernel = L.dd_kernel(terms, basis, scale=scale)
    assert kernel and any(v[0] != 0 and v[1] == v[0] / 3 for v in kernel)
    for vector in kernel:
        assert all(sum(gram[a][b] * vector[b] for b in range(5)) == 0 for a in range(5))


@pytest.mark.parametrize("line", [23, 76, 159, 197])
def test_bpoly_vs_with_deep_faces_are_proved_through_the_dd_stage(line, tmp_path):
    # the generator's own V of these systems of our bpoly test set: undecided at 60 and 150 s before the
    # diagonally dominant stage (its positivity had no face the solver's spectra showed), now seconds
    from pathlib import Path

    from seq2math.lyapunov.batch import parse_benchmark_line
    path = Path(__file__).parent / "data" / "lyapunov-bpoly-test200.txt"
    _, system, V = parse_benchmark_line(path.read_text().splitlines()[line - 1], str(path), line)
    result = check_candidate(system, V, "lyapunov", timeout=60, certificate=True)
    assert result.valid is True and result.proof == "sos-exact", result.reason
    parts = {part["name"]: part for part in result.certificate["conditions"]}
    assert parts["positive"].get("reduction") == "facial"
    from seq2math.lyapunov.check import as_polynomials
    polys = as_polynomials(system, V)
    document = C.certificate_document(polys[0], polys[1], "lyapunov", result.certificate["conditions"])
    ok, why = C.recheck(C.load(C.save(tmp_path / "dd.json", document)))
    assert ok, why

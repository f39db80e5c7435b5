"""Linear-algebra and roots tasks: layouts, verifiers (correct, perturbed, adversarial), options, human form."""

from __future__ import annotations

import numpy as np
import pytest

from seq2math.config import ConfigError
from seq2math.data.generation import generate_example
from seq2math.tasks.base import make_task
from seq2math.tasks.numeric import TOLERANCES
from seq2math.tokens.matrices import encode_matrix, encode_vector, read_array

LINALG = ["transpose", "add", "matvec", "matmul", "eigenvalues", "eigenvectors", "singular-values", "svd", "inverse"]
RECTANGULAR = {"transpose": (3, 5), "add": (4, 2), "matvec": (3, 4), "matmul": (4, 3), "singular-values": (5, 3),
               "svd": (3, 4)}


def examples(task, count=20, seed=0):
    return [generate_example(task, seed, i) for i in range(count)]


def decode_answer(task, tokens):
    return read_array(tokens, 0, task.output_encoding)[0]


def encode_answer(task, values):
    return (encode_matrix if np.ndim(values) == 2 else encode_vector)(values, task.output_encoding)


@pytest.mark.parametrize("name", LINALG)
def test_written_targets_pass_and_have_the_documented_layout(name):
    rows, cols = RECTANGULAR.get(name, (4, 4))
    task = make_task(name, {"rows": rows, "cols": cols})
    vocabulary = set(task.vocabulary())
    for source, target in examples(task):
        verdict = task.verify(source, target)
        assert verdict.valid and verdict.scores["5%"], verdict
        if name != "inverse":  # 3-digit rounding of M and P costs up to ~0.3% cond(M) there
            assert verdict.scores["0.5%"], verdict
        assert set(source) | set(target) <= vocabulary
        assert task.size_key(source) == f"{rows}x{cols}"
        operands = task.decode_source(source)
        answer = decode_answer(task, target)
        assert answer.shape == task.target_shape(rows, cols)
        m = operands[0]
        if name == "transpose":
            assert np.array_equal(answer, m.T)
        elif name == "matvec":
            assert operands[1].shape == (rows,) and answer.shape == (cols,)
        elif name == "singular-values":
            assert np.allclose(answer, np.linalg.svd(m, compute_uv=False) ** 2, rtol=0.02)
        elif name == "svd":
            k = min(rows, cols)
            s, u, v = answer[0], answer[1:rows + 1], answer[rows + 1:]
            assert np.allclose(u.T @ m @ v, np.diag(s), atol=0.05 * s.max()) and k == len(s)


def relative_l1(a, b):
    return np.abs(a - b).sum() / np.abs(b).sum()


#: the exact answers, written here with numpy alone (docs/tasks.md conventions: matvec is v^T M, matmul is
#: M^T P, eigenvalues and squared singular values in descending order), not with the tasks' own solve
NUMPY_ANSWER = {
    "transpose": lambda m: m.T,
    "add": lambda m, p: m + p,
    "matvec": lambda m, v: np.einsum("ij,i->j", m, v),
    "matmul": lambda m, p: np.einsum("ki,kj->ij", m, p),
    "eigenvalues": lambda m: np.sort(np.linalg.eigvals(m).real)[::-1],
    "singular-values": lambda m: np.linalg.svd(m, compute_uv=False) ** 2,
}


@pytest.mark.parametrize("name", ["transpose", "add", "matvec", "matmul", "eigenvalues", "singular-values"])
def test_perturbed_answers_fail_at_the_right_tolerance(name):
    """verify agrees, tolerance by tolerance, with the relative L1 error computed here with numpy."""
    task = make_task(name, {"dim": 4})
    rng = np.random.default_rng(7)
    bands_seen = set()
    for source, target in examples(task, 10):
        reference = decode_answer(task, target)
        exact = NUMPY_ANSWER[name](*task.decode_source(source))  # recomputed from the rounded input
        for size in (0.003, 0.008, 0.015, 0.03, 0.08):
            wrong = reference * (1 + size * rng.choice([-1.0, 1.0], size=reference.shape))
            tokens = encode_answer(task, wrong)
            error = relative_l1(decode_answer(task, tokens), exact)
            verdict = task.verify(source, tokens)
            assert verdict.error == pytest.approx(error, rel=1e-9, abs=1e-12)
            assert verdict.scores == {m: bool(error <= tol) for m, tol in TOLERANCES.items()}
            bands_seen.add(sum(verdict.scores.values()))
    assert bands_seen >= {0, 1, 2, 3}  # the perturbations land between every pair of tolerances


@pytest.mark.parametrize("name", LINALG)
def test_zero_rescaled_and_malformed_answers_fail(name):
    task = make_task(name, {"dim": 4})
    source, target = examples(task, 1, seed=3)[0]
    answer = decode_answer(task, target)
    for wrong in (np.zeros_like(answer), 2 * answer, 0.9 * answer, -answer):
        verdict = task.verify(source, encode_answer(task, wrong))
        assert verdict.valid and not any(verdict.scores.values()), (wrong, verdict)
    verdict = task.verify(source, target[:-1])
    assert not verdict.valid and "token" in verdict.reason and not any(verdict.scores.values())
    bad = list(target)
    bad[3] = "E-x" if bad[3] != "E-x" else "E-y"
    assert not task.verify(source, bad).valid
    wrong_shape = np.ones((3, 5)) if answer.ndim == 2 else np.ones(len(answer) + 1)
    verdict = task.verify(source, encode_answer(task, wrong_shape))
    assert verdict.valid and not any(verdict.scores.values()) and "shape" in verdict.reason


def test_eigenvector_adversaries():
    task = make_task("eigenvectors", {"dim": 5})
    source, target = examples(task, 1, seed=11)[0]
    answer = decode_answer(task, target)
    eigenvalues, q = answer[0], answer[1:]
    matrix = task.decode_source(source)[0]

    def verdict(values, vectors):
        return task.verify(source, encode_answer(task, np.vstack([values, vectors])))

    flips = np.array([1, -1, 1, -1, -1.0])[:, None]
    assert verdict(eigenvalues, flips * q).scores["0.5%"]  # eigenvectors are defined up to sign
    assert not any(verdict(eigenvalues, 2 * q).scores.values())  # rescaled: not orthonormal
    assert not any(verdict(eigenvalues, q[[1, 0, 2, 3, 4]]).scores.values())  # rows out of order
    assert not any(verdict(eigenvalues[::-1], q[::-1]).scores.values())  # consistent but ascending
    assert not any(verdict(eigenvalues, np.eye(5)).scores.values())  # orthonormal, wrong basis
    assert not any(verdict(np.zeros(5), np.zeros((5, 5))).scores.values())
    # the right spectrum, orthonormal Q, but for another matrix: reconstruction catches it
    other = np.linalg.qr(np.random.default_rng(0).normal(size=(5, 5)))[0].T
    result = verdict(eigenvalues, other)
    assert not result.scores["5%"] and result.details["reconstruction"] > 0.05
    assert result.details["spectrum"] < 0.005 and result.details["orthonormality"] < 0.01
    # a "Lorentz boost" between a positive and a negative eigenvalue: R^T D R = D, so Q' = R Q
    # reconstructs M with the right spectrum, yet Q' is not orthonormal
    i, j = 0, len(eigenvalues) - 1
    assert eigenvalues[i] > 0 > eigenvalues[j]
    a, b, t = np.sqrt(eigenvalues[i]), np.sqrt(-eigenvalues[j]), 0.4
    boost = np.eye(5)
    boost[np.ix_([i, j], [i, j])] = np.diag([1 / a, 1 / b]) @ [[np.cosh(t), np.sinh(t)], [np.sinh(t), np.cosh(t)]] \
        @ np.diag([a, b])
    assert np.allclose(boost.T @ np.diag(eigenvalues) @ boost, np.diag(eigenvalues))
    result = verdict(eigenvalues, boost @ q)
    assert not result.scores["5%"] and result.details["reconstruction"] < 0.01 and result.details["spectrum"] < 0.01
    exact_values, exact_vectors = np.linalg.eigh(matrix)
    assert verdict(exact_values[::-1], exact_vectors[:, ::-1].T).scores["0.5%"]


def test_svd_adversaries():
    task = make_task("svd", {"rows": 4, "cols": 3})
    source, target = examples(task, 1, seed=5)[0]
    answer = decode_answer(task, target)
    s, u, v = answer[0], answer[1:5], answer[5:]

    def verdict(s_, u_, v_):
        return task.verify(source, encode_answer(task, np.vstack([s_, u_, v_])))

    assert verdict(s, u * [1, -1, 1], v * [1, -1, 1]).scores["0.5%"]  # u_i, v_i flipped together
    assert not any(verdict(s, u * [1, -1, 1], v).scores.values())  # u_i alone flipped
    assert not any(verdict(s, 2 * u, v / 2).scores.values())  # reconstructs, not orthonormal
    assert not any(verdict(s[::-1], u[:, ::-1], v[:, ::-1]).scores.values())  # not descending
    assert not any(verdict(s, u[:, [1, 0, 2]], v).scores.values())  # columns mismatched
    assert not any(verdict(np.zeros(3), np.zeros((4, 3)), np.zeros((3, 3))).scores.values())
    square = make_task("svd", {"dim": 3})
    source, target = examples(square, 1, seed=2)[0]
    answer = decode_answer(square, target)
    swapped = np.vstack([answer[0], answer[4:], answer[1:4]])  # U and V exchanged: that is the SVD of M^T
    assert not any(square.verify(source, encode_answer(square, swapped)).scores.values())


def test_inverse_is_scored_on_m_p_minus_identity():
    task = make_task("inverse", {"dim": 4})
    source, target = examples(task, 1, seed=9)[0]
    matrix = task.decode_source(source)[0]
    exact = np.linalg.inv(matrix)
    result = task.verify(source, encode_answer(task, exact))
    assert result.scores["5%"]
    assert result.error == pytest.approx(np.abs(matrix @ decode_answer(task, encode_answer(task, exact))
                                                - np.eye(4)).sum() / 4)
    for wrong in (matrix.T / np.linalg.norm(matrix) ** 2, 2 * exact, np.zeros((4, 4)), np.eye(4), exact.T):
        if np.allclose(wrong, exact, rtol=0.05):
            continue
        assert not task.verify(source, encode_answer(task, wrong)).scores["5%"]


def test_inverse_generation_rejects_ill_conditioned_matrices():
    task = make_task("inverse", {"dim": 5, "max_condition": 20})
    for source, _ in examples(task, 20):
        assert np.linalg.cond(task.decode_source(source)[0]) < 20 * 1.2  # rounding moves cond a little


@pytest.mark.parametrize("spectrum", ["semicircle", "uniform", "gaussian", "laplace", "positive", "marchenko-pastur"])
def test_spectra(spectrum):
    task = make_task("eigenvalues", {"dim": 6, "spectrum": spectrum})
    rng = np.random.default_rng(1)
    eigenvalues = np.concatenate([np.linalg.eigvalsh(task.draw_symmetric(rng, 6)) for _ in range(200)])
    radius = 2 * (10 / np.sqrt(3)) * np.sqrt(6)
    if spectrum in ("positive", "marchenko-pastur"):
        assert eigenvalues.min() >= -1e-9
    else:
        assert abs(eigenvalues.mean()) < 0.1 * radius
    if spectrum == "uniform":
        assert np.abs(eigenvalues).max() <= radius * (1 + 1e-9)
        assert np.var(eigenvalues) == pytest.approx(radius ** 2 / 3, rel=0.1)
    if spectrum in ("gaussian", "laplace"):
        assert np.var(eigenvalues) == pytest.approx(radius ** 2 / 4, rel=0.15)
    if spectrum == "laplace":  # heavier tails than the Gaussian with the same variance (kurtosis 6 vs 3)
        assert np.mean(eigenvalues ** 4) / np.var(eigenvalues) ** 2 > 4.5
    if spectrum == "marchenko-pastur":
        assert eigenvalues.mean() == pytest.approx(radius / 4, rel=0.1)  # E tr(A^T A / n) / n = sigma^2
    for source, target in examples(task, 5):
        assert task.verify(source, target).scores["0.5%"]


def test_gaussian_entries_have_the_uniform_variance():
    task = make_task("transpose", {"dim": 30, "distribution": "gaussian"})
    entries = task.draw_entries(np.random.default_rng(0), (200, 50))
    assert np.var(entries) == pytest.approx(100 / 3, rel=0.05)
    assert np.abs(entries).max() > 10  # not bounded like the uniform


def test_mixed_sizes_and_encodings():
    task = make_task("matmul", {"min_dim": 2, "max_dim": 5, "input_encoding": "P10", "output_encoding": "FP15"})
    shapes = set()
    for source, target in examples(task, 40):
        shapes.add(task.size_key(source))
        assert source[2] in ("+", "-") and len(target[2]) > 3 and target[2].startswith("N")
        assert task.verify(source, target).scores["0.5%"]
    assert len(shapes) > 8
    square = make_task("eigenvalues", {"min_dim": 2, "max_dim": 4})
    assert {square.size_key(s) for s, _ in examples(square, 30)} == {"2x2", "3x3", "4x4"}


@pytest.mark.parametrize("name, options, message", [
    ("eigenvalues", {"rows": 3, "cols": 4}, "needs square matrices"),
    ("inverse", {"rows": 2}, "needs square matrices"),
    ("transpose", {"spectrum": "laplace"}, "--spectrum only applies"),
    ("transpose", {"dim": 0}, "sizes must be >= 1"),
    ("add", {"min_dim": 3}, "give both --min-dim and --max-dim"),
    ("add", {"min_dim": 5, "max_dim": 3}, "min_dim <= max_dim"),
    ("add", {"encoding": "P100"}, "'P100' is not one of"),
    ("add", {"dimension": 3}, "unknown key"),
])
def test_bad_options_are_rejected(name, options, message):
    with pytest.raises(ConfigError, match=message):
        make_task(name, options)


def test_check_source_names_the_problem():
    task = make_task("eigenvalues", {"dim": 2})
    with pytest.raises(ValueError, match="symmetric.*entry \\(0,1\\) = 2 but \\(1,0\\) = 3"):
        task.check_source(encode_matrix([[1, 2], [3, 4]], task.input_encoding))
    with pytest.raises(ValueError, match="token 14 '\\+': unexpected token after the 1 operand"):
        task.check_source(encode_matrix([[1, 2], [2, 4]], task.input_encoding) + ["+"])
    add = make_task("add", {"dim": 2})
    with pytest.raises(ValueError, match="operand 2 has shape \\(2, 3\\), expected \\(2, 2\\)"):
        add.check_source(encode_matrix(np.ones((2, 2)), add.input_encoding)
                         + encode_matrix(np.ones((2, 3)), add.input_encoding))


def test_human_form():
    matvec = make_task("matvec", {"rows": 2, "cols": 3})
    source = matvec.from_human("[[1, 2, 3], [4, 5, 6]] ; [1, -1]")
    assert np.array_equal(matvec.solve(matvec.decode_source(source)), [-3.0, -3.0, -3.0])
    assert "[-3. -3. -3.]" in matvec.to_human(encode_vector([-3, -3, -3], matvec.output_encoding))
    with pytest.raises(ValueError, match="expects 2 operand"):
        matvec.from_human("[[1, 2, 3], [4, 5, 6]]")
    with pytest.raises(ValueError, match="operand 2 has shape \\(3,\\), expected \\(2,\\)"):
        matvec.from_human("[[1, 2, 3], [4, 5, 6]] ; [1, 2, 3]")
    with pytest.raises(ValueError, match="operand 1: cannot read"):
        matvec.from_human("[[1, 2, 3], [4, 5, x]] ; [1, 2]")
    with pytest.raises(ValueError, match="expected a vector"):
        matvec.from_human("[[1, 2, 3], [4, 5, 6]] ; [[1, 2]]")
    eig = make_task("eigenvalues")
    with pytest.raises(ValueError, match="symmetric"):
        eig.from_human("[[1, 2], [3, 4]]")
    assert eig.verify(eig.from_human("[[2, 1], [1, 2]]"), encode_vector([3, 1], eig.output_encoding)).scores["0.5%"]


# ---- roots -----------------------------------------------------------------------------------

@pytest.mark.parametrize("representation", ["expanded", "factored"])
def test_roots_targets_and_representations_agree(representation):
    task = make_task("roots", {"representation": representation, "degree": 6})
    expanded = make_task("roots", {"representation": "expanded", "degree": 6})
    for (source, target), (source_e, target_e) in zip(examples(task, 30), examples(expanded, 30)):
        assert target == target_e  # same seed: same polynomial in either representation
        assert task.decode_source(source) == expanded.decode_source(source_e)
        coefficients = np.array(expanded.decode_source(source_e), dtype=float)
        roots = decode_answer(task, target)
        assert np.all(np.diff(roots) > 0)
        assert np.all(np.abs(np.polyval(coefficients, roots)) <= np.abs(np.polyval(np.abs(coefficients), np.abs(roots)))
                      * 0.05)
        assert task.verify(source, target).scores["0.5%"]
        assert not task.verify(source, encode_answer(task, np.where(roots == 0, 0.5, roots * 1.12))).scores["5%"]
        assert not task.verify(source, encode_answer(task, roots[:-1])).scores["5%"]  # a root missing


def test_roots_human_form_and_errors():
    task = make_task("roots", {"representation": "factored"})
    source = task.from_human("2*(x^2+1)*(x-3)*(3*x+2)")
    assert task.to_human(source) == "6*x^4 - 14*x^3 - 6*x^2 - 14*x - 12"
    # the generator's order of factors, whatever the order typed: linear ones by increasing root, then the rest
    assert source == task.from_human("(x-3)*(x^2+1)*2*(3*x+2)")
    assert source[2:] == ["V2", "INT+", "3", "INT+", "2", "V2", "INT+", "1", "INT-", "3",
                          "V3", "INT+", "1", "INT+", "0", "INT+", "1"]
    assert task.verify(source, ["V2", "-", "667", "E-3", "+", "300", "E-2"]).scores["0.5%"]
    assert not task.verify(source, ["V2", "-", "667", "E-3", "+", "300", "E-1"]).scores["5%"]
    with pytest.raises(ValueError, match="integer coefficients"):
        task.from_human("x^2 - 0.5")
    with pytest.raises(ValueError, match="token 7 'Q': expected a coefficient count"):
        task.check_source(["INT+", "2", "V2", "INT+", "1", "INT+", "1", "Q"])
    expanded = make_task("roots")
    with pytest.raises(ValueError, match="token 1: the leading coefficient must not be zero"):
        expanded.check_source(["V2", "INT+", "0", "INT+", "1"])
    with pytest.raises(ConfigError, match="min_degree"):
        make_task("roots", {"min_degree": 4, "degree": 3})


def test_log_uniform_entries_cover_every_decade_and_cost_nothing_when_off():
    from seq2math.tasks.random_matrices import mix_log_uniform

    rng = np.random.default_rng(0)
    base = rng.uniform(-10, 10, (200, 50))
    state = rng.bit_generator.state
    assert mix_log_uniform(rng, base, 0.0, 1e-4, 100) is base and rng.bit_generator.state == state
    mixed = mix_log_uniform(rng, base, 0.3, 1e-4, 100)
    changed = mixed != base
    assert 0.27 < changed.mean() < 0.33
    magnitudes = np.abs(mixed[changed])
    assert magnitudes.min() >= 1e-4 and magnitudes.max() <= 100
    decades = np.histogram(np.log10(magnitudes), bins=6, range=(-4, 2))[0] / magnitudes.size
    assert np.all(np.abs(decades - 1 / 6) < 0.03)
    assert 0.45 < (mixed[changed] < 0).mean() < 0.55


def test_log_fraction_is_checked_and_default_data_is_unchanged():
    with pytest.raises(ConfigError, match="log_fraction"):
        make_task("transpose", {"log_fraction": 1.5})
    with pytest.raises(ConfigError, match="iid entries"):
        make_task("eigenvalues", {"log_fraction": 0.1})
    plain, off = make_task("matmul", {"dim": 3}), make_task("matmul", {"dim": 3, "log_fraction": 0.0})
    assert plain.generate(np.random.default_rng(5)) == off.generate(np.random.default_rng(5))
    on = make_task("matmul", {"dim": 3, "log_fraction": 0.5})
    assert on.generate(np.random.default_rng(5)) != plain.generate(np.random.default_rng(5))

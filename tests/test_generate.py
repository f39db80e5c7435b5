"""`seq2math generate` end to end, checked with a decoder written here independently of the package.

Targets are computed on the unrounded input, so a target recomputed from the decoded
(3-digit) input differs from the written one by the output rounding (<= 0.5% of each
entry) plus the effect of the input rounding (<= 0.5% of each input entry), propagated
with textbook perturbation bounds: entrywise for products, Weyl for eigenvalues and
singular values, Davis-Kahan / Wedin for eigenvectors and singular vectors, and
||dP|| <= ||P||^2 ||dM|| / (1 - ||P|| ||dM||) for the inverse.
"""

from __future__ import annotations

import json
import re

import numpy as np
import pytest

from seq2math.cli import main
from seq2math.data.files import read_examples
from seq2math.tasks.base import DataFormatError, make_task

ENCODING_NAMES = ["P10", "P1000", "B1999", "FP15"]
SHAPES = {"transpose": (3, 5), "add": (4, 3), "matvec": (3, 4), "matmul": (4, 3), "eigenvalues": (5, 5),
          "eigenvectors": (4, 4), "singular-values": (5, 3), "svd": (3, 5), "inverse": (4, 4)}
OPERANDS = {"add": 2, "matvec": 2, "matmul": 2}


# ---- an independent decoder ----------------------------------------------------------------

def read_number(tokens: list[str], i: int, encoding: str) -> tuple[float, int]:
    if encoding == "P10":
        sign = -1.0 if tokens[i] == "-" else 1.0
        return sign * int("".join(tokens[i + 1:i + 4])) * 10.0 ** int(tokens[i + 4][1:]), i + 5
    if encoding == "P1000":
        sign = -1.0 if tokens[i] == "-" else 1.0
        return sign * int(tokens[i + 1]) * 10.0 ** int(tokens[i + 2][1:]), i + 3
    if encoding == "B1999":
        return int(tokens[i][1:]) * 10.0 ** int(tokens[i + 1][1:]), i + 2
    if encoding == "FP15":
        if tokens[i] in ("Ninf", "N-inf"):
            return (np.inf if tokens[i] == "Ninf" else -np.inf), i + 1
        mantissa, exponent = re.fullmatch(r"N(-?\d+)e(\d+)", tokens[i]).groups()
        return int(mantissa) * 10.0 ** (int(exponent) - 9), i + 1
    assert encoding == "INT" and tokens[i] in ("INT+", "INT-")
    j, value = i + 1, 0
    while j < len(tokens) and tokens[j].isdigit():
        value, j = value * 1000 + int(tokens[j]), j + 1
    return (-value if tokens[i] == "INT-" else value), j


def read_arrays(tokens: list[str], encoding: str) -> list[np.ndarray]:
    """Every ``V m V n ...`` matrix and ``V n ...`` vector of a token list, in order."""
    arrays, i = [], 0
    while i < len(tokens):
        if tokens[i + 1].startswith("V"):
            shape, i = (int(tokens[i][1:]), int(tokens[i + 1][1:])), i + 2
        else:
            shape, i = (int(tokens[i][1:]),), i + 1
        values = []
        for _ in range(int(np.prod(shape))):
            value, i = read_number(tokens, i, encoding)
            values.append(value)
        arrays.append(np.array(values, dtype=float).reshape(shape))
    return arrays


def read_file(path) -> list[tuple[list[str], list[str]]]:
    lines = path.read_text().split("\n")
    assert lines[-1] == ""
    return [(source.split(" "), target.split(" ")) for source, target in (line.split("\t") for line in lines[:-1])]


# ---- what the written target must be, within rounding --------------------------------------

def rounding_error(array: np.ndarray) -> np.ndarray:
    """Bound on |true - rounded| per entry: half a unit of the third digit (+ FP15 subnormal step)."""
    return 5e-3 * np.abs(array) + 1e-9


def vector_bound(values: np.ndarray, perturbation: float) -> np.ndarray:
    """Davis-Kahan/Wedin: bound on ||v_true - (+-)v_rec||_2 per column (inf where the gap is too small)."""
    gaps = np.array([np.min(np.abs(np.delete(values, k) - values[k]), initial=np.inf) for k in range(len(values))])
    usable = gaps - perturbation
    return np.where(usable > 10 * perturbation, np.sqrt(2) * perturbation / np.maximum(usable, 1e-300), np.inf)


def check_vectors(written: np.ndarray, recomputed: np.ndarray, bounds: np.ndarray, paired=None) -> int:
    """Columns of ``written`` equal +-columns of ``recomputed`` within bound + output rounding."""
    checked = 0
    for k in np.flatnonzero(np.isfinite(bounds)):
        errors = [np.abs(written[:, k] - s * recomputed[:, k]) - rounding_error(written[:, k]) for s in (1, -1)]
        if paired is not None:
            errors = [np.concatenate([e, np.abs(paired[0][:, k] - s * paired[1][:, k]) - rounding_error(paired[0][:, k])])
                      for e, s in zip(errors, (1, -1))]
        assert min(e.max() for e in errors) <= bounds[k] + 1e-9
        checked += 1
    return checked


def check_target(task: str, operands: list[np.ndarray], written: np.ndarray) -> int:
    """Assert the written target agrees with numpy; returns how many vector checks ran."""
    m = operands[0]
    dm = rounding_error(m)
    size = np.linalg.norm(dm)  # ||dM||_2 <= ||dM||_F
    bound, checked = None, 0
    if task == "transpose":
        recomputed, bound = m.T, dm.T
    elif task == "add":
        recomputed, bound = m + operands[1], dm + rounding_error(operands[1])
    elif task in ("matvec", "matmul"):
        other, d_other = operands[1], rounding_error(operands[1])
        recomputed = m.T @ other
        bound = (np.abs(m) + dm).T @ (np.abs(other) + d_other) - np.abs(m).T @ np.abs(other)
    elif task == "eigenvalues":
        recomputed, bound = np.sort(np.linalg.eigvalsh(m))[::-1], size
    elif task == "singular-values":
        recomputed = np.sort(np.linalg.eigvalsh(m.T @ m))[::-1]
        bound = 2 * np.linalg.norm(m, 2) * size + size ** 2
    elif task == "inverse":
        recomputed = np.linalg.inv(m)
        p = np.linalg.norm(recomputed, 2)
        if p * size >= 0.5:
            return 0
        bound = p ** 2 * size / (1 - p * size)
    elif task == "eigenvectors":
        values, vectors = np.linalg.eigh(m)
        values, vectors = values[::-1], vectors[:, ::-1]
        assert np.all(np.abs(written[0] - values) <= rounding_error(written[0]) + size)
        return check_vectors(written[1:].T, vectors, vector_bound(values, size))
    elif task == "svd":
        u, s, vt = np.linalg.svd(m, full_matrices=False)
        rows = m.shape[0]
        assert np.all(np.abs(written[0] - s) <= rounding_error(written[0]) + size)
        gap_values = np.append(s, 0.0) if m.shape[0] != m.shape[1] else s  # rectangular: gap to the null space
        bounds = vector_bound(gap_values, size)[:len(s)]
        return check_vectors(written[rows + 1:], vt.T, bounds, paired=(written[1:rows + 1], u))
    assert written.shape == recomputed.shape
    assert np.all(np.abs(written - recomputed) <= rounding_error(written) + bound + 1e-12 * np.abs(recomputed).max())
    return checked + 1


def generate(tmp_path, name: str, *options: str) -> object:
    out = tmp_path / f"{name}-{len(list(tmp_path.iterdir()))}.txt"
    assert main(["generate", name, *options, "--out", str(out), "--quiet"]) == 0
    return out


# ---- the tests ---------------------------------------------------------------------------------

def test_the_issue_command_writes_1000_checked_lines(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    assert main(["generate", "eigenvalues", "--dim", "5", "--encoding", "P1000", "--count", "1000", "--seed", "1",
                 "--out", "ev.txt", "--quiet"]) == 0
    examples = read_file(tmp_path / "ev.txt")
    assert len(examples) == 1000
    for source, target in examples:
        (matrix,) = read_arrays(source, "P1000")
        (eigenvalues,) = read_arrays(target, "P1000")
        assert matrix.shape == (5, 5) and np.array_equal(matrix, matrix.T) and len(source) == 2 + 25 * 3
        check_target("eigenvalues", [matrix], eigenvalues)
    config = json.loads((tmp_path / "ev.txt.config.json").read_text())
    assert config["task"] == "eigenvalues" and config["seed"] == 1 and config["config"]["dim"] == 5
    assert "--count 1000" in config["command"]


@pytest.mark.parametrize("encoding", ENCODING_NAMES)
@pytest.mark.parametrize("task", list(SHAPES))
def test_every_task_and_encoding_agrees_with_numpy(tmp_path, task, encoding):
    rows, cols = SHAPES[task]
    path = generate(tmp_path, task, "--rows", str(rows), "--cols", str(cols), "--encoding", encoding,
                    "--count", "12", "--seed", "4")
    checked = 0
    for source, target in read_file(path):
        operands = read_arrays(source, encoding)
        assert len(operands) == OPERANDS.get(task, 1) and operands[0].shape == (rows, cols)
        (written,) = read_arrays(target, encoding)
        checked += check_target(task, operands, written)
    assert checked >= 12  # the perturbation bounds were tight enough to check most entries


@pytest.mark.parametrize("encoding", ENCODING_NAMES)
@pytest.mark.parametrize("representation", ["expanded", "factored"])
def test_roots_agree_with_numpy(tmp_path, encoding, representation):
    path = generate(tmp_path, "roots", "--representation", representation, "--encoding", encoding, "--count", "12")
    for source, target in read_file(path):
        if representation == "expanded":
            coefficients, end = [], 1
            while end < len(source):
                value, end = read_number(source, end, "INT")
                coefficients.append(value)
        else:
            leading, end = read_number(source, 0, "INT")
            polynomial = np.array([float(leading)])
            while end < len(source):
                count, factor, end = int(source[end][1:]), [], end + 1
                for _ in range(count):
                    value, end = read_number(source, end, "INT")
                    factor.append(value)
                polynomial = np.polymul(polynomial, factor)
            coefficients = list(polynomial)
        roots = np.roots(coefficients)
        real = np.sort(roots[np.abs(roots.imag) < 1e-6].real)
        (written,) = read_arrays(target, encoding)
        assert len(written) == len(real) and np.all(np.abs(written - real) <= rounding_error(written) + 1e-9)


def test_malformed_line_is_reported_with_its_number(tmp_path, capsys):
    path = generate(tmp_path, "transpose", "--dim", "3", "--count", "20")
    lines = path.read_text().split("\n")
    lines[6] = lines[6].replace("E", "X", 1)  # line 7
    lines[11] = lines[11].replace("\t", " ")  # line 12
    path.write_text("\n".join(lines))
    task = make_task("transpose", {"dim": 3})
    with pytest.raises(DataFormatError) as info:
        list(read_examples(task, path))
    assert f"{path}:7: token " in str(info.value) and "expected an exponent token" in str(info.value)
    kept = [number for number, _, _ in read_examples(task, path, on_error="skip")]
    assert kept == [n for n in range(1, 21) if n not in (7, 12)]
    err = capsys.readouterr().err
    assert f"{path}:7" in err and f"{path}:12" in err
    assert main(["demo", "--check", str(path)]) == 2
    assert f"{path}:7: token" in capsys.readouterr().err


def test_same_seed_same_bytes_whatever_the_workers(tmp_path):
    options = ("--dim", "4", "--count", "150", "--seed", "9")
    one = generate(tmp_path, "svd", *options, "--workers", "1")
    two = generate(tmp_path, "svd", *options, "--workers", "2")
    other_seed = generate(tmp_path, "svd", "--dim", "4", "--count", "150", "--seed", "10")
    assert one.read_bytes() == two.read_bytes() != other_seed.read_bytes()
    assert len(one.read_text().splitlines()) == 150


def test_chunks_of_any_size_join_to_the_same_bytes_and_workers_get_about_sixteen_each():
    from seq2math.data.generation import chunk_size, iter_lines
    from seq2math.tasks.base import make_task

    task = make_task("transpose", {"dim": 2})
    single = list(iter_lines(task, 2100, seed=3, workers=1))
    assert {lines for lines, _ in single[:-1]} == {64}
    expected = b"".join(text for _, text in single)
    assert expected.count(b"\n") == 2100
    for chunk in (None, 7, 1000):
        parts = list(iter_lines(task, 2100, seed=3, start=0, workers=2, chunk=chunk))
        assert b"".join(text for _, text in parts) == expected
        assert sum(lines for lines, _ in parts) == 2100
    assert chunk_size(100, 2) == 64 and chunk_size(32_000, 2) == 1000 and chunk_size(10**7, 2) == 1024
    assert chunk_size(10**7, 1) == 64


def test_resume_after_truncation_gives_the_identical_file(tmp_path, capsys):
    full = generate(tmp_path, "inverse", "--dim", "3", "--count", "90", "--seed", "2")
    partial = tmp_path / "partial.txt"
    args = ["generate", "inverse", "--dim", "3", "--count", "90", "--seed", "2", "--out", str(partial), "--quiet"]
    assert main(args) == 0
    data = full.read_bytes()
    partial.write_bytes(data[: data.index(b"\n", len(data) // 3) + 25])  # cut in the middle of a line
    assert main(args) == 2 and "exists; pass --resume" in capsys.readouterr().err
    assert main(args + ["--resume"]) == 0
    assert partial.read_bytes() == data
    assert main(args[:7] + ["3"] + args[8:] + ["--resume"]) == 2  # another seed: refuse to mix
    assert "--resume" in capsys.readouterr().err


def test_jsonl_format(tmp_path):
    plain = generate(tmp_path, "matvec", "--dim", "3", "--count", "10")
    jsonl = generate(tmp_path, "matvec", "--dim", "3", "--count", "10", "--format", "jsonl")
    records = [json.loads(line) for line in jsonl.read_text().splitlines()]
    assert [(r["input"].split(" "), r["target"].split(" ")) for r in records] == read_file(plain)
    task = make_task("matvec", {"dim": 3})
    assert [e[1:] for e in read_examples(task, jsonl)] == [e[1:] for e in read_examples(task, plain)]


def test_demo_runs_and_checks(tmp_path, capsys):
    assert main(["demo", "--out", str(tmp_path / "demo"), "--count", "30"]) == 0
    out = capsys.readouterr().out
    assert "every target passes at 5% and every wrong answer fails" in out
    assert "eigenvalues-5x5-P1000" in out and (tmp_path / "demo" / "config.json").exists()

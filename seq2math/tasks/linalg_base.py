"""``LinalgTask``: the shared machinery of the nine linear-algebra tasks (``seq2math.tasks.linalg``).

A subclass names its operands (``operands``: matrices and vectors), says whether its matrix is
square or symmetric, and gives ``solve`` (the reference answer, float64) and ``target_shape``;
it overrides ``error`` when the relative L1 error of the answer is not the right score. This
class does the rest: options and their validation, sampling (``seq2math.tasks.random_matrices``),
the token layout (``V{rows} V{cols}`` + row-major entries, a vector ``V{n}`` + entries;
docs/formats.md), reading and checking a source, scoring an answer at the tolerances of
``seq2math.tasks.numeric``, and the human form.

Human form (``from_human``): Python-style nested lists, operands separated by ``;``:
``[[1, 2], [3, 4]]`` or, for add/matmul, ``[[1, 2], [3, 4]] ; [[5, 6], [7, 8]]``, and for
matvec ``[[1, 2], [3, 4]] ; [5, 6]``.
"""

from __future__ import annotations

import ast
from dataclasses import dataclass, field
from typing import ClassVar, Literal

import numpy as np

from seq2math.config import ConfigError
from seq2math.tasks.base import Task, Verdict
from seq2math.tasks.numeric import TOLERANCES, EncodingName, relative_l1
from seq2math.tasks.random_matrices import draw_entries, draw_symmetric, mix_log_uniform
from seq2math.tokens.matrices import (
    dimension_vocabulary,
    encode_matrix,
    encode_vector,
    read_array,
    read_matrix,
    read_vector,
)
from seq2math.tokens.numbers import get_encoding

Spectrum = Literal["semicircle", "uniform", "gaussian", "laplace", "positive", "marchenko-pastur"]


@dataclass
class LinalgOptions:
    dim: int = field(default=5, metadata={"help": "size of square matrices"})
    rows: int | None = field(default=None, metadata={"help": "rows m of M (overrides --dim)"})
    cols: int | None = field(default=None, metadata={"help": "columns n of M (overrides --dim)"})
    min_dim: int | None = field(default=None, metadata={"help": "mixed sizes: smallest size drawn"})
    max_dim: int | None = field(default=None, metadata={"help": "mixed sizes: largest size drawn"})
    encoding: EncodingName = field(default="P1000", metadata={"help": "number encoding of input and output"})
    input_encoding: EncodingName | None = field(default=None, metadata={"help": "input encoding (overrides --encoding)"})
    output_encoding: EncodingName | None = field(default=None, metadata={"help": "output encoding (overrides --encoding)"})
    distribution: Literal["uniform", "gaussian"] = field(
        default="uniform", metadata={"help": "entries uniform in [-a, a] or gaussian with the same variance"})
    max_coefficient: float = field(default=10.0, metadata={"help": "a: bound of uniform entries"})
    log_fraction: float = field(default=0.0, metadata={
        "help": "fraction of entries drawn instead with a log-uniform magnitude on [log_min, log_max] "
                "(random sign): rare exponents become common; typically a training-stream option "
                "(train.task_options.log_fraction=0.05)"})
    log_min: float = field(default=1e-4, metadata={"help": "smallest magnitude of log-uniform entries"})
    log_max: float = field(default=100.0, metadata={"help": "largest magnitude of log-uniform entries"})
    spectrum: Spectrum = field(default="semicircle", metadata={
        "help": "eigenvalue/eigenvector tasks: semicircle (Wigner matrix of iid entries), uniform, gaussian, "
                "laplace, positive (|Wigner eigenvalues|) or marchenko-pastur (scaled A^T A)"})
    max_condition: float = field(default=100.0, metadata={
        "help": "inverse: reject matrices with a larger 2-norm condition number"})


class LinalgTask(Task):
    """Shared machinery: options, sampling, token layout, checking."""

    Options = LinalgOptions
    metrics = tuple(TOLERANCES)
    primary_metric = "5%"
    square_only: ClassVar[bool] = False
    symmetric: ClassVar[bool] = False
    #: operand kinds in the source, in order
    operands: ClassVar[tuple[str, ...]] = ("matrix",)

    # ---- options ------------------------------------------------------------------------
    def validate_options(self) -> None:
        o = self.options
        sizes = [o.dim, o.rows, o.cols, o.min_dim, o.max_dim]
        if any(s is not None and s < 1 for s in sizes):
            raise ConfigError(f"task {self.name}: sizes must be >= 1, got dim={o.dim} rows={o.rows} cols={o.cols} "
                              f"min_dim={o.min_dim} max_dim={o.max_dim}")
        if (o.min_dim is None) != (o.max_dim is None):
            raise ConfigError(f"task {self.name}: give both --min-dim and --max-dim, or neither")
        if o.min_dim is not None and (o.min_dim > o.max_dim or o.rows or o.cols):
            raise ConfigError(f"task {self.name}: need min_dim <= max_dim and no --rows/--cols with them")
        if self.square_only and self.shape_bounds()[0] != self.shape_bounds()[1]:
            raise ConfigError(f"task {self.name} needs square matrices; got rows={o.rows} cols={o.cols}")
        if o.spectrum != "semicircle" and not self.symmetric:
            raise ConfigError(f"task {self.name}: --spectrum only applies to eigenvalues and eigenvectors")
        if not 0 <= o.log_fraction <= 1 or not 0 < o.log_min < o.log_max:
            raise ConfigError(f"task {self.name}: need 0 <= log_fraction <= 1 and 0 < log_min < log_max, got "
                              f"{o.log_fraction}, {o.log_min}, {o.log_max}")
        if o.log_fraction > 0 and self.symmetric:
            raise ConfigError(f"task {self.name}: --log-fraction applies to tasks with iid entries; "
                              f"{self.name} draws a symmetric matrix from its --spectrum")
        if o.max_coefficient <= 0 or o.max_condition <= 1:
            raise ConfigError(f"task {self.name}: need max_coefficient > 0 and max_condition > 1")
        self.input_encoding = get_encoding(o.input_encoding or o.encoding)
        self.output_encoding = get_encoding(o.output_encoding or o.encoding)

    def shape_bounds(self) -> tuple[int, int]:
        """Largest (rows, cols) this configuration can draw."""
        o = self.options
        if o.max_dim is not None:
            return o.max_dim, o.max_dim
        return (o.rows or o.dim), (o.cols or o.dim)

    def draw_shape(self, rng: np.random.Generator) -> tuple[int, int]:
        o = self.options
        if o.min_dim is None:
            return self.shape_bounds()
        rows = int(rng.integers(o.min_dim, o.max_dim + 1))
        cols = rows if self.square_only else int(rng.integers(o.min_dim, o.max_dim + 1))
        return rows, cols

    # ---- sampling (see seq2math.tasks.random_matrices) ------------------------------------
    def draw_entries(self, rng: np.random.Generator, shape) -> np.ndarray:
        o = self.options
        entries = draw_entries(rng, shape, o.distribution, o.max_coefficient)
        return mix_log_uniform(rng, entries, o.log_fraction, o.log_min, o.log_max)

    def draw_symmetric(self, rng: np.random.Generator, n: int) -> np.ndarray:
        o = self.options
        return draw_symmetric(rng, n, o.spectrum, o.distribution, o.max_coefficient)

    def sample_operands(self, rng: np.random.Generator) -> list[np.ndarray] | None:
        rows, cols = self.draw_shape(rng)
        if self.symmetric:
            return [self.draw_symmetric(rng, rows)]
        operands = [self.draw_entries(rng, (rows, cols))]
        for kind in self.operands[1:]:
            operands.append(self.draw_entries(rng, (rows, cols) if kind == "matrix" else (rows,)))
        return operands

    # ---- the mathematics (per task) ---------------------------------------------------
    def solve(self, operands: list[np.ndarray]) -> np.ndarray:
        raise NotImplementedError

    def target_shape(self, rows: int, cols: int) -> tuple[int, ...]:
        raise NotImplementedError

    def error(self, operands: list[np.ndarray], hypothesis: np.ndarray) -> tuple[float, dict]:
        """Relative L1 error of a well-shaped hypothesis (and its components)."""
        return relative_l1(hypothesis, self.solve(operands)), {}

    # ---- tokens -------------------------------------------------------------------------
    def generate(self, rng: np.random.Generator):
        operands = self.sample_operands(rng)
        if operands is None:
            return None
        target = self.solve(operands)
        source: list[str] = []
        for array in operands:
            source += (encode_matrix if array.ndim == 2 else encode_vector)(array, self.input_encoding)
        encode = encode_matrix if target.ndim == 2 else encode_vector
        return source, encode(target, self.output_encoding)

    def vocabulary(self) -> list[str]:
        rows, cols = self.shape_bounds()
        largest = max(rows, cols, *self.target_shape(rows, cols))
        tokens = dimension_vocabulary(largest) + self.input_encoding.vocabulary()
        return tokens + [t for t in self.output_encoding.vocabulary() if t not in set(tokens)]

    def decode_source(self, source: list[str]) -> list[np.ndarray]:
        """Decode and validate the operands of a source; ``ValueError`` names the bad token."""
        operands, pos = [], 0
        for kind in self.operands:
            read = read_matrix if kind == "matrix" else read_vector
            array, pos = read(source, pos, self.input_encoding)
            operands.append(array)
        if pos != len(source):
            raise ValueError(f"token {pos} {source[pos]!r}: unexpected token after the {len(self.operands)} "
                             f"operand(s) of task {self.name}")
        self.check_operands(operands)
        return operands

    def check_operands(self, operands: list[np.ndarray]) -> None:
        first = operands[0]
        if first.size == 0:
            raise ValueError(f"task {self.name}: empty matrix {first.shape}")
        if self.square_only and first.shape[0] != first.shape[1]:
            raise ValueError(f"task {self.name} needs a square matrix, got {first.shape[0]}x{first.shape[1]}")
        if self.symmetric and not np.array_equal(first, first.T):
            i, j = np.argwhere(first != first.T)[0]
            raise ValueError(f"task {self.name} needs a symmetric matrix: entry ({i},{j}) = {first[i, j]:g} "
                             f"but ({j},{i}) = {first[j, i]:g}")
        for k, (kind, array) in enumerate(zip(self.operands[1:], operands[1:]), 2):
            expected = first.shape if kind == "matrix" else (first.shape[0],)
            if array.shape != expected:
                raise ValueError(f"task {self.name}: operand {k} has shape {array.shape}, expected {expected}")

    def check_source(self, source: list[str]) -> None:
        self.decode_source(source)

    def size_key(self, source: list[str]) -> str:
        rows, cols = self.decode_source(source)[0].shape
        return f"{rows}x{cols}"

    # ---- checking -----------------------------------------------------------------------
    def verify(self, source: list[str], hypothesis: list[str]) -> Verdict:
        operands = self.decode_source(source)
        shape = self.target_shape(*operands[0].shape)
        try:
            read = read_matrix if len(shape) == 2 else read_vector
            answer, end = read(hypothesis, 0, self.output_encoding)
            if end != len(hypothesis):
                raise ValueError(f"token {end} {hypothesis[end]!r}: unexpected token after the answer")
        except ValueError as err:
            return Verdict.invalid(self.metrics, str(err))
        if answer.shape != shape:
            return Verdict(True, {m: False for m in self.metrics}, float("inf"),
                           f"answer has shape {answer.shape}, expected {shape}")
        with np.errstate(all="ignore"):
            error, details = self.error(operands, answer)
        error = error if np.isfinite(error) else float("inf")
        return Verdict(True, {m: error <= tol for m, tol in TOLERANCES.items()}, error, details=details)

    # ---- human form ---------------------------------------------------------------------
    def from_human(self, text: str) -> list[str]:
        parts = [p.strip() for p in text.split(";")]
        if len(parts) != len(self.operands):
            raise ValueError(f"task {self.name} expects {len(self.operands)} operand(s) "
                             f"({', '.join(self.operands)}) separated by ';', got {len(parts)}")
        operands = []
        for k, (kind, part) in enumerate(zip(self.operands, parts), 1):
            try:
                value = ast.literal_eval(part)
                array = np.array(value, dtype=float)
            except (ValueError, SyntaxError, TypeError) as err:
                raise ValueError(f"operand {k}: cannot read {part!r} as a list of numbers ({err})") from None
            if array.ndim != (2 if kind == "matrix" else 1):
                raise ValueError(f"operand {k}: expected a {kind} like "
                                 f"{'[[1, 2], [3, 4]]' if kind == 'matrix' else '[1, 2]'}, got {part!r}")
            operands.append(array)
        self.check_operands(operands)
        source: list[str] = []
        for array in operands:
            source += (encode_matrix if array.ndim == 2 else encode_vector)(array, self.input_encoding)
        return source

    def to_human(self, tokens: list[str]) -> str:
        for encoding in (self.input_encoding, self.output_encoding):
            try:
                arrays, pos = [], 0
                while pos < len(tokens):
                    array, pos = read_array(tokens, pos, encoding)
                    arrays.append(array)
                return "\n".join(np.array2string(a, precision=4, suppress_small=True) for a in arrays)
            except ValueError:
                continue
        return " ".join(tokens)

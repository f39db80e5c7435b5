"""Matrices and vectors as tokens: ``V{rows} V{cols}`` + row-major entries, or ``V{n}`` + entries.

Decoding checks the token count announced by the header and names what is wrong:
``token 0: matrix V5 V5 needs 25 entries = 75 P1000 tokens after its header, only 72 follow``.
Streaming readers (``read_matrix``, ``read_vector``) return the position after the object,
so several operands can be read from one source.
"""

from __future__ import annotations

from typing import Sequence

import numpy as np

from seq2math.tokens.numbers import NumberEncoding
from seq2math.tokens.reading import (
    ParseError,
    describe_position,
    expected_error,
    parse_canonical_int,
)


def dimension_token(size: int) -> str:
    return f"V{int(size)}"


def dimension_vocabulary(max_size: int) -> list[str]:
    return [dimension_token(k) for k in range(max_size + 1)]


def _read_dimension(tokens: Sequence[str], pos: int) -> int:
    token = tokens[pos] if pos < len(tokens) else ""
    size = parse_canonical_int(token[1:], 0, 10**6) if token.startswith("V") else None
    if size is None:
        raise expected_error(tokens, pos, "a dimension token V<int>")
    return size


def encode_matrix(matrix, encoding: NumberEncoding) -> list[str]:
    """``V{rows} V{cols}`` then the entries row by row."""
    array = np.asarray(matrix, dtype=float)
    if array.ndim != 2:
        raise ValueError(f"encode_matrix expects a 2-D array, got shape {array.shape}")
    return [dimension_token(array.shape[0]), dimension_token(array.shape[1]), *encoding.encode_many(array)]


def encode_vector(vector, encoding: NumberEncoding) -> list[str]:
    """``V{n}`` then the entries."""
    array = np.asarray(vector, dtype=float)
    if array.ndim != 1:
        raise ValueError(f"encode_vector expects a 1-D array, got shape {array.shape}")
    return [dimension_token(array.shape[0]), *encoding.encode_many(array)]


def read_matrix(tokens: Sequence[str], pos: int, encoding: NumberEncoding) -> tuple[np.ndarray, int]:
    """Decode one matrix at ``pos``; checks that enough tokens follow the header."""
    rows, cols = _read_dimension(tokens, pos), _read_dimension(tokens, pos + 1)
    start = pos + 2
    if encoding.tokens_per_number is not None:
        needed = rows * cols * encoding.tokens_per_number
        if len(tokens) - start < needed:
            raise ParseError(
                f"token {pos}: matrix V{rows} V{cols} needs {rows * cols} entries = {needed} {encoding.name} "
                f"tokens after its header, only {len(tokens) - start} follow")
    values, end = encoding.read_many(tokens, start, rows * cols)
    return np.array(values, dtype=float).reshape(rows, cols), end


def read_vector(tokens: Sequence[str], pos: int, encoding: NumberEncoding) -> tuple[np.ndarray, int]:
    size = _read_dimension(tokens, pos)
    if encoding.tokens_per_number is not None and len(tokens) - pos - 1 < size * encoding.tokens_per_number:
        raise ParseError(
            f"token {pos}: vector V{size} needs {size * encoding.tokens_per_number} {encoding.name} tokens "
            f"after its header, only {len(tokens) - pos - 1} follow")
    values, end = encoding.read_many(tokens, pos + 1, size)
    return np.array(values, dtype=float), end


def _expect_end(tokens: Sequence[str], end: int, what: str) -> None:
    if end != len(tokens):
        raise ParseError(f"{describe_position(tokens, end)}: unexpected token after the complete {what} "
                         f"({len(tokens) - end} extra token(s))")


def decode_matrix(tokens: Sequence[str], encoding: NumberEncoding,
                  shape: tuple[int, int] | None = None) -> np.ndarray:
    """Decode a whole token list holding one matrix (optionally of a required shape)."""
    matrix, end = read_matrix(tokens, 0, encoding)
    if shape is not None and matrix.shape != tuple(shape):
        raise ParseError(f"token 0: matrix is {matrix.shape[0]}x{matrix.shape[1]}, expected {shape[0]}x{shape[1]}")
    _expect_end(tokens, end, "matrix")
    return matrix


def decode_vector(tokens: Sequence[str], encoding: NumberEncoding, size: int | None = None) -> np.ndarray:
    vector, end = read_vector(tokens, 0, encoding)
    if size is not None and vector.shape[0] != size:
        raise ParseError(f"token 0: vector has {vector.shape[0]} entries, expected {size}")
    _expect_end(tokens, end, "vector")
    return vector


def read_array(tokens: Sequence[str], pos: int, encoding: NumberEncoding) -> tuple[np.ndarray, int]:
    """A matrix (two dimension tokens) or a vector (one), told apart by the second token."""
    if pos + 1 < len(tokens) and tokens[pos + 1].startswith("V"):
        return read_matrix(tokens, pos, encoding)
    return read_vector(tokens, pos, encoding)

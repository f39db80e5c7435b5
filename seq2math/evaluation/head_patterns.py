"""Attention patterns: the key positions a head of each kind would read (docs/heads.md).

``TokenStructure`` says what each position of a token sequence is: its parent operator, sibling
operand and children in a prefix expression (from the parse tree of ``seq2math.tokens.prefix``),
or its (matrix, row, column) in a matrix or vector. ``pattern_targets`` turns the structures of
the queries and the keys into one boolean [Tq, Tk] mask per pattern; ``seq2math.evaluation.heads``
scores heads against them. The patterns:

* positional: ``previous``, ``self``, ``next`` and ``offset ±d`` (the key ``d`` positions away,
  |d| <= MAX_OFFSET), for every sequence;
* syntactic, in prefix expressions (self-attention only): ``parent`` (the operator whose operand
  the query's token belongs to), ``sibling`` (the tokens of the other operand of that operator)
  and ``child`` (the first token of each operand of an operator); the tokens of a number
  (``INT+ 2 5``) are one leaf;
* alignment, in matrices and vectors: ``same row``, ``same column``, ``transposed`` (entry (j, i)
  for entry (i, j), off the diagonal) and ``same entry`` (entry (i, j) of another matrix); in
  self-attention the first three stay within the query's matrix and exclude its own entry.
  Vector entries are column vectors (entry i is (i, 0)).

Example (``+ x0 * INT+ 2 x1``, i.e. x0 + 2·x1): ``x0`` and ``*`` have parent ``+``; the sibling of
``x0`` is ``*``; ``INT+`` and ``2`` form one leaf whose parent is ``*`` and whose sibling is ``x1``.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import Callable, Sequence

import numpy as np

from seq2math.symbolic.expr import BINARY_OPERATORS, UNARY_OPERATORS
from seq2math.tasks.base import Task
from seq2math.tasks.linalg_base import LinalgTask
from seq2math.tokens.numbers import NumberEncoding
from seq2math.tokens.prefix import PrefixParseError, parse_expression

#: positional patterns cover the keys up to this many positions before and after the query
MAX_OFFSET = 4


def offset_name(offset: int) -> str:
    """``previous``, ``self``, ``next`` or ``offset +d`` / ``offset -d``."""
    return {-1: "previous", 0: "self", 1: "next"}.get(offset, f"offset {offset:+d}")


# ---- what each token is ----------------------------------------------------------------------------
@dataclass(frozen=True)
class TokenStructure:
    """The relations of every position of one token sequence (None or () where one does not exist)."""

    tokens: tuple[str, ...]
    parent: tuple[int | None, ...]              # position of the parent operator's token
    siblings: tuple[tuple[int, ...], ...]       # positions of the other operand's own tokens
    children: tuple[tuple[int, ...], ...]       # first position of each operand (operator tokens)
    entry: tuple[tuple[int, int, int] | None, ...]  # (matrix number, row, column) of a matrix entry

    def __len__(self) -> int:
        return len(self.tokens)


def plain_structure(tokens: Sequence[str]) -> TokenStructure:
    """No syntactic relation: only the positional patterns apply."""
    n = len(tokens)
    return TokenStructure(tuple(tokens), (None,) * n, ((),) * n, ((),) * n, (None,) * n)


@dataclass
class _Node:
    own: range                  # the node's own tokens (an operator, or all tokens of a leaf)
    parent: int | None          # index of the parent node
    arity: int
    children: list[int] = field(default_factory=list)


def _expression_nodes(tokens: Sequence[str], start: int) -> tuple[list[_Node], int]:
    """The nodes of the prefix expression at ``start`` in reading order, and the position after it."""
    nodes: list[_Node] = []
    pending: list[int] = []  # operators still missing operands
    i = start
    while True:
        if i >= len(tokens):
            raise PrefixParseError("expression ends too early", i)
        token = tokens[i]
        arity = 2 if token in BINARY_OPERATORS else 1 if token in UNARY_OPERATORS else 0
        end = i + 1 if arity else parse_expression(list(tokens), i)[1]  # a leaf: one whole number
        nodes.append(_Node(range(i, end), pending[-1] if pending else None, arity))
        if pending:
            nodes[pending[-1]].children.append(len(nodes) - 1)
        i = end
        if arity:
            pending.append(len(nodes) - 1)
            continue
        while pending and len(nodes[pending[-1]].children) == nodes[pending[-1]].arity:
            pending.pop()
        if not pending:
            return nodes, i


def prefix_structure(tokens: Sequence[str]) -> TokenStructure:
    """Parent, sibling and children of every token of each prefix expression in ``tokens``.

    Tokens that start no complete expression (``<SPECIAL_3>``, ``<bos>``, a truncated output) are
    skipped, so a system ``INT+ n <SPECIAL_3> e1 ...`` or a packed decoder sequence works as is.
    """
    n = len(tokens)
    parent: list[int | None] = [None] * n
    siblings: list[tuple[int, ...]] = [()] * n
    children: list[tuple[int, ...]] = [()] * n
    i = 0
    while i < n:
        try:
            nodes, end = _expression_nodes(tokens, i)
        except PrefixParseError:
            i += 1
            continue
        for index, node in enumerate(nodes):
            up = nodes[node.parent] if node.parent is not None else None
            other = tuple(p for s in (up.children if up else []) if s != index for p in nodes[s].own)
            for position in node.own:
                parent[position] = up.own.start if up else None
                siblings[position] = other
            children[node.own.start] = tuple(nodes[c].own.start for c in node.children)
        i = end
    return TokenStructure(tuple(tokens), tuple(parent), tuple(siblings), tuple(children), (None,) * n)


def _array_entries(tokens: Sequence[str], pos: int, encoding: NumberEncoding) -> tuple[list[tuple], int]:
    """(row, column, token span) of each entry of the matrix or vector whose header is at ``pos``."""
    matrix = pos + 1 < len(tokens) and tokens[pos + 1].startswith("V")
    rows, cols = int(tokens[pos][1:]), int(tokens[pos + 1][1:]) if matrix else 1
    i, entries = pos + (2 if matrix else 1), []
    for number in range(rows * cols):
        _, end = encoding.read(tokens, i)
        entries.append((number // cols, number % cols, range(i, end)))
        i = end
    return entries, i


def matrix_structure(tokens: Sequence[str], encodings: Sequence[NumberEncoding]) -> TokenStructure:
    """The (matrix, row, column) of every token of each matrix or vector in ``tokens``.

    A ``V<n>`` token starts an array when its entries read in one of ``encodings`` (tried in order);
    matrices are numbered in reading order. Other tokens get no entry.
    """
    entry: list[tuple[int, int, int] | None] = [None] * len(tokens)
    i, matrix = 0, 0
    while i < len(tokens):
        entries = None
        if tokens[i].startswith("V") and tokens[i][1:].isdigit():
            for encoding in encodings:
                try:
                    entries, end = _array_entries(tokens, i, encoding)
                    break
                except (ValueError, IndexError):
                    continue
        if not entries:
            i += 1
            continue
        for row, col, span in entries:
            for position in span:
                entry[position] = (matrix, row, col)
        matrix, i = matrix + 1, end
    return replace(plain_structure(tokens), entry=tuple(entry))


def structure_function(task: Task) -> Callable[[Sequence[str]], TokenStructure]:
    """How to read the sequences of ``task``: prefix trees (lyapunov), arrays (linear algebra), plain."""
    if task.name == "lyapunov":
        return prefix_structure
    if isinstance(task, LinalgTask):
        encodings = [task.input_encoding, task.output_encoding]
        return lambda tokens: matrix_structure(tokens, encodings)
    return plain_structure


# ---- patterns ------------------------------------------------------------------------------------
def _relation_mask(rows: Sequence[Sequence[int]], keys: int) -> np.ndarray:
    mask = np.zeros((len(rows), keys), dtype=bool)
    for query, targets in enumerate(rows):
        mask[query, [t for t in targets if t < keys]] = True
    return mask


def _entries(structure: TokenStructure) -> np.ndarray:
    """[T, 3] array of (matrix, row, column), -1 where a token is no entry."""
    return np.array([e if e is not None else (-1, -1, -1) for e in structure.entry], dtype=int).reshape(-1, 3)


def pattern_targets(queries: TokenStructure, keys: TokenStructure, self_attention: bool) -> dict[str, np.ndarray]:
    """Every pattern's target keys as a boolean [Tq, Tk] mask (rows without a target are not scored)."""
    tq, tk = len(queries), len(keys)
    distance = np.arange(tk)[None, :] - np.arange(tq)[:, None]  # key - query
    targets = {offset_name(d): distance == d for d in range(-MAX_OFFSET, MAX_OFFSET + 1)}
    if self_attention:
        targets["parent"] = _relation_mask([[] if p is None else [p] for p in queries.parent], tk)
        targets["sibling"] = _relation_mask(queries.siblings, tk)
        targets["child"] = _relation_mask(queries.children, tk)
    q, k = _entries(queries)[:, None, :], _entries(keys)[None, :, :]  # [Tq, 1, 3], [1, Tk, 3]
    both = (q[..., 0] >= 0) & (k[..., 0] >= 0)
    same_matrix = q[..., 0] == k[..., 0] if self_attention else np.ones((tq, tk), dtype=bool)
    same_row, same_col = q[..., 1] == k[..., 1], q[..., 2] == k[..., 2]
    own = same_matrix & same_row & same_col if self_attention else np.zeros((tq, tk), dtype=bool)
    inside = both & same_matrix & ~own
    targets["same row"] = inside & same_row
    targets["same column"] = inside & same_col
    targets["transposed"] = (inside & (q[..., 1] == k[..., 2]) & (q[..., 2] == k[..., 1])
                             & (q[..., 1] != q[..., 2]))
    other = ~(q[..., 0] == k[..., 0]) if self_attention else np.ones((tq, tk), dtype=bool)
    targets["same entry"] = both & other & same_row & same_col
    return targets

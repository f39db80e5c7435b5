"""Input generators of the fuzzing: valid inputs, and the same garbled (docs/reliability.md, "Fuzzing").

Every generator takes a ``random.Random`` and returns one input. ``tests/test_fuzz_*.py`` draw
that ``Random`` from hypothesis (``st.randoms()``, so failures shrink) and ``seq2math bench fuzz``
from a seed: one set of generators for both.

Valid inputs come from the writers (``expression_tokens``, ``to_infix``, the number encodings,
``encode_matrix``, ``format_benchmark_line``, ``yaml.safe_dump``); garbled inputs are those with
tokens or characters dropped, repeated, swapped or replaced from ``ODD_TOKENS`` (huge integers,
NaN/inf literals, NUL, BOM, combining characters, 10,000-deep nesting ...), or truncated.
"""

from __future__ import annotations

import random
from typing import Callable

from seq2math.symbolic.expr import (
    BINARY_OPERATORS,
    UNARY_OPERATORS,
    Binary,
    Const,
    Expr,
    Float,
    Int,
    Unary,
    Var,
)
from seq2math.tokens.vocab import EQUATION_SEPARATOR

#: tokens and strings that parsers tend to mishandle
ODD_TOKENS = (
    "", " ", "\t", "\r", "\r\n", "\x00", "\ufeff", "e\u0301", "\u00a0", "\u2028", "\U0001d7d8", "\u0663",
    "nan", "NaN", "inf", "-inf", "Infinity", "1e999", "-0", "+1", "007", "1000", "999", "0x10", "1_000",
    "9" * 5000, "x" + "9" * 5000, "x-1", "x01", "x12", "INT+", "INT-", "FLOAT+", "FLOAT-", "10^", EQUATION_SEPARATOR,
    "E100", "E101", "E-101", "E", "N", "N-0e0", "Ninf", "N1000e0", "V0", "V1000000", "V-1", "V99999999999",
    "|", "||", "{", "}", "[", "]", "(", ")", "'", "=", ";", "^", "**", "/", "+", "-", "*", "pi", "E", "sqrt", "Abs",
)

DEEP = 10_000  # nesting depth of the deep inputs (the figure)


# ---- valid inputs --------------------------------------------------------------------------------
def random_expression(rng: random.Random, variables: int = 3, depth: int = 4, polynomial: bool = False) -> Expr:
    """A random tree: numbers (some huge), variables, constants, operators (``polynomial``: + - * ^k only)."""
    if depth <= 0 or rng.random() < 0.3:
        kind = rng.random()
        if kind < 0.45:
            return Var(rng.randrange(variables))
        if kind < 0.8 or polynomial:
            return Int(rng.choice((0, 1, -1, rng.randint(-999, 999), rng.randint(-10**40, 10**40))))
        if kind < 0.93:
            return Float(rng.random() < 0.5, rng.randint(0, 10**6), rng.randint(-30, 30))
        return Const(rng.choice(("pi", "E")))
    if polynomial:
        op = rng.choice("+-*^")
        if op == "^":
            return Binary("^", random_expression(rng, variables, depth - 1, True), Int(rng.randint(0, 3)))
        return Binary(op, random_expression(rng, variables, depth - 1, True),
                      random_expression(rng, variables, depth - 1, True))
    if rng.random() < 0.15:
        return Unary(rng.choice(UNARY_OPERATORS), random_expression(rng, variables, depth - 1))
    return Binary(rng.choice(BINARY_OPERATORS), random_expression(rng, variables, depth - 1),
                  random_expression(rng, variables, depth - 1))


def random_system(rng: random.Random, polynomial: bool = False) -> list[Expr]:
    n = rng.randint(1, 4)
    return [random_expression(rng, n, rng.randint(0, 4), polynomial) for _ in range(n)]


def random_float(rng: random.Random) -> float:
    """Floats over the whole range, with zeros, subnormals, halves and decade boundaries."""
    kind = rng.random()
    if kind < 0.1:
        return rng.choice((0.0, -0.0, 999.5, 0.1225, 1e-9, 5e-10, 1e9, 9.995e8, 1e-98, 1e100, 5e-324))
    if kind < 0.2:
        return float(rng.randint(-1000, 1000))
    return rng.choice((1, -1)) * rng.random() * 10.0 ** rng.randint(-110, 100)


# ---- garbling ------------------------------------------------------------------------------------
def odd_token(rng: random.Random, vocabulary: list[str]) -> str:
    return rng.choice(ODD_TOKENS) if rng.random() < 0.5 or not vocabulary else rng.choice(vocabulary)


def mutate_tokens(rng: random.Random, tokens: list[str], vocabulary: list[str]) -> list[str]:
    """1-4 edits: delete, insert, replace, swap, duplicate a slice, or truncate."""
    tokens = list(tokens)
    for _ in range(rng.randint(1, 4)):
        edit = rng.randrange(6)
        position = rng.randint(0, len(tokens))
        if edit == 0 and tokens:
            del tokens[min(position, len(tokens) - 1)]
        elif edit == 1:
            tokens.insert(position, odd_token(rng, vocabulary))
        elif edit == 2 and tokens:
            tokens[min(position, len(tokens) - 1)] = odd_token(rng, vocabulary)
        elif edit == 3 and len(tokens) > 1:
            i, j = rng.randrange(len(tokens)), rng.randrange(len(tokens))
            tokens[i], tokens[j] = tokens[j], tokens[i]
        elif edit == 4 and tokens:
            end = rng.randint(position, len(tokens))
            tokens[position:position] = tokens[position:end]
        else:
            tokens = tokens[:position]
    return tokens


def mutate_text(rng: random.Random, text: str) -> str:
    """Character-level edits, the same kinds as ``mutate_tokens`` (odd strings inserted whole)."""
    return "".join(mutate_tokens(rng, list(text), list("0123456789x+-*/^()'=;.eE \t|")))


def random_bytes_text(rng: random.Random) -> str:
    """Random bytes read as text (undecodable bytes become U+FFFD, as a lenient reader would)."""
    return bytes(rng.randrange(256) for _ in range(rng.randint(0, 60))).decode("utf-8", "replace")


def deep_prefix(rng: random.Random, depth: int = DEEP) -> list[str]:
    """Prefix tokens nested ``depth`` deep: unary chains, left-nested sums, alternating operators."""
    shape = rng.randrange(3)
    if shape == 0:
        return [rng.choice(UNARY_OPERATORS)] * depth + ["x0"]
    if shape == 1:
        return ["+"] * depth + ["x0"] + ["INT+", "1"] * depth        # + + + x0 1 1 1: left-nested
    return ["*", "+"] * (depth // 2) + ["x0"] + ["INT+", "1"] * (depth // 2 * 2)


def deep_infix(rng: random.Random, depth: int = DEEP) -> str:
    shape = rng.randrange(5)
    if shape == 0:
        return "(" * depth + "x0" + ")" * depth
    if shape == 1:
        return "sqrt(" * depth + "x0" + ")" * depth
    if shape == 2:
        return "x0^" * depth + "2"
    if shape == 3:
        return "-" * depth + "x0"
    return "(" * depth                                                # unbalanced


def garble(rng: random.Random, valid: Callable[[random.Random], list[str]], vocabulary: list[str],
           deep: Callable[[random.Random], list[str]] | None = None) -> list[str]:
    """A token list: valid (1 in 4), mutated (most), or deeply nested (1 in 50)."""
    roll = rng.random()
    if deep is not None and roll < 0.02:
        return deep(rng)
    tokens = valid(rng)
    return tokens if roll < 0.25 else mutate_tokens(rng, tokens, vocabulary)


def line_endings(rng: random.Random, lines: list[str]) -> str:
    """Lines joined with LF, CRLF or a mix, sometimes with a BOM, a NUL or no final newline."""
    ending = rng.choice(("\n", "\r\n", None))
    text = "".join(line + (ending or rng.choice(("\n", "\r\n"))) for line in lines)
    if rng.random() < 0.1:
        text = "\ufeff" + text
    if rng.random() < 0.1:
        text = text.rstrip("\r\n")
    return text

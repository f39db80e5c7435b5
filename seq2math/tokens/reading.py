"""What every token reader shares: its error type, where it stopped, canonical integers, size limits.

Errors of the number and matrix readers name the token index and the token itself, so that a
bad line of a data file is reported as ``FILE:LINE: token 7 'E-99': expected ...``.

Every reader of ``seq2math.tokens`` (numbers, matrices, prefix, infix) raises ``ParseError``
(a ``ValueError``) on bad input and nothing else: ``tests/test_fuzz_tokens.py`` checks it on
random and garbled input (docs/reliability.md, "Fuzzing").
"""

from __future__ import annotations

from typing import Sequence

#: deepest nesting an expression reader accepts; the right spine of a sum or a product
#: (``+ a + b + c d``) does not count, since every consumer walks it iteratively. Real data
#: nests 4 deep; the limit keeps the recursive consumers (polynomial conversion, writing,
#: derivatives) far from Python's recursion limit.
MAX_NESTING_DEPTH = 200
#: most decimal digits of one integer or decimal literal (Python refuses to print ints over
#: 4300 digits, and a longer literal is no mathematics a user means)
MAX_NUMBER_DIGITS = 3000
#: largest |exponent| of a decimal literal (``1e3000``); 10**exponent is computed exactly
MAX_DECIMAL_EXPONENT = 3000
#: most digits of a variable index (``x123456`` is already far beyond any vocabulary)
MAX_INDEX_DIGITS = 6


class ParseError(ValueError):
    """Input that a reader of ``seq2math.tokens`` cannot read; the message names the token (or
    the character position) and what was expected."""


def describe_position(tokens: Sequence[str], pos: int) -> str:
    """Where a reader stopped: ``token 3 'E-2'`` or ``token 5: found end of sequence``."""
    if pos >= len(tokens):
        return f"token {pos}: found end of sequence"
    return f"token {pos} {tokens[pos]!r}"


def expected_error(tokens: Sequence[str], pos: int, expected: str) -> ParseError:
    """The error of a reader that found something else than ``expected`` at ``pos``."""
    return ParseError(f"{describe_position(tokens, pos)}: expected {expected}")


def parse_canonical_int(text: str, low: int, high: int) -> int | None:
    """Canonical decimal integer in [low, high] (no '+', no leading zeros), else None."""
    body = text[1:] if text.startswith("-") else text
    if not body.isdigit() or not body.isascii() or (len(body) > 1 and body[0] == "0") or text == "-0":
        return None
    if len(body) > len(str(max(abs(low), abs(high)))):   # out of range, and int() of it may be refused
        return None
    value = int(text)
    return value if low <= value <= high else None

"""What every token reader shares: where it stopped, and canonical integers.

Errors of the number and matrix readers name the token index and the token itself, so that a
bad line of a data file is reported as ``FILE:LINE: token 7 'E-99': expected ...``.
"""

from __future__ import annotations

from typing import Sequence


def describe_position(tokens: Sequence[str], pos: int) -> str:
    """Where a reader stopped: ``token 3 'E-2'`` or ``token 5: found end of sequence``."""
    if pos >= len(tokens):
        return f"token {pos}: found end of sequence"
    return f"token {pos} {tokens[pos]!r}"


def expected_error(tokens: Sequence[str], pos: int, expected: str) -> ValueError:
    """The error of a reader that found something else than ``expected`` at ``pos``."""
    return ValueError(f"{describe_position(tokens, pos)}: expected {expected}")


def parse_canonical_int(text: str, low: int, high: int) -> int | None:
    """Canonical decimal integer in [low, high] (no '+', no leading zeros), else None."""
    body = text[1:] if text.startswith("-") else text
    if not body.isdigit() or not body.isascii() or (len(body) > 1 and body[0] == "0") or text == "-0":
        return None
    value = int(text)
    return value if low <= value <= high else None

"""Numbers and matrices as tokens (Charton, "Linear algebra with transformers", TMLR 2022).

Float encodings keep 3 significant digits: ``x ~ s * m * 10**e`` with mantissa ``m`` in
100..999 and ``e = floor(log10|x|) - 2``.

Rounding rule (one rule, used everywhere): the float is first written as its shortest
decimal representation (``repr``), then the mantissa is rounded *half to even* on that
decimal value. Hence 0.1225 -> 1.22e-1, 0.1235 -> 1.24e-1, and a mantissa that rounds
up to 1000 moves to the next decade: 999.5 -> 1.00e3 (``+ 100 E1`` in P1000).

=========  =====================  ===============  ===============  ================
encoding   tokens per number      3.14159          -0.5             zero
=========  =====================  ===============  ===============  ================
P10        5 (sign, 3 digits, E)  ``+ 3 1 4 E-2``  ``- 5 0 0 E-3``  ``+ 0 0 0 E0``
P10P       5 (P10, digits placed) ``+ 3a 1b 4c E-2`` ``- 5a 0b 0c E-3`` ``+ 0a 0b 0c E0``
P1000      3 (sign, digit, E)     ``+ 314 E-2``    ``- 500 E-3``    ``+ 0 E0``
B1999      2 (signed digit, E)    ``N314 E-2``     ``N-500 E-3``    ``N0 E0``
FP15       1                      ``N314e7``       ``N-500e6``      ``N0e0``
=========  =====================  ===============  ===============  ================

P10, P1000 and B1999 use exponent tokens ``E-100`` .. ``E100``; values whose exponent is
below -100 (|x| < 1e-98) underflow to zero, values above raise ``ValueError``.
FP15 packs mantissa and exponent in one token ``N{m}e{k}`` standing for ``m * 10**(k-9)``
with k in 0..15, so normal values cover 1e-7 <= |x| < 1e9. Smaller values are subnormal
tokens ``N{m}e0`` with 1 <= |m| <= 99 (value m*1e-9, rounded half to even, so fewer
significant digits) and below 0.5e-9 they round to zero; values that round to 1e9 or more
become the overflow tokens ``Ninf`` / ``N-inf`` (decoded as +-inf).

P10P is P10 with each digit's place in its token (a: leading, b: second, c: third), so that a model
finds "the second digit of that number" by content, and only the number itself by position: the
place-value hint of "abacus" embeddings (McLeish et al. 2024) as an encoding (docs/experiments.md).

Integers (``INT``): a sign token then base-B digits, most significant first
(B = 1000: 2005 -> ``INT+ 2 5``, -1000 -> ``INT- 1 0``, 0 -> ``INT+ 0``).

Decoding accepts canonical spellings only (no leading-zero mantissa, no ``-0``), and every
error names the bad token and its index: ``token 3 'E-x': expected an exponent token E<int>``.

A matrix is ``V{rows} V{cols}`` then its entries in row-major order; a vector is ``V{n}``
then its entries.
"""

from __future__ import annotations

import math
from abc import ABC, abstractmethod
from decimal import ROUND_HALF_EVEN, Decimal
from typing import Sequence

import numpy as np

from seq2math.tokens.reading import (
    ParseError,
    describe_position,
    expected_error,
    parse_canonical_int,
)

MAX_EXPONENT = 100
MIN_EXPONENT = -100


def round3(x: float) -> tuple[int, int, int]:
    """(sign, mantissa, exponent) with ``x ~ sign * mantissa * 10**exponent``, mantissa 100..999.

    Zero gives (1, 0, 0). Non-finite values raise ``ValueError``.
    """
    x = float(x)
    if not math.isfinite(x):
        raise ValueError(f"cannot encode non-finite number {x!r}")
    if x == 0.0:
        return 1, 0, 0
    sign = -1 if x < 0 else 1
    digits = Decimal(repr(abs(x)))
    decade = digits.adjusted()  # floor(log10|x|), exact
    mantissa = int(digits.scaleb(2 - decade).to_integral_value(ROUND_HALF_EVEN))
    if mantissa == 1000:  # 999.5 -> 1.00e3
        mantissa, decade = 100, decade + 1
    return sign, mantissa, decade - 2


def round_to_3_digits(x: float) -> float:
    """The value that every float encoding gives back for ``x`` (normal range)."""
    sign, mantissa, exponent = round3(x)
    return float(Decimal(sign * mantissa).scaleb(exponent))


class NumberEncoding(ABC):
    """Encode one number as tokens and read it back from a token list."""

    name: str = ""
    #: fixed token count per number, or None when variable (integers)
    tokens_per_number: int | None = None

    @abstractmethod
    def encode(self, x: float) -> list[str]:
        """Tokens for ``x`` (rounded with the module's rule)."""

    @abstractmethod
    def read(self, tokens: Sequence[str], pos: int) -> tuple[float, int]:
        """Decode one number starting at ``tokens[pos]``: (value, position after it)."""

    @abstractmethod
    def vocabulary(self) -> list[str]:
        """Every token this encoding can emit."""

    def decode(self, tokens: Sequence[str]) -> float:
        """Decode exactly one number; trailing tokens are an error."""
        value, end = self.read(tokens, 0)
        if end != len(tokens):
            raise ParseError(f"{describe_position(tokens, end)}: unexpected token after a complete number")
        return value

    def encode_many(self, values) -> list[str]:
        out: list[str] = []
        for x in np.asarray(values, dtype=float).ravel():
            out.extend(self.encode(x))
        return out

    def read_many(self, tokens: Sequence[str], pos: int, count: int) -> tuple[list[float], int]:
        values = []
        for _ in range(count):
            value, pos = self.read(tokens, pos)
            values.append(value)
        return values, pos

    def __repr__(self) -> str:
        return f"<encoding {self.name}>"


def _exponent_tokens() -> list[str]:
    return [f"E{k}" for k in range(MIN_EXPONENT, MAX_EXPONENT + 1)]


def _read_exponent(tokens: Sequence[str], pos: int) -> int:
    token = tokens[pos] if pos < len(tokens) else ""
    value = parse_canonical_int(token[1:], MIN_EXPONENT, MAX_EXPONENT) if token.startswith("E") else None
    if value is None:
        raise expected_error(tokens, pos, f"an exponent token E<int> with {MIN_EXPONENT} <= int <= {MAX_EXPONENT}")
    return value


def _split_for_exponent_range(x: float) -> tuple[int, int, int]:
    """round3 with the E-100..E100 range: underflow to zero, overflow is an error."""
    sign, mantissa, exponent = round3(x)
    if exponent < MIN_EXPONENT:
        return 1, 0, 0
    if exponent > MAX_EXPONENT:
        raise ValueError(f"{x!r} is too large for exponent tokens up to E{MAX_EXPONENT}")
    return sign, mantissa, exponent


def _value(sign: int, mantissa: int, exponent: int) -> float:
    return float(Decimal(sign * mantissa).scaleb(exponent))


def _check_mantissa(tokens, pos, mantissa: int, exponent: int, where: int) -> None:
    """Mantissa 100..999, or 0 with exponent 0 (zero's canonical spelling)."""
    if mantissa == 0 and exponent != 0:
        raise ParseError(f"{describe_position(tokens, where)}: zero must be written with exponent E0")
    if 0 < mantissa < 100:
        raise ParseError(f"{describe_position(tokens, pos)}: mantissa {mantissa} has a leading zero "
                         "(expected 100..999, or 0 for zero)")


class P10(NumberEncoding):
    """Sign, three base-10 digits, exponent: ``+ 3 1 4 E-2``."""

    name, tokens_per_number = "P10", 5

    def encode(self, x: float) -> list[str]:
        sign, mantissa, exponent = _split_for_exponent_range(x)
        digits = (digit + place for digit, place in zip(str(mantissa).rjust(3, "0"), self.PLACES))
        return ["+" if sign > 0 else "-", *digits, f"E{exponent}"]

    #: what follows the digit in each of the three digit tokens (P10P: the digit's place)
    PLACES = ("", "", "")

    def read(self, tokens, pos):
        sign = _read_sign(tokens, pos)
        mantissa = 0
        for i, place in enumerate(self.PLACES, start=pos + 1):
            token = tokens[i] if i < len(tokens) else ""
            if len(token) != 1 + len(place) or not token[0].isdigit() or not token.isascii() or token[1:] != place:
                raise expected_error(tokens, i, f"a digit token 0{place}..9{place}")
            mantissa = 10 * mantissa + int(token[0])
        exponent = _read_exponent(tokens, pos + 4)
        _check_mantissa(tokens, pos + 1, mantissa, exponent, pos + 4)
        _check_no_negative_zero(tokens, pos, sign, mantissa)
        return _value(sign, mantissa, exponent), pos + 5

    def vocabulary(self):
        digits = dict.fromkeys(f"{d}{place}" for place in self.PLACES for d in range(10))   # P10: 0..9 once
        return ["+", "-", *digits, *_exponent_tokens()]


class P10P(P10):
    """P10 with the digits' places in their tokens: ``+ 3a 1b 4c E-2``."""

    name = "P10P"
    PLACES = ("a", "b", "c")


class P1000(NumberEncoding):
    """Sign, one base-1000 digit, exponent: ``+ 314 E-2``."""

    name, tokens_per_number = "P1000", 3

    def encode(self, x: float) -> list[str]:
        sign, mantissa, exponent = _split_for_exponent_range(x)
        return ["+" if sign > 0 else "-", str(mantissa), f"E{exponent}"]

    def read(self, tokens, pos):
        sign = _read_sign(tokens, pos)
        token = tokens[pos + 1] if pos + 1 < len(tokens) else ""
        mantissa = parse_canonical_int(token, 0, 999)
        if mantissa is None:
            raise expected_error(tokens, pos + 1, "a mantissa token 100..999 (or 0 for zero)")
        exponent = _read_exponent(tokens, pos + 2)
        _check_mantissa(tokens, pos + 1, mantissa, exponent, pos + 2)
        _check_no_negative_zero(tokens, pos, sign, mantissa)
        return _value(sign, mantissa, exponent), pos + 3

    def vocabulary(self):
        return ["+", "-", *map(str, range(1000)), *_exponent_tokens()]


class B1999(NumberEncoding):
    """Signed mantissa token then exponent: ``N-500 E-3``."""

    name, tokens_per_number = "B1999", 2

    def encode(self, x: float) -> list[str]:
        sign, mantissa, exponent = _split_for_exponent_range(x)
        return [f"N{sign * mantissa}", f"E{exponent}"]

    def read(self, tokens, pos):
        token = tokens[pos] if pos < len(tokens) else ""
        signed = parse_canonical_int(token[1:], -999, 999) if token.startswith("N") else None
        if signed is None:
            raise expected_error(tokens, pos, "a signed mantissa token N<int> with -999 <= int <= 999")
        exponent = _read_exponent(tokens, pos + 1)
        _check_mantissa(tokens, pos, abs(signed), exponent, pos + 1)
        return _value(1 if signed >= 0 else -1, abs(signed), exponent), pos + 2

    def vocabulary(self):
        return [f"N{m}" for m in range(-999, 1000)] + _exponent_tokens()


class FP15(NumberEncoding):
    """One token ``N{m}e{k}`` = m * 10**(k-9), k in 0..15; subnormals, zero and overflow tokens."""

    name, tokens_per_number = "FP15", 1
    BIAS, MAX_K = 9, 15
    OVERFLOW = ("Ninf", "N-inf")

    def encode(self, x: float) -> list[str]:
        sign, mantissa, exponent = round3(x)
        k = exponent + self.BIAS
        if mantissa == 0:
            return ["N0e0"]
        if k > self.MAX_K:
            return [self.OVERFLOW[sign < 0]]
        if k < 0:  # subnormal: an integer multiple of 1e-9, rounded half to even
            units = int((Decimal(repr(abs(float(x)))).scaleb(self.BIAS)).to_integral_value(ROUND_HALF_EVEN))
            if units == 0:
                return ["N0e0"]
            if units == 100:  # rounds up into the normal range
                return [f"N{sign * 100}e0"]
            return [f"N{sign * units}e0"]
        return [f"N{sign * mantissa}e{k}"]

    def read(self, tokens, pos):
        token = tokens[pos] if pos < len(tokens) else ""
        if token in self.OVERFLOW:
            return (math.inf if token == "Ninf" else -math.inf), pos + 1
        body, _, k_text = token[1:].partition("e") if token.startswith("N") else ("", "", "")
        signed = parse_canonical_int(body, -999, 999)
        k = parse_canonical_int(k_text, 0, self.MAX_K)
        if signed is None or k is None:
            raise expected_error(tokens, pos, "an FP15 token N<mantissa>e<0..15>, Ninf or N-inf")
        mantissa = abs(signed)
        if mantissa < 100 and k != 0:
            raise expected_error(tokens, pos, "a mantissa 100..999 (mantissas below 100 are subnormals, with e0)")
        if token == "N-0e0":
            raise expected_error(tokens, pos, "N0e0 for zero (there is no negative zero)")
        return _value(1 if signed >= 0 else -1, mantissa, k - self.BIAS), pos + 1

    def vocabulary(self):
        normal = [f"N{s * m}e{k}" for k in range(self.MAX_K + 1) for s in (1, -1) for m in range(100, 1000)]
        subnormal = [f"N{s * m}e0" for s in (1, -1) for m in range(1, 100)]
        return ["N0e0", *subnormal, *normal, *self.OVERFLOW]


class IntegerEncoding(NumberEncoding):
    """``INT+``/``INT-`` then base-B digits, most significant first (B = 1000 by default)."""

    tokens_per_number = None

    def __init__(self, base: int = 1000):
        if base < 2:
            raise ValueError(f"integer base must be >= 2, got {base}")
        self.base = base
        self.name = "INT" if base == 1000 else f"INT{base}"

    def encode(self, x) -> list[str]:
        if isinstance(x, (float, np.floating)):
            if not math.isfinite(x) or not float(x).is_integer():
                raise ValueError(f"{x!r} is not an integer")
        value = int(x)
        digits = []
        magnitude = abs(value)
        while True:
            magnitude, digit = divmod(magnitude, self.base)
            digits.append(str(digit))
            if magnitude == 0:
                break
        return ["INT-" if value < 0 else "INT+", *reversed(digits)]

    def encode_many(self, values) -> list[str]:
        """Python ints stay exact (no detour through float64)."""
        out: list[str] = []
        for value in (values.ravel().tolist() if isinstance(values, np.ndarray) else values):
            out.extend(self.encode(value))
        return out

    def read(self, tokens, pos):
        token = tokens[pos] if pos < len(tokens) else ""
        if token not in ("INT+", "INT-"):
            raise expected_error(tokens, pos, "an integer sign token INT+ or INT-")
        value, i = 0, pos + 1
        while i < len(tokens):
            digit = parse_canonical_int(tokens[i], 0, self.base - 1)
            if digit is None:
                break
            if digit == 0 and i == pos + 1 and i + 1 < len(tokens) and parse_canonical_int(tokens[i + 1], 0, self.base - 1) is not None:
                raise expected_error(tokens, i, "a leading digit other than 0")
            value = value * self.base + digit
            i += 1
        if i == pos + 1:
            raise expected_error(tokens, i, f"a base-{self.base} digit token 0..{self.base - 1}")
        if token == "INT-" and value == 0:
            raise ParseError(f"{describe_position(tokens, pos)}: zero is written INT+ 0 (no negative zero)")
        return (-value if token == "INT-" else value), i

    def vocabulary(self):
        return ["INT+", "INT-", *map(str, range(self.base))]


def _read_sign(tokens, pos) -> int:
    token = tokens[pos] if pos < len(tokens) else ""
    if token not in ("+", "-"):
        raise expected_error(tokens, pos, "a sign token + or -")
    return 1 if token == "+" else -1


def _check_no_negative_zero(tokens, pos, sign: int, mantissa: int) -> None:
    if sign < 0 and mantissa == 0:
        raise ParseError(f"{describe_position(tokens, pos)}: zero is written with '+' (no negative zero)")


ENCODINGS: dict[str, NumberEncoding] = {enc.name: enc for enc in (P10(), P10P(), P1000(), B1999(), FP15(),
                                                                  IntegerEncoding())}
FLOAT_ENCODINGS = ("P10", "P10P", "P1000", "B1999", "FP15")


def get_encoding(name: str) -> NumberEncoding:
    try:
        return ENCODINGS[name]
    except KeyError:
        raise ValueError(f"unknown number encoding {name!r}; available: {', '.join(ENCODINGS)}") from None

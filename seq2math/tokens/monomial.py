"""The polynomial-native representation of Lyapunov examples: the model sees monomials, files stay prefix.

A representation is how a model sees the tokens of an example; files, hypotheses and
every checker keep the published prefix format (docs/formats.md). ``monomial`` writes each
polynomial as its terms, each term its coefficient tokens followed by one exponent token per
variable (``^0`` ... ``^40``)::

    prefix    + * INT+ 3 ^ x0 INT+ 4 * INT- 2 * x0 x1          (3·x0⁴ − 2·x0·x1)
    monomial  INT+ 3 ^4 ^0 INT- 2 ^1 ^1

A coefficient is an integer (``INT± d…``, base-1000 digits as in prefix) or a fraction
``/ INT± p INT+ q``. A system is its equations, each opened by ``<SPECIAL_3>`` (the count
``INT+ n`` is implied). The number of exponent tokens of a term is the number of variables:
all equations of a system have n = their count; a lone V has n = 1 + its largest variable
index, so reading it back needs no context. Terms come in the polynomial's deglex order,
highest first. On BPoly-like systems sources are about 2.3× shorter than prefix trees.

Only polynomials have this form: encoding a non-polynomial expression raises
``RepresentationError`` naming it. Decoding a malformed model output raises too; ``Vocab``
then keeps the raw tokens, which the prefix reader rejects as invalid syntax.
"""

from __future__ import annotations

import functools
from fractions import Fraction

from seq2math.symbolic import poly as P
from seq2math.symbolic.expr import NotPolynomialError, from_poly, to_poly, variables
from seq2math.tokens.prefix import (
    INTEGER_SIGNS,
    PrefixParseError,
    integer_tokens,
    parse_full_expression,
    parse_system,
    poly_tokens,
    system_tokens,
)
from seq2math.tokens.vocab import EQUATION_SEPARATOR

#: the largest exponent a term may carry (the checker's degree limit, tasks/lyapunov.py)
MAX_EXPONENT = 40
EXPONENT_TOKENS = [f"^{e}" for e in range(MAX_EXPONENT + 1)]
_EXPONENT = {token: e for e, token in enumerate(EXPONENT_TOKENS)}
FRACTION = "/"


class RepresentationError(ValueError):
    """Tokens that have no monomial form (encoding) or are not a monomial sequence (decoding)."""


# ---- prefix -> monomial ---------------------------------------------------------------------
def _coefficient(c: Fraction) -> list[str]:
    if c.denominator == 1:
        return integer_tokens(c.numerator)
    return [FRACTION, *integer_tokens(c.numerator), *integer_tokens(c.denominator)]


def poly_monomials(p: P.Poly, n: int) -> list[str]:
    """The terms of ``p`` (in ``n`` variables); the zero polynomial is the one term 0·x⁰."""
    return _term_tokens(P.terms(p), n)


def _term_tokens(items: list[tuple[tuple[int, ...], Fraction]], n: int) -> list[str]:
    """Monomial tokens of nonzero terms in deglex order, highest first (``poly_monomials``)."""
    items = items or [((0,) * n, Fraction(0))]
    out: list[str] = []
    for monom, c in items:
        if max(monom, default=0) > MAX_EXPONENT:
            raise RepresentationError(f"exponent {max(monom)} is above the representation's {MAX_EXPONENT}")
        out.extend(_coefficient(c))
        out.extend(EXPONENT_TOKENS[e] for e in monom)
    return out


def _polynomial(expression, n: int, what: str) -> P.Poly:
    try:
        return to_poly(expression, n)
    except NotPolynomialError as err:
        raise RepresentationError(f"{what} is not a polynomial ({err}): the monomial representation "
                                  f"takes polynomial systems only") from None


# the fast path: a polynomial as ``poly_tokens`` writes it (the generators', the files'), read term by
# term without building a tree or multiplying polynomials; anything else goes the general way
_SIGNS = {"INT+": 1, "INT-": -1}
_DIGITS = {str(d): d for d in range(1000)}
_VARIABLES = {f"x{i}": i for i in range(P.MAX_VARIABLES)}
_MAX_FAST_DIGITS = 20           # longer integers take the general path and its limits


def _fast_integer(tokens: list[str], i: int) -> tuple[int, int] | None:
    sign = _SIGNS.get(tokens[i]) if i < len(tokens) else None
    if sign is None:
        return None
    value, j = 0, i + 1
    while j < len(tokens) and tokens[j] in _DIGITS and j - i <= _MAX_FAST_DIGITS:
        value, j = value * 1000 + _DIGITS[tokens[j]], j + 1
    if j == i + 1 or (sign < 0 and value == 0) or (j < len(tokens) and tokens[j] in _DIGITS):
        return None
    return sign * value, j


def _fast_factor(tokens: list[str], i: int, n: int, exponents: list[int]) -> tuple[int | Fraction, int] | None:
    """One factor of a term at ``tokens[i]``: a coefficient (returned) or xᵢ, ``^ xᵢ INT+ k`` (added to
    ``exponents``; 1 returned), and the index after it; None where it is neither."""
    token = tokens[i] if i < len(tokens) else None
    if token in _SIGNS:
        return _fast_integer(tokens, i)
    if token == "/":
        numerator = _fast_integer(tokens, i + 1)
        denominator = None if numerator is None else _fast_integer(tokens, numerator[1])
        if denominator is None or denominator[0] == 0:
            return None
        return Fraction(numerator[0], denominator[0]), denominator[1]
    if token == "^":
        variable = _VARIABLES.get(tokens[i + 1]) if i + 1 < len(tokens) else None
        power = _fast_integer(tokens, i + 2)
        if variable is None or variable >= n or power is None or power[0] < 0:
            return None
        exponents[variable] += power[0]
        return 1, power[1]
    variable = _VARIABLES.get(token)
    if variable is None or variable >= n:
        return None
    exponents[variable] += 1
    return 1, i + 1


def _fast_terms(tokens: list[str], i: int, n: int) -> tuple[list[tuple[tuple[int, ...], Fraction]], int] | None:
    """The terms of the expanded polynomial at ``tokens[i]`` (a right-nested sum "+ t0 + t1 t2" of terms,
    each a right-nested product "* f0 * f1 f2" of factors, ``_fast_factor``), combined, in deglex order,
    and the index after it; None where the tokens are not of that form."""
    collected: dict[tuple[int, ...], int | Fraction] = {}
    while True:
        more = i < len(tokens) and tokens[i] == "+"
        i += more
        coefficient: int | Fraction = 1
        exponents = [0] * n
        while True:
            chained = i < len(tokens) and tokens[i] == "*"
            i += chained
            read = _fast_factor(tokens, i, n, exponents)
            if read is None:
                return None
            coefficient, i = coefficient * read[0], read[1]
            if not chained:
                break
        key = tuple(exponents)
        collected[key] = collected.get(key, 0) + coefficient
        if not more:
            break
    items = sorted(((m, Fraction(c)) for m, c in collected.items() if c != 0),
                   key=lambda item: (-sum(item[0]), tuple(-e for e in item[0])))
    return items, i


def _fast_encode(tokens: list[str]) -> list[str] | None:
    """``encode_monomial`` of tokens that ``poly_tokens``/``system_tokens`` could have written; None otherwise."""
    if tokens and tokens[0] == "INT+" and len(tokens) > 2 and tokens[2] == EQUATION_SEPARATOR:
        n = _DIGITS.get(tokens[1])
        if not n or n > P.MAX_VARIABLES:
            return None
        out: list[str] = []
        i = 2
        for _ in range(n):
            if i >= len(tokens) or tokens[i] != EQUATION_SEPARATOR:
                return None
            read = _fast_terms(tokens, i + 1, n)
            if read is None:
                return None
            items, i = read
            out.append(EQUATION_SEPARATOR)
            out.extend(_term_tokens(items, n))
        return out if i == len(tokens) else None
    found = [_VARIABLES[t] for t in tokens if t in _VARIABLES]
    n = 1 + max(found, default=0)
    read = _fast_terms(tokens, 0, n)
    if read is None or read[1] != len(tokens):
        return None
    return _term_tokens(read[0], n)


def encode_monomial(tokens: list[str]) -> list[str]:
    """Prefix tokens of a system (``INT+ n <SPECIAL_3> …``) or of one expression -> monomial tokens."""
    fast = _fast_encode(tokens)
    if fast is not None:
        return fast
    try:
        if EQUATION_SEPARATOR in tokens:
            system = parse_system(tokens)
            n = len(system)
            out: list[str] = []
            for i, equation in enumerate(system):
                out.append(EQUATION_SEPARATOR)
                out.extend(poly_monomials(_polynomial(equation, n, f"equation {i}"), n))
            return out
        expression = parse_full_expression(tokens)
    except PrefixParseError as err:
        raise RepresentationError(f"not a prefix expression: {err}") from None
    n = 1 + max(variables(expression), default=0)
    return poly_monomials(_polynomial(expression, n, "the expression"), n)


# ---- monomial -> prefix ---------------------------------------------------------------------
def _integer(tokens: list[str], i: int) -> tuple[int, int]:
    if i >= len(tokens) or tokens[i] not in INTEGER_SIGNS:
        raise RepresentationError(f"expected an integer at token {i}")
    sign, i = INTEGER_SIGNS[tokens[i]], i + 1
    value, start = 0, i
    while i < len(tokens) and tokens[i].isdigit():
        value, i = value * 1000 + int(tokens[i]), i + 1
    if i == start:
        raise RepresentationError(f"an integer without digits at token {start}")
    return sign * value, i


def _terms(tokens: list[str]) -> tuple[list[tuple[tuple[int, ...], Fraction]], int]:
    """The terms of one polynomial's monomial tokens, and its number of variables."""
    items, i, n = [], 0, None
    while i < len(tokens):
        if tokens[i] == FRACTION:
            numerator, i = _integer(tokens, i + 1)
            denominator, i = _integer(tokens, i)
            if denominator <= 0:
                raise RepresentationError(f"a fraction with denominator {denominator}")
            c = Fraction(numerator, denominator)
        else:
            value, i = _integer(tokens, i)
            c = Fraction(value)
        monom = []
        while i < len(tokens) and tokens[i] in _EXPONENT:
            monom.append(_EXPONENT[tokens[i]])
            i += 1
        if n is None:
            n = len(monom)
        if len(monom) != n or n == 0:
            raise RepresentationError(f"a term with {len(monom)} exponents where the first had {n}")
        items.append((tuple(monom), c))
    if n is None:
        raise RepresentationError("an empty polynomial")
    return items, n


def decode_monomial(tokens: list[str]) -> list[str]:
    """Monomial tokens (a system or one polynomial) -> prefix tokens of the same polynomials."""
    if tokens and tokens[0] == EQUATION_SEPARATOR:
        parts: list[list[str]] = []
        for token in tokens:
            if token == EQUATION_SEPARATOR:
                parts.append([])
            else:
                parts[-1].append(token)
        equations = []
        for part in parts:
            items, n = _terms(part)
            if n != len(parts):
                raise RepresentationError(f"an equation in {n} variables in a system of {len(parts)}")
            equations.append(from_poly(P.from_terms(items, n)))
        return system_tokens(equations)
    items, n = _terms(tokens)
    return poly_tokens(P.from_terms(items, n))


@functools.lru_cache(maxsize=4096)
def _encoded(tokens: tuple[str, ...]) -> tuple[str, ...]:
    return tuple(encode_monomial(list(tokens)))


class MonomialCodec:
    """The ``monomial`` representation as a ``Vocab`` codec (see ``seq2math.tokens.vocab``).

    Training measures an example (length filters, token budgets) and then encodes it: the
    recent encodings are kept, so each example is parsed and expanded once."""

    name = "monomial"
    extra_tokens = (*EXPONENT_TOKENS, FRACTION, EQUATION_SEPARATOR)

    def encode(self, tokens: list[str]) -> list[str]:
        return list(_encoded(tuple(tokens)))

    def decode(self, tokens: list[str]) -> list[str]:
        return decode_monomial(tokens)


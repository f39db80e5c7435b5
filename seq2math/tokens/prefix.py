"""The prefix (Polish) token format of the Lyapunov benchmark files (docs/formats.md), both ways.

A line is ``COUNT|SOURCE<TAB>TARGET``. SOURCE is ``INT+ n`` then, n times,
``<SPECIAL_3>`` and one expression (equation i is dx_i/dt); TARGET is one expression (V).
Worked example (ẋ0 = −x0, ẋ1 = −2·x1 + x0³, V = x0² + x1²)::

    1|INT+ 2 <SPECIAL_3> * INT- 1 x0 <SPECIAL_3> + * INT- 2 x1 ^ x0 INT+ 3<TAB>+ ^ x0 INT+ 2 ^ x1 INT+ 2

Integers are a sign token and base-1000 digits, most significant first (``INT- 2 5`` is
−2005); ``FLOAT+ 50 0 10^ INT- 5`` is 50000·10⁻⁵. Parsing keeps the structure it reads
(see ``seq2math.symbolic.expr``) so writing reproduces a line token for token. Only the
canonical spelling of numbers is accepted (no leading zero digit, no ``INT- 0``): any other
spelling would not survive a round trip, so it is reported instead of silently changed.
Limits (``seq2math.tokens.reading``): nesting deeper than ``MAX_NESTING_DEPTH`` (the right
spine of a sum or product not counted), integers of more than ``MAX_NUMBER_DIGITS`` decimal
digits, float exponents beyond ``MAX_DECIMAL_EXPONENT`` and variable indices of more than
``MAX_INDEX_DIGITS`` digits are rejected with a ``PrefixParseError`` naming the token.
"""

from __future__ import annotations

import re

from seq2math.symbolic import poly as P
from seq2math.symbolic.expr import (
    BINARY_OPERATORS,
    CONSTANTS,
    UNARY_OPERATORS,
    Binary,
    Const,
    Expr,
    Float,
    Int,
    Unary,
    Var,
    variables,
)
from seq2math.tokens.reading import (
    MAX_DECIMAL_EXPONENT,
    MAX_INDEX_DIGITS,
    MAX_NESTING_DEPTH,
    MAX_NUMBER_DIGITS,
    ParseError,
)
from seq2math.tokens.vocab import EQUATION_SEPARATOR

INTEGER_SIGNS = {"INT+": 1, "INT-": -1}
FLOAT_SIGNS = {"FLOAT+": False, "FLOAT-": True}
FLOAT_EXPONENT = "10^"
BASE = 1000
MAX_VOCABULARY_VARIABLES = P.MAX_VARIABLES

DIGIT_TOKENS = [str(d) for d in range(BASE)]
VARIABLE_TOKENS = [f"x{i}" for i in range(MAX_VOCABULARY_VARIABLES)]
PREFIX_VOCABULARY: list[str] = [EQUATION_SEPARATOR, *INTEGER_SIGNS, *FLOAT_SIGNS, FLOAT_EXPONENT, *BINARY_OPERATORS,
                                *UNARY_OPERATORS, *CONSTANTS, *VARIABLE_TOKENS, *DIGIT_TOKENS]

_VARIABLE = re.compile(r"x(0|[1-9][0-9]*)")
_DIGIT = re.compile(r"0|[1-9][0-9]{0,2}")
#: base-1000 digit tokens of the longest accepted integer (3 decimal digits each)
_MAX_DIGIT_TOKENS = MAX_NUMBER_DIGITS // 3
#: operators whose right-nested chains consumers walk iteratively (``operands``)
_CHAIN_OPERATORS = ("+", "*")


class PrefixParseError(ParseError):
    """A malformed prefix sequence: names the line (when known), the token index, the token and what was expected."""

    def __init__(self, message: str, index: int | None = None, token: str | None = None,
                 expected: str | None = None, path: str | None = None, line: int | None = None):
        where = ""
        if path is not None:
            where = f"{path}:{line}: " if line is not None else f"{path}: "
        elif line is not None:
            where = f"line {line}: "
        at = ""
        if index is not None:
            at = f" at token {index}" + (f" {token!r}" if token is not None else " (end of input)")
        wanted = f"; expected {expected}" if expected else ""
        super().__init__(f"{where}{message}{at}{wanted}")
        self.detail, self.index, self.token, self.expected = message, index, token, expected
        self.path, self.line = path, line

    def located(self, path: str | None, line: int | None, offset: int = 0) -> "PrefixParseError":
        """The same error with a file position (and token index shifted by ``offset``)."""
        index = None if self.index is None else self.index + offset
        return PrefixParseError(self.detail, index, self.token, self.expected, path, line)


# ---- reading ------------------------------------------------------------------------------
def _digits(tokens: list[str], i: int, what: str) -> tuple[int, int, int]:
    """Read base-1000 digit tokens from ``i``; returns (value, number of digits, next index)."""
    value, count = 0, 0
    while i < len(tokens) and tokens[i].isdigit():
        token = tokens[i]
        if not _DIGIT.fullmatch(token):
            raise PrefixParseError(f"bad base-1000 digit in {what}", i, token, "a digit token 0..999 without leading zero")
        if count == 1 and value == 0:
            raise PrefixParseError(f"leading zero digit in {what}", i - 1, "0", "no leading zero digit")
        value = value * BASE + int(token)
        count += 1
        if count > _MAX_DIGIT_TOKENS:
            raise PrefixParseError(f"{what} longer than {_MAX_DIGIT_TOKENS} digit tokens", i, token,
                                   f"at most {MAX_NUMBER_DIGITS} decimal digits")
        i += 1
    if count == 0:
        raise PrefixParseError(f"{what} without digits", i, tokens[i] if i < len(tokens) else None,
                               "a digit token 0..999")
    return value, count, i


def _integer(tokens: list[str], i: int) -> tuple[int, int]:
    sign_token = tokens[i]
    value, _, j = _digits(tokens, i + 1, f"integer {sign_token}")
    if sign_token == "INT-" and value == 0:
        raise PrefixParseError("negative zero", i, sign_token, "INT+ 0")
    return INTEGER_SIGNS[sign_token] * value, j


def _leaf(tokens: list[str], i: int) -> tuple[Expr, int]:
    token = tokens[i]
    if token in INTEGER_SIGNS:
        value, j = _integer(tokens, i)
        return Int(value), j
    if token in FLOAT_SIGNS:
        mantissa, _, j = _digits(tokens, i + 1, f"float mantissa after {token}")
        if j >= len(tokens) or tokens[j] != FLOAT_EXPONENT:
            raise PrefixParseError("float mantissa not followed by its exponent", j,
                                   tokens[j] if j < len(tokens) else None, FLOAT_EXPONENT)
        if j + 1 >= len(tokens) or tokens[j + 1] not in INTEGER_SIGNS:
            raise PrefixParseError("float exponent is not an integer", j + 1,
                                   tokens[j + 1] if j + 1 < len(tokens) else None, "INT+ or INT-")
        exponent, k = _integer(tokens, j + 1)
        if abs(exponent) > MAX_DECIMAL_EXPONENT:
            raise PrefixParseError(f"float exponent {exponent} out of range", j + 1, tokens[j + 1],
                                   f"|exponent| <= {MAX_DECIMAL_EXPONENT}")
        return Float(FLOAT_SIGNS[token], mantissa, exponent), k
    if token in CONSTANTS:
        return Const(token), i + 1
    match = _VARIABLE.fullmatch(token)
    if match:
        if len(match.group(1)) > MAX_INDEX_DIGITS:
            raise PrefixParseError("variable index too large", i, token[:20] + "...",
                                   f"x<i> with at most {MAX_INDEX_DIGITS} digits")
        return Var(int(match.group(1))), i + 1
    raise PrefixParseError("unexpected token", i, token,
                           "an operator, a variable x<i>, a constant pi/E, INT+/INT-/FLOAT+/FLOAT-")


def parse_expression(tokens: list[str], start: int = 0) -> tuple[Expr, int]:
    """Parse one prefix expression starting at ``tokens[start]``; returns (tree, next index).

    Iterative (an explicit stack of pending operators), so long right-nested sums are fine;
    nesting deeper than ``MAX_NESTING_DEPTH`` is rejected (the tree's consumers recurse).
    """
    # (operator, operands so far, operands needed, nesting depth of the operator)
    pending: list[tuple[str, list[Expr], int, int]] = []
    i = start
    while True:
        if i >= len(tokens):
            raise PrefixParseError("expression ends too early", i, None,
                                   f"an operand of {pending[-1][0]!r}" if pending else "an expression")
        token = tokens[i]
        if token in BINARY_OPERATORS or token in UNARY_OPERATORS:
            pending.append((token, [], 2 if token in BINARY_OPERATORS else 1, _slot_depth(pending, token, i, tokens)))
            i += 1
            continue
        node, i = _leaf(tokens, i)
        while True:
            if not pending:
                return node, i
            operator, children, needed, _ = pending[-1]
            children.append(node)
            if len(children) < needed:
                break
            pending.pop()
            node = Binary(operator, children[0], children[1]) if needed == 2 else Unary(operator, children[0])


def _slot_depth(pending: list[tuple[str, list[Expr], int, int]], token: str, i: int, tokens: list[str]) -> int:
    """Nesting depth of operator ``token`` about to fill the next operand slot of ``pending[-1]``."""
    if not pending:
        return 1
    operator, children, needed, depth = pending[-1]
    if needed == 2 and len(children) == 1 and token == operator and operator in _CHAIN_OPERATORS:
        return depth                                    # the right spine of a chain: walked iteratively
    if depth + 1 > MAX_NESTING_DEPTH:
        raise PrefixParseError(f"expression nested deeper than {MAX_NESTING_DEPTH} levels", i, tokens[i],
                               "a shallower expression")
    return depth + 1


def parse_full_expression(tokens: list[str]) -> Expr:
    """Parse a token list that must hold exactly one expression."""
    if not tokens:
        raise PrefixParseError("empty expression", 0, None, "an expression")
    expression, end = parse_expression(tokens)
    if end != len(tokens):
        raise PrefixParseError("extra tokens after a complete expression", end, tokens[end], "end of expression")
    return expression


def parse_system(tokens: list[str]) -> list[Expr]:
    """Parse ``INT+ n <SPECIAL_3> e1 ... <SPECIAL_3> en`` into n expressions (equation i is dx_i/dt)."""
    if not tokens or tokens[0] != "INT+":
        raise PrefixParseError("a system starts with its number of equations", 0, tokens[0] if tokens else None,
                               "INT+ n")
    count, i = _integer(tokens, 0)
    if not 1 <= count <= MAX_VOCABULARY_VARIABLES:
        raise PrefixParseError(f"number of equations {count} out of range 1..{MAX_VOCABULARY_VARIABLES}", 1,
                               tokens[1])
    equations = []
    for k in range(count):
        if i >= len(tokens) or tokens[i] != EQUATION_SEPARATOR:
            raise PrefixParseError(f"equation {k + 1} of {count} missing", i, tokens[i] if i < len(tokens) else None,
                                   EQUATION_SEPARATOR)
        equation, i = parse_expression(tokens, i + 1)
        equations.append(equation)
    if i != len(tokens):
        raise PrefixParseError(f"extra tokens after {count} equations", i, tokens[i], "end of the system")
    for k, equation in enumerate(equations):
        bad = [v for v in _variable_indices(equation) if v >= count]
        if bad:
            raise PrefixParseError(f"equation {k + 1} uses x{max(bad)} but the system has {count} variables")
    return equations


def _variable_indices(e: Expr) -> set[int]:

    return variables(e)


def parse_benchmark_example(source: list[str], target: list[str], path: str | None = None,
                            line_number: int | None = None) -> tuple[list[Expr], Expr]:
    """The tokens of one benchmark line -> (equations, V); errors name ``path:line_number``.

    Splitting the line itself (``COUNT|``, the tab) is ``seq2math.data.files.parse_text_line``,
    the one reader of the line format; ``seq2math.lyapunov.batch.parse_benchmark_line`` does both.
    """
    try:
        system = parse_system(source)
    except PrefixParseError as err:
        raise err.located(path, line_number) from None
    try:
        lyapunov = parse_full_expression(target)
    except PrefixParseError as err:
        located = err.located(path, line_number)
        raise PrefixParseError("in the target (V): " + located.detail, err.index, err.token, err.expected,
                               path, line_number) from None
    return system, lyapunov


# ---- writing ------------------------------------------------------------------------------
def integer_tokens(value: int) -> list[str]:
    """``INT+ 2 5`` for 2005, ``INT- 1 0`` for −1000, ``INT+ 0`` for 0."""
    sign = "INT-" if value < 0 else "INT+"
    value = abs(value)
    digits = [str(value % BASE)]
    value //= BASE
    while value:
        digits.append(str(value % BASE))
        value //= BASE
    return [sign, *reversed(digits)]


def _unsigned_digits(value: int) -> list[str]:
    return integer_tokens(value)[1:]


def expression_tokens(e: Expr) -> list[str]:
    """Prefix tokens of a tree, exactly as it is structured (iterative preorder)."""
    out: list[str] = []
    stack = [e]
    while stack:
        node = stack.pop()
        if isinstance(node, Binary):
            out.append(node.op)
            stack.append(node.right)
            stack.append(node.left)
        elif isinstance(node, Unary):
            out.append(node.op)
            stack.append(node.arg)
        elif isinstance(node, Var):
            out.append(f"x{node.index}")
        elif isinstance(node, Int):
            out.extend(integer_tokens(node.value))
        elif isinstance(node, Float):
            out.append("FLOAT-" if node.negative else "FLOAT+")
            out.extend(_unsigned_digits(node.mantissa))
            out.append(FLOAT_EXPONENT)
            out.extend(integer_tokens(node.exponent))
        elif isinstance(node, Const):
            out.append(node.name)
        else:
            raise TypeError(f"not an expression node: {node!r}")
    return out


def system_tokens(system: list[Expr]) -> list[str]:
    out = integer_tokens(len(system))
    for equation in system:
        out.append(EQUATION_SEPARATOR)
        out.extend(expression_tokens(equation))
    return out


def format_benchmark_line(system: list[Expr], lyapunov: Expr, count: int = 1) -> str:
    return f"{count}|{' '.join(system_tokens(system))}\t{' '.join(expression_tokens(lyapunov))}"


# ---- polynomials straight to tokens (the generator's fast path) ---------------------------
def _coefficient_tokens(numerator: int, denominator: int) -> list[str]:
    if denominator == 1:
        return integer_tokens(numerator)
    return ["/", *integer_tokens(numerator), *integer_tokens(denominator)]


def poly_tokens(p: P.Poly) -> list[str]:
    """Tokens of ``from_poly(p)`` without building the tree (same output, several times faster)."""
    items = list(p.terms())
    if not items:
        return ["INT+", "0"]
    out: list[str] = []
    last = len(items) - 1
    for k, (monom, c) in enumerate(items):
        if k < last:  # right-nested sum: "+ t0 + t1 t2"
            out.append("+")
        factors = [(i, int(e)) for i, e in enumerate(monom) if e]
        numerator, denominator = int(c.p), int(c.q)
        if not factors:
            out.extend(_coefficient_tokens(numerator, denominator))
            continue
        if numerator != 1 or denominator != 1:
            out.append("*")
            out.extend(_coefficient_tokens(numerator, denominator))
        last_factor = len(factors) - 1
        for position, (i, e) in enumerate(factors):
            if position < last_factor:  # right-nested product: "* x0 * x1 x2"
                out.append("*")
            if e == 1:
                out.append(f"x{i}")
            else:
                out.extend(("^", f"x{i}", *integer_tokens(e)))
    return out

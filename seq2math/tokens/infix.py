"""Reading human (infix) syntax for expressions and systems, with position-accurate errors.

    parse_infix_system("x0' = -x0 + x1^3; x1' = -x1")   # -> [Expr, Expr]
    to_infix(parse_infix("-2*x1 + x0^3"))                 # '-2*x1 + x0^3'

Writing (``to_infix``, ``system_to_infix``, ``str(expr)``) lives with the trees in
``seq2math.symbolic.expr``; this module reads.

Grammar (precedence climbing, lowest first): sums ``+ -`` (left to right), products ``* /``
(also implicit, ``2x0``), unary minus, powers ``^`` or ``**`` (right associative), then
numbers, ``x<i>``, ``pi``, ``E`` and calls ``sqrt exp ln sin cos tan asin acos atan Abs``
(``log``/``abs`` are accepted aliases). Sums are built in the files' convention: right-nested,
with negative terms as ``* INT- k ...`` (so ``-2*x1 + x0^3`` gives ``+ * INT- 2 x1 ^ x0 INT+ 3``).
Decimals are exact: ``0.50`` is mantissa 50, exponent −2 (``FLOAT+ 50 10^ INT- 2``).
Digits are ASCII. Brackets, function calls and powers nested deeper than
``MAX_NESTING_DEPTH`` (``seq2math.tokens.reading``; the parser recurses), numbers of more
than ``MAX_NUMBER_DIGITS`` digits and exponents beyond ``MAX_DECIMAL_EXPONENT`` are rejected.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from seq2math.symbolic.expr import (
    UNARY_OPERATORS,
    Binary,
    Const,
    Expr,
    Float,
    Int,
    Unary,
    Var,
    chain,
    negate,
)
from seq2math.tokens.reading import (
    MAX_DECIMAL_EXPONENT,
    MAX_INDEX_DIGITS,
    MAX_NESTING_DEPTH,
    MAX_NUMBER_DIGITS,
    ParseError,
)

FUNCTION_ALIASES = {name: name for name in UNARY_OPERATORS} | {"log": "ln", "abs": "Abs"}


class InfixParseError(ParseError):
    """A syntax error in infix text; names the character position and shows it."""

    def __init__(self, message: str, text: str, position: int):
        start = max(0, position - 40) if len(text) > 80 else 0   # a long text: the part around the position
        shown = text[start:start + 80] if len(text) > 80 else text
        pointer = shown + "\n" + " " * (position - start) + "^"
        super().__init__(f"{message} at position {position}:\n{pointer}")
        self.position = position


@dataclass(frozen=True)
class _Token:
    kind: str  # "number", "name", "op", "end"
    text: str
    position: int


_TOKEN = re.compile(r"\s*(?:(?P<number>(?:[0-9]+\.?[0-9]*|\.[0-9]+)(?:[eE][+-]?[0-9]+)?)|(?P<name>[A-Za-z_][A-Za-z_0-9]*)"
                    r"|(?P<op>\*\*|[-+*/^()]))")


def _tokenize(text: str) -> list[_Token]:
    tokens, i = [], 0
    while i < len(text):
        if text[i].isspace():
            i += 1
            continue
        match = _TOKEN.match(text, i)
        if not match or match.end() == i:
            raise InfixParseError(f"unexpected character {text[i]!r}", text, i)
        kind = match.lastgroup
        value = match.group(kind)
        tokens.append(_Token(kind, "^" if value == "**" else value, match.start(kind)))
        i = match.end()
    tokens.append(_Token("end", "", len(text)))
    return tokens


class _Parser:
    def __init__(self, text: str):
        self.text = text
        self.tokens = _tokenize(text)
        self.i = 0
        self.depth = 0  # brackets, calls and powers open (each costs a few Python frames)

    def enter(self, token: _Token) -> None:
        """One level deeper; past ``MAX_NESTING_DEPTH`` an error, not a RecursionError."""
        self.depth += 1
        if self.depth > MAX_NESTING_DEPTH // 2:
            raise self.error(f"expression nested deeper than {MAX_NESTING_DEPTH // 2} brackets, calls or powers "
                             f"at {token.text!r}", token)

    @property
    def current(self) -> _Token:
        return self.tokens[self.i]

    def error(self, message: str, token: _Token | None = None) -> InfixParseError:
        token = token or self.current
        return InfixParseError(message, self.text, token.position)

    def expect(self, text: str) -> None:
        if self.current.text != text or self.current.kind != "op":
            found = self.current.text or "end of input"
            raise self.error(f"expected {text!r}, found {found!r}")
        self.i += 1

    def parse(self) -> Expr:
        expression = self.sum()
        if self.current.kind != "end":
            raise self.error(f"unexpected {self.current.text!r} after a complete expression")
        return expression

    def sum(self) -> Expr:
        terms = [self.term()]
        while self.current.kind == "op" and self.current.text in "+-":
            sign = self.current.text
            self.i += 1
            term = self.term()
            terms.append(negate(term) if sign == "-" else term)
        return chain("+", terms)

    def term(self) -> Expr:
        negative = False
        while self.current.kind == "op" and self.current.text in "+-":
            negative ^= self.current.text == "-"
            self.i += 1
        result = self.product()
        return negate(result) if negative else result

    def product(self) -> Expr:
        run = [self.power()]  # a run of '*' factors, right-nested when closed
        while True:
            token = self.current
            if token.kind == "op" and token.text == "*":
                self.i += 1
                run.append(self.power())
            elif token.kind == "op" and token.text == "/":
                self.i += 1
                run = [Binary("/", chain("*", run), self.power())]
            elif token.kind in ("number", "name") or (token.kind == "op" and token.text == "("):
                run.append(self.power())  # implicit multiplication: 2x0, 3(x0 + 1)
            else:
                return chain("*", run)

    def power(self) -> Expr:
        base = self.primary()
        if self.current.kind == "op" and self.current.text == "^":
            self.enter(self.current)
            self.i += 1
            if self.current.kind == "op" and self.current.text in "+-":
                sign = self.current.text
                self.i += 1
                exponent = self.power()
                self.depth -= 1
                return Binary("^", base, negate(exponent) if sign == "-" else exponent)
            exponent = self.power()
            self.depth -= 1
            return Binary("^", base, exponent)
        return base

    def primary(self) -> Expr:
        token = self.current
        if token.kind == "number":
            self.i += 1
            try:
                return _number(token.text)
            except ValueError as err:
                raise self.error(f"{err}: {token.text[:20]!r}", token) from None
        if token.kind == "op" and token.text == "(":
            self.enter(token)
            self.i += 1
            inside = self.sum()
            self.expect(")")
            self.depth -= 1
            return inside
        if token.kind == "name":
            self.i += 1
            return self.name(token)
        found = token.text or "end of input"
        raise self.error(f"expected a number, a variable, a function or '(', found {found!r}", token)

    def name(self, token: _Token) -> Expr:
        name = token.text
        variable = re.fullmatch(r"x_?(0|[1-9][0-9]*)", name)
        if variable:
            if len(variable.group(1)) > MAX_INDEX_DIGITS:
                raise self.error(f"variable index too large in {name[:20]!r}...", token)
            return Var(int(variable.group(1)))
        if name in ("pi", "E"):
            return Const(name)
        if name in FUNCTION_ALIASES:
            self.enter(token)
            self.expect("(")
            argument = self.sum()
            self.expect(")")
            self.depth -= 1
            return Unary(FUNCTION_ALIASES[name], argument)
        raise self.error(f"unknown name {name!r} (variables are x0, x1, ...; functions: "
                         f"{', '.join(UNARY_OPERATORS)})", token)


def _number(text: str) -> Expr:
    """An exact number; ``ValueError`` when it is too long or its exponent out of range."""
    mantissa_text, _, exponent_text = text.lower().partition("e")
    if len(mantissa_text) > MAX_NUMBER_DIGITS + 1:
        raise ValueError(f"number with more than {MAX_NUMBER_DIGITS} digits")
    if len(exponent_text.lstrip("+-").lstrip("0")) > len(str(MAX_DECIMAL_EXPONENT)):
        raise ValueError(f"exponent out of range (|exponent| <= {MAX_DECIMAL_EXPONENT})")
    exponent = int(exponent_text) if exponent_text else 0
    whole, point, fraction = mantissa_text.partition(".")
    if abs(exponent - len(fraction)) > MAX_DECIMAL_EXPONENT:
        raise ValueError(f"exponent out of range (|exponent| <= {MAX_DECIMAL_EXPONENT})")
    if not point and not exponent_text:
        return Int(int(whole))
    mantissa = int((whole or "0") + fraction)
    return Float(False, mantissa, exponent - len(fraction))


def parse_infix(text: str) -> Expr:
    """Parse one infix expression; raise ``InfixParseError`` naming the position."""
    if not text.strip():
        raise InfixParseError("empty expression", text, 0)
    return _Parser(text).parse()


_EQUATION_HEAD = re.compile(r"\s*(?:d\s*)?x_?(0|[1-9][0-9]{0,5})\s*(?:'|/\s*dt)\s*=")


def parse_infix_system(text: str) -> list[Expr]:
    """``"x0' = -x0 + x1^3; x1' = -x1"`` (``;`` or newlines between equations) -> [f0, f1].

    Each equation may be ``x<i>' = ...`` (any order, every index once) or a bare right-hand
    side (taken in order).
    """
    pieces = [(m.start(), m.group()) for m in re.finditer(r"[^;\n]+", text) if m.group().strip()]
    if not pieces:
        raise InfixParseError("empty system", text, 0)
    equations: dict[int, Expr] = {}
    for order, (offset, piece) in enumerate(pieces):
        head = _EQUATION_HEAD.match(piece)
        index = int(head.group(1)) if head else order
        body_start = head.end() if head else 0
        if index in equations:
            raise InfixParseError(f"x{index}' is defined twice", text, offset)
        try:
            equations[index] = parse_infix(piece[body_start:])
        except InfixParseError as err:
            raise InfixParseError(str(err).split(" at position")[0], text, offset + body_start + err.position) from None
    missing = sorted(set(range(len(equations))) - set(equations))
    if missing:
        raise InfixParseError(f"equation for x{missing[0]}' is missing ({len(equations)} equations given)", text, 0)
    return [equations[i] for i in range(len(equations))]

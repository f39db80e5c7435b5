"""Number and matrix encodings: round trips, the rounding rule, zero, ranges, errors."""

from __future__ import annotations

import math
from decimal import Decimal

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from seq2math.tokens.matrices import (
    decode_matrix,
    decode_vector,
    encode_matrix,
    encode_vector,
    read_matrix,
)
from seq2math.tokens.numbers import (
    ENCODINGS,
    FLOAT_ENCODINGS,
    IntegerEncoding,
    get_encoding,
    round3,
    round_to_3_digits,
)

FAST = settings(max_examples=150, deadline=None)
finite = st.floats(allow_nan=False, allow_infinity=False)
FP15_VOCABULARY = frozenset(ENCODINGS["FP15"].vocabulary())


def reference_round(x: float) -> float:
    """3 significant digits, round half to even on repr(x), written independently with string formatting."""
    x = float(x)
    if x == 0:
        return 0.0
    digits = Decimal(repr(abs(x)))
    exponent = digits.adjusted() - 2
    mantissa = (digits / Decimal(10) ** exponent).quantize(Decimal(1), rounding="ROUND_HALF_EVEN")
    return math.copysign(float(mantissa * Decimal(10) ** exponent), x)


# ---- rounding rule ----------------------------------------------------------------------------

@pytest.mark.parametrize("x, expected", [
    (3.14159, 3.14), (-0.5, -0.5), (999.5, 1000.0), (-999.5, -1000.0), (999.4, 999.0), (100.5, 100.0),
    (101.5, 102.0), (0.1225, 0.122), (0.1235, 0.124), (9.995, 10.0), (1e-5, 1e-5), (123456.0, 123000.0),
])
def test_round_half_to_even_examples(x, expected):
    assert round_to_3_digits(x) == expected


@given(finite.filter(lambda x: x != 0))
@FAST
def test_round3_mantissa_range_and_error_bound(x):
    sign, mantissa, exponent = round3(x)
    assert 100 <= mantissa <= 999
    value = sign * mantissa * 10.0 ** exponent if abs(exponent) < 300 else None
    assert round_to_3_digits(x) == reference_round(x)
    if value is not None and math.isfinite(value):
        assert abs(value - x) <= 0.5 * 10.0 ** exponent * (1 + 1e-9)  # half a unit of the third digit


def test_paper_examples():
    assert ENCODINGS["P10"].encode(3.14159) == ["+", "3", "1", "4", "E-2"]
    assert ENCODINGS["P10"].encode(-0.5) == ["-", "5", "0", "0", "E-3"]
    assert ENCODINGS["P10P"].encode(3.14159) == ["+", "3a", "1b", "4c", "E-2"]
    assert ENCODINGS["P1000"].encode(3.14159) == ["+", "314", "E-2"]
    assert ENCODINGS["B1999"].encode(-0.5) == ["N-500", "E-3"]
    assert ENCODINGS["FP15"].encode(3.14159) == ["N314e7"]
    assert ENCODINGS["FP15"].encode(-0.5) == ["N-500e6"]
    assert ENCODINGS["INT"].encode(2005) == ["INT+", "2", "5"]
    assert ENCODINGS["INT"].encode(-1000) == ["INT-", "1", "0"]
    assert ENCODINGS["P1000"].encode(999.5) == ["+", "100", "E1"]


@pytest.mark.parametrize("name, spelling", [
    ("P10", ["+", "0", "0", "0", "E0"]), ("P10P", ["+", "0a", "0b", "0c", "E0"]), ("P1000", ["+", "0", "E0"]), ("B1999", ["N0", "E0"]),
    ("FP15", ["N0e0"]), ("INT", ["INT+", "0"])])
def test_zero_has_its_own_spelling(name, spelling):
    encoding = ENCODINGS[name]
    assert encoding.encode(0.0) == spelling and encoding.encode(-0.0) == spelling
    assert encoding.decode(spelling) == 0


# ---- round trips ------------------------------------------------------------------------------

@pytest.mark.parametrize("name", ["P10", "P10P", "P1000", "B1999"])
@given(x=st.one_of(finite, st.sampled_from([0.0, -0.0, 1e-98, -1e-98, 9.99e100, -5e-99, 1e-300, 1.0])))
@FAST
def test_exponent_encodings_round_trip(name, x):
    encoding = ENCODINGS[name]
    sign, mantissa, exponent = round3(x)
    if exponent > 100:
        with pytest.raises(ValueError, match="too large"):
            encoding.encode(x)
        return
    tokens = encoding.encode(x)
    assert len(tokens) == encoding.tokens_per_number
    assert set(tokens) <= set(encoding.vocabulary())
    expected = 0.0 if exponent < -100 else reference_round(x)  # below E-100: underflow to zero
    assert encoding.decode(tokens) == expected
    assert encoding.encode(encoding.decode(tokens)) == tokens  # canonical: re-encoding is stable


@given(x=st.one_of(finite, st.floats(min_value=-2e-7, max_value=2e-7), st.floats(min_value=5e8, max_value=2e9),
                   st.sampled_from([1e-7, 9.99e-8, 9.999e-8, 5e-10, 4.9e-10, 1.5e-9, 9.99e8, 9.995e8, 1e9])))
@FAST
def test_fp15_round_trip_subnormals_and_overflow(x):
    encoding = ENCODINGS["FP15"]
    tokens = encoding.encode(x)
    assert len(tokens) == 1 and tokens[0] in FP15_VOCABULARY
    value = encoding.decode(tokens)
    rounded = reference_round(x)
    if abs(rounded) >= 1e9:
        assert value == math.copysign(math.inf, x)
    elif abs(rounded) >= 1e-7:
        assert value == rounded
    else:  # subnormal: a multiple of 1e-9 within half a unit
        assert abs(value - x) <= 0.5e-9 * (1 + 1e-9)
        assert value == 0 or 1e-9 <= abs(value) <= 1e-7
    if math.isfinite(value):
        assert encoding.encode(value) == tokens


@given(st.integers(min_value=-10**30, max_value=10**30), st.sampled_from([2, 10, 1000]))
@FAST
def test_integers_round_trip_any_base(value, base):
    encoding = IntegerEncoding(base)
    tokens = encoding.encode(value)
    assert encoding.decode(tokens) == value
    assert set(tokens) <= set(encoding.vocabulary())
    digits = [int(t) for t in tokens[1:]]
    assert sum(d * base ** k for k, d in enumerate(reversed(digits))) == abs(value)
    assert digits[0] != 0 or value == 0


@pytest.mark.parametrize("name", list(ENCODINGS))
@given(values=st.lists(st.integers(-10**6, 10**6), min_size=1, max_size=8))
@FAST
def test_streaming_decode_of_concatenated_numbers(name, values):
    encoding = ENCODINGS[name]
    tokens, positions = [], []
    for v in values:
        positions.append(len(tokens))
        tokens += encoding.encode(v)
    pos = 0
    for v, start in zip(values, positions):
        assert pos == start
        value, pos = encoding.read(tokens, pos)
        assert value == (v if name == "INT" else reference_round(v))
    assert pos == len(tokens)


def test_vocabulary_sizes_and_no_duplicates():
    sizes = {name: len(enc.vocabulary()) for name, enc in ENCODINGS.items()}
    assert sizes == {"P10": 213, "P10P": 233, "P1000": 1203, "B1999": 2200, "FP15": 29001, "INT": 1002}
    for encoding in ENCODINGS.values():
        assert len(set(encoding.vocabulary())) == len(encoding.vocabulary())


# ---- malformed tokens --------------------------------------------------------------------------

@pytest.mark.parametrize("name, tokens, message", [
    ("P10", ["+", "3", "1", "4", "E-x"], "token 4 'E-x': expected an exponent token"),
    ("P10", ["*", "3", "1", "4", "E0"], "token 0 '*': expected a sign token"),
    ("P10", ["+", "3", "12", "4", "E0"], "token 2 '12': expected a digit token"),
    ("P10", ["+", "0", "1", "4", "E0"], "token 1 '0': mantissa 14 has a leading zero"),
    ("P10", ["-", "0", "0", "0", "E0"], "no negative zero"),
    ("P10", ["+", "3", "1"], "token 3: found end of sequence: expected a digit token"),
    ("P10P", ["+", "3a", "1", "4c", "E-2"], "token 2 '1': expected a digit token 0b..9b"),
    ("P10P", ["+", "3a", "4c", "1b", "E-2"], "token 2 '4c': expected a digit token 0b..9b"),
    ("P10P", ["+", "0a", "1b", "4c", "E0"], "token 1 '0a': mantissa 14 has a leading zero"),
    ("P10", ["+", "3a", "1b", "4c", "E-2"], "token 1 '3a': expected a digit token 0..9"),
    ("P1000", ["+", "1000", "E0"], "token 1 '1000': expected a mantissa token"),
    ("P1000", ["+", "0", "E3"], "token 2 'E3': zero must be written with exponent E0"),
    ("P1000", ["+", "314", "E101"], "token 2 'E101': expected an exponent token"),
    ("P1000", ["+", "314", "E-2", "+"], "token 3 '+': unexpected token after a complete number"),
    ("P1000", ["+", "0314", "E-2"], "token 1 '0314'"),
    ("B1999", ["314", "E-2"], "token 0 '314': expected a signed mantissa token"),
    ("B1999", ["N-0", "E0"], "token 0 'N-0'"),
    ("B1999", ["N31", "E0"], "token 0 'N31': mantissa 31 has a leading zero"),
    ("FP15", ["N314e16"], "token 0 'N314e16': expected an FP15 token"),
    ("FP15", ["N31e3"], "token 0 'N31e3': expected a mantissa 100..999"),
    ("FP15", ["314e3"], "token 0 '314e3'"),
    ("INT", ["INT*", "5"], "token 0 'INT*': expected an integer sign token"),
    ("INT", ["INT+"], "token 1: found end of sequence: expected a base-1000 digit"),
    ("INT", ["INT+", "0", "5"], "token 1 '0': expected a leading digit other than 0"),
    ("INT", ["INT-", "0"], "no negative zero"),
    ("INT", ["INT+", "5", "x"], "token 2 'x': unexpected token"),
])
def test_malformed_tokens_are_named(name, tokens, message):
    with pytest.raises(ValueError) as info:
        ENCODINGS[name].decode(tokens)
    assert message in str(info.value)


def test_encode_rejects_non_finite_and_non_integers():
    for name in FLOAT_ENCODINGS:
        with pytest.raises(ValueError, match="non-finite"):
            ENCODINGS[name].encode(float("nan"))
    with pytest.raises(ValueError, match="not an integer"):
        ENCODINGS["INT"].encode(2.5)
    with pytest.raises(ValueError, match="unknown number encoding 'P100'"):
        get_encoding("P100")


# ---- matrices and vectors ---------------------------------------------------------------------

@pytest.mark.parametrize("name", FLOAT_ENCODINGS)
@given(rows=st.integers(1, 4), cols=st.integers(1, 4), seed=st.integers(0, 2**31))
@settings(max_examples=40, deadline=None)
def test_matrix_round_trip(name, rows, cols, seed):
    encoding = ENCODINGS[name]
    matrix = np.random.default_rng(seed).normal(0, 10, (rows, cols))
    tokens = encode_matrix(matrix, encoding)
    assert tokens[:2] == [f"V{rows}", f"V{cols}"]
    assert len(tokens) == 2 + rows * cols * encoding.tokens_per_number
    decoded = decode_matrix(tokens, encoding, shape=(rows, cols))
    assert np.array_equal(decoded, np.vectorize(reference_round)(matrix))
    vector = matrix[0]
    assert np.array_equal(decode_vector(encode_vector(vector, encoding), encoding), decoded[0])


def test_matrix_errors_name_what_is_wrong():
    encoding = ENCODINGS["P1000"]
    tokens = encode_matrix(np.arange(6.0).reshape(2, 3) + 1, encoding)
    with pytest.raises(ValueError, match="matrix V2 V3 needs 6 entries = 18 P1000 tokens after its header, only 17"):
        decode_matrix(tokens[:-1], encoding)
    with pytest.raises(ValueError, match="unexpected token after the complete matrix"):
        decode_matrix(tokens + ["+"], encoding)
    with pytest.raises(ValueError, match="matrix is 2x3, expected 3x2"):
        decode_matrix(tokens, encoding, shape=(3, 2))
    with pytest.raises(ValueError, match="token 1 'X3': expected a dimension token"):
        decode_matrix(["V2", "X3", *tokens[2:]], encoding)
    with pytest.raises(ValueError, match="token 5 'E0x'"):
        decode_matrix(tokens[:5] + ["E0x"] + tokens[6:], encoding)
    matrix, end = read_matrix(tokens + tokens, len(tokens), encoding)  # streaming: second matrix
    assert end == 2 * len(tokens) and matrix[1, 2] == 6.0

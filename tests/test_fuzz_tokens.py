"""Property-based fuzzing of every parser and decoder (docs/reliability.md, "Fuzzing").

Each target of ``seq2math.benchmarks.fuzz_targets`` (the generators ``seq2math bench fuzz``
runs at scale) gets random and garbled inputs drawn by hypothesis: every input is either
accepted or rejected with its target's error type and a message that names the token (or the
file and line); nothing else escapes. Round trips writer -> reader -> writer are identities.
The budget is fixed (``max_examples``) so that this file stays a few seconds on 2 cores.
"""

from __future__ import annotations

import re

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from seq2math.benchmarks.fuzz_inputs import deep_prefix
from seq2math.benchmarks.fuzz_targets import TARGETS
from seq2math.tokens.infix import InfixParseError, parse_infix
from seq2math.tokens.prefix import PrefixParseError, parse_full_expression
from seq2math.tokens.reading import MAX_NESTING_DEPTH

BUDGET = settings(max_examples=60, deadline=None, derandomize=True,
                  suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
SLOW_TARGETS = {"config": 15, "data-file": 30, "problem-file": 30, "infix": 30, "problem-infix": 20}


@pytest.mark.parametrize("name", sorted(TARGETS))
def test_garbled_input_is_accepted_or_rejected_clearly(name):
    target = TARGETS[name]

    @settings(BUDGET, max_examples=SLOW_TARGETS.get(name, 60))
    @given(st.randoms(use_true_random=False))
    def check(rng):
        item = target.make(rng)
        outcome, error = target.outcome(item)
        assert outcome in ("accepted", "rejected"), f"{outcome}: {type(error).__name__}: {error}\ninput: {item!r:.300}"

    check()


@pytest.mark.parametrize("name", sorted(TARGETS))
def test_round_trip_is_identity(name):
    target = TARGETS[name]

    @settings(BUDGET, max_examples=SLOW_TARGETS.get(name, 60) // 2)
    @given(st.randoms(use_true_random=False))
    def check(rng):
        target.round_trip(rng)                   # raises AssertionError when writer -> reader -> writer differs

    check()


@pytest.mark.parametrize("seed", range(3))
def test_ten_thousand_deep_prefix_is_rejected_with_the_token(seed):
    import random

    tokens = deep_prefix(random.Random(seed))
    with pytest.raises(PrefixParseError, match=f"nested deeper than {MAX_NESTING_DEPTH} levels at token"):
        parse_full_expression(tokens)


@pytest.mark.parametrize("text", ["(" * 10_000 + "x0" + ")" * 10_000, "sqrt(" * 10_000 + "x0" + ")" * 10_000,
                                  "x0^" * 10_000 + "2", "(" * 10_000])
def test_ten_thousand_deep_infix_is_rejected_with_the_position(text):
    with pytest.raises(InfixParseError, match="nested deeper than 100 brackets, calls or powers at .* at position"):
        parse_infix(text)


def test_ten_thousand_unary_minus_is_read_iteratively():
    assert str(parse_infix("-" * 10_000 + "x0")) == "x0"       # an even number of signs cancels


def test_long_sums_are_not_nesting():
    """A sum of 5,000 terms is a right spine (walked iteratively): accepted, as before the limit."""
    tokens = ["+", "x0"] * 5000 + ["x1"]
    assert parse_full_expression(tokens) is not None
    assert parse_infix(" + ".join(["x0"] * 5000)) is not None


def test_the_limits_name_the_token():
    with pytest.raises(PrefixParseError, match="variable index too large at token 0"):
        parse_full_expression(["x" + "9" * 5000])
    with pytest.raises(PrefixParseError, match="longer than 1000 digit tokens"):
        parse_full_expression(["INT+"] + ["999"] * 1001)
    with pytest.raises(PrefixParseError, match="float exponent 100000 out of range at token 3"):
        parse_full_expression(["FLOAT+", "1", "10^", "INT+", "100", "0"])
    with pytest.raises(InfixParseError, match="more than 3000 digits"):
        parse_infix("9" * 5000)
    with pytest.raises(InfixParseError, match="exponent out of range"):
        parse_infix("1e99999999")
    with pytest.raises(InfixParseError, match="unexpected character '٣'"):
        parse_infix("٣*x0")                  # digits are ASCII (int() would read U+0663 as 3)


def test_bench_fuzz_reports_a_parser_whose_input_kills_the_process_and_runs_the_others(monkeypatch, capsys):
    import os
    import signal

    from seq2math.benchmarks import fuzz_targets
    from seq2math.benchmarks.fuzz_targets import Target
    from seq2math.cli import main

    def die(_item):           # the process dies, as python-flint's SIGFPE on (-7.9e-10)^(7.1e13) made it
        os.kill(os.getpid(), signal.SIGKILL)

    boom = Target("boom", lambda rng: rng.random(), die, (ValueError,), lambda message, item: True,
                  lambda rng: None)
    monkeypatch.setitem(fuzz_targets.TARGETS, "boom", boom)
    assert main(["bench", "fuzz", "--count", "20", "--targets", "boom,numbers-P10"]) == 1
    out = capsys.readouterr().out
    assert "boom" in out and "CRASHED: the process died" in out
    assert re.search(r"numbers-P10\s+10\s+\d+\s+\d+\s+0\s+0", out), out

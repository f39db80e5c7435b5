"""Lyapunov functions: the exact checks, the methods that search V, and the comparison report.

Modules, in reading order (docs/verification.md says what each verdict proves):

check.py        ``check_candidate``: is V a global Lyapunov (or barrier) function of ẋ = f(x)? The
                entry point; the modules below are its steps
options.py      ``CheckOptions``: what one check asks for (check, time limit, proof, asymptotic), validated once
outcomes.py     typed outcomes of one sign condition (proved, refuted, undecided), no words yet
conditions.py   the sign conditions of a check as exact polynomials, and one SOS program for them
settle.py       settling a solved program's conditions: exact rounding, facial reduction, z3
result.py       ``CheckResult`` (``valid``, ``proof``, ``reason``): the outcomes turned into the answer
falsify.py      numerical falsification: points where a sign condition fails, in milliseconds
nonpoly.py      non-polynomial candidates: numerical falsification only, never a certificate
batch.py        plumbing of the file commands (``verify``, ``solve FILE``, ``baseline``): lines in, JSONL out
report.py       the comparison table of the Lyapunov paper (docs/published.md), run on our test files
generation/     backward, forward and non-polynomial generation of (system, V) pairs (docs/generation.md)
methods/        methods that propose V (model, findlyap, sos, neural) and the one solve loop that proves them

Usage::

    from seq2math.lyapunov.check import check_candidate
    from seq2math.tokens.infix import parse_infix, parse_infix_system

    system = parse_infix_system("x0' = -x0 + x1; x1' = -x0 - x1^3")
    result = check_candidate(system, parse_infix("x0^2 + x1^2"), "lyapunov")
    result.valid, result.proof          # True, 'sos-exact'

This package module imports nothing, so importing a submodule loads only what it needs.
"""

"""Forward generation: filters, determinism, and every accepted example re-verifies exactly."""

from __future__ import annotations

import itertools

import flint
import numpy as np

from seq2math.data.files import format_line
from seq2math.lyapunov.batch import parse_benchmark_line
from seq2math.lyapunov.check import check_candidate
from seq2math.lyapunov.generation.forward import (
    ForwardConfig,
    diverges,
    generate_forward,
    linearly_unstable,
    search_forward,
)
from seq2math.sos.certificates import certificate_document, recheck
from seq2math.symbolic.poly import lie_derivative, ring
from seq2math.tasks.base import make_task


def test_linearisation_filter():
    x0, x1 = ring(2).gens()
    assert linearly_unstable([x0 + x1**2, -x1])
    assert linearly_unstable([x1, x0])                   # saddle
    assert not linearly_unstable([-x0 + x1, -x0 - x1])
    assert not linearly_unstable([-x0**3, -x1])          # degenerate linearisation is left to the SOS search


def test_simulation_filter_catches_finite_time_blow_up():
    x0, x1 = ring(2).gens()
    rng = np.random.default_rng(0)
    assert diverges([-x0 + x0**2 * x1, -x1 + x1**3], rng)     # x1' = -x1 + x1^3 blows up from |x1| > 1
    assert not diverges([-x0 + x1, -x0 - x1**3], rng)


def exact_grid_violation(system, V, check):
    """A rational point where V or dV/dt has the wrong sign, searched here without the package's checker."""
    grid = [flint.fmpq(v, d) for v in range(-4, 5) for d in (1, 3)]
    vdot = lie_derivative(V, system)
    nvars = len(system)
    for point in itertools.product(sorted(set(grid)), repeat=nvars):
        value = V(*point)
        if vdot(*point) > 0 or value < 0 or (check == "lyapunov" and value == 0 and any(point)):
            return point
    return None


def test_accepted_examples_reverify_under_their_check():
    """search_forward keeps a pair only once check_candidate proved it: re-prove each pair from a
    certificate file with the independent exact re-check, and look for a violation on a rational grid."""
    config = ForwardConfig(forward_max_degree=3, forward_max_lyapunov_degree=4)
    for check in ("lyapunov", "barrier"):
        accepted = 0
        for i in range(150):
            found = search_forward(np.random.default_rng([3, i]), config, check)
            if found is None:
                continue
            system, V = found
            accepted += 1
            assert all(int(c) == c for c in V.coeffs())                   # small integer coefficients
            proved = check_candidate(system, V, check, certificate=True)
            assert proved.valid is True and proved.certificate is not None, proved.reason
            ok, why = recheck(certificate_document(system, V, check, proved.certificate["conditions"]))
            assert ok, f"{check}: the certificate of V = {V} does not re-check: {why}"
            assert exact_grid_violation(system, V, check) is None
            if accepted == 4:
                break
        assert accepted == 4, f"{check}: only {accepted} accepted in 150 draws"


def test_generate_forward_through_the_task_is_deterministic_and_parses():
    task = make_task("lyapunov", {"mode": "forward"})
    lines = []
    for i in range(25):
        example = task.generate(np.random.default_rng([11, i]))
        again = task.generate(np.random.default_rng([11, i]))
        assert example == again
        if example is not None:
            lines.append(format_line(*example, task.default_format))
    assert lines
    for line in lines[:3]:
        _, system, V = parse_benchmark_line(line)
        assert check_candidate(system, V, "lyapunov").valid is True


def test_generate_forward_returns_token_lists():
    options = ForwardConfig()
    for i in range(30):
        result = generate_forward(np.random.default_rng([5, i]), options)
        if result is not None:
            source, target = result
            assert source[0] == "INT+" and "<SPECIAL_3>" in source and target
            return
    raise AssertionError("no example accepted in 30 draws")

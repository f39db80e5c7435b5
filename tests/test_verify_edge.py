"""Edge cases of the verifier: a zero -dV/dt certificate, and a solver panic treated as a failed solve."""

import json

import numpy as np
import scipy.sparse as sp

from seq2math.cli import main
from seq2math.sos import certificates, sdp
from seq2math.symbolic.polytools import ring


def test_zero_decrease_condition_has_a_recheckable_certificate(tmp_path, certificate_file_proves):
    # x0' = x1, x1' = -x0 conserves V = x0^2 + x1^2: -dV/dt = 0, an empty sum of squares.
    pairs = tmp_path / "pairs.tsv"
    pairs.write_text("x0' = x1; x1' = -x0\tx0^2 + x1^2\n")
    out = tmp_path / "out.jsonl"
    code = main(["verify", str(pairs), "--infix", "--check", "barrier", "--certificates",
                 str(tmp_path / "certs"), "--exact", "--out", str(out)])
    record = json.loads(out.read_text().splitlines()[0])
    assert code == 0
    assert record["valid"] is True and record["rechecked"] is True
    assert record["proof"] == "sos-exact"
    x0, x1 = ring(2).gens()
    certificate_file_proves(tmp_path / "certs" / "line-1.json", [x1, -x0], x0**2 + x1**2, "barrier")
    decrease = next(c for c in certificates.load(tmp_path / "certs" / "line-1.json")["conditions"]
                    if c["name"] == "decrease")
    assert decrease["polynomial"] == [] and decrease["basis"] == []       # the empty sum of squares


def test_solver_panic_is_a_failed_solve(monkeypatch):
    class PanicException(BaseException):  # the name pyo3 gives a Rust panic
        pass

    class Exploding:
        def __init__(self, *args):
            pass

        def solve(self):
            raise PanicException("Eigval error")

    import clarabel

    monkeypatch.setattr(clarabel, "DefaultSolver", Exploding)
    assert sdp.run_clarabel(sp.csc_matrix((1, 1)), np.zeros(1), sp.csc_matrix((0, 1)), np.zeros(0), [],
                            clarabel.DefaultSettings()) is None


def test_other_errors_are_not_swallowed(monkeypatch):
    class Broken:
        def __init__(self, *args):
            raise KeyboardInterrupt

    import clarabel

    monkeypatch.setattr(clarabel, "DefaultSolver", Broken)
    try:
        sdp.run_clarabel(None, None, None, None, [], None)
    except KeyboardInterrupt:
        pass
    else:  # pragma: no cover - the interrupt must reach the caller
        raise AssertionError("KeyboardInterrupt was swallowed")

"""``seq2math bench solve``: fresh ``seq2math solve`` processes, default methods against a baseline, same run."""

from __future__ import annotations

import re

import pytest

from seq2math.benchmarks import solve as bench_solve
from seq2math.cli import main


def test_bench_solve_times_fresh_processes_both_ways_and_reports_the_textbook_system(capsys, monkeypatch):
    # the textbook system alone, against the SOS search alone, keeps it short; the row names who found V each way
    monkeypatch.setattr(bench_solve, "SYSTEMS", bench_solve.SYSTEMS[:1])
    assert main(["bench", "solve", "--repeats", "1", "--bpoly", "", "--baseline", "sos", "--time-limit", "20"]) == 0
    out = capsys.readouterr().out
    row = next(line for line in out.splitlines() if line.startswith("textbook"))
    default_s, found, baseline_s, found_baseline, ratio = row.split()[1:]
    assert found == "quadratic" and found_baseline == "sos"
    assert float(default_s) > 0 and float(baseline_s) > 0
    assert abs(float(ratio) - float(baseline_s) / float(default_s)) < 0.02
    assert re.search(r"textbook system, default methods: [\d.]+ s, (within|over) the 2 s asked", out)


def test_bench_solve_builds_infix_systems_that_solve_reads_back():
    from seq2math.api import read_system
    from seq2math.benchmarks.sos import cell_systems

    system, _ = cell_systems(2, 4, 1, 0)[0]
    text = bench_solve.infix_system(system)
    assert text.startswith("x0' = ") and "; x1' = " in text
    assert len(read_system(text)) == 2


def test_a_failing_solve_process_is_an_error_with_its_message():
    with pytest.raises(RuntimeError, match="seq2math solve failed .* on \"x0' = -x0; x1'\""):
        bench_solve.timed_solve("x0' = -x0; x1'", None, 5)

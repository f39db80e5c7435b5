"""``seq2math report``: Table 5 layout, certified counts backed by re-checked certificate files,
resumption, and the model column (hypotheses checked best first)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch

from seq2math.lyapunov.methods import METHODS, Method, register_method
from seq2math.lyapunov.report import (
    MethodSpec,
    ReportOptions,
    markdown,
    parse_methods,
    run_report,
    tabulate,
)
from seq2math.sos import certificates
from seq2math.symbolic.expr import from_poly
from seq2math.symbolic.poly import ring
from seq2math.tokens.prefix import format_benchmark_line

X0, X1 = ring(2).gens()
#: (system, a Lyapunov function) — the last system is stable only along x0 (no V exists)
PROBLEMS = [([-X0, -X1], X0**2 + X1**2),
            ([-X0 + X1, -X0 - X1**3], X0**2 + X1**2),
            ([-X0**3, -X1], X0**4 + X1**2),
            ([-X0, X1], X0**2)]
GOOD_V = {0: X0**2 + X1**2, 1: X0**2 + X1**2, 2: X0**4 + X1**2}


@pytest.fixture
def test_file(tmp_path) -> Path:
    path = tmp_path / "tiny-set.txt"
    lines = [format_benchmark_line([from_poly(f) for f in system], from_poly(V)) for system, V in PROBLEMS]
    path.write_text("\n".join([*lines, "1|INT+ 2 <SPECIAL_3> + x0"]) + "\n")  # line 5 is malformed
    return path


@pytest.fixture
def methods():
    """oracle: the right V when it knows one (x0^2 for the rest: a barrier only for line 4);
    liar: a negated V. A counter records the calls, to check that resumption skips done cells."""
    calls = []

    class Oracle(Method):
        name = "oracle"

        def propose(self, search, check, deadline):
            calls.append(len(search.system))
            from seq2math.lyapunov.check import as_polynomials

            polys = as_polynomials(search.system, search.system[0])[0]
            for index, (known, _) in enumerate(PROBLEMS):
                if [str(p) for p in polys] == [str(p) for p in known] and index in GOOD_V:
                    yield GOOD_V[index]
                    return
            yield X0**2

    class Liar(Method):
        name = "liar"

        def propose(self, search, check, deadline):
            yield -(X0**2) - X1**2

    register_method(Oracle)
    register_method(Liar)
    yield calls
    METHODS.pop("oracle")
    METHODS.pop("liar")


def test_parse_methods_names_columns_and_rejects_unknown(methods):
    specs = parse_methods("model:runs/abc,findlyap,oracle")
    assert specs == [MethodSpec("model:abc", "model", "runs/abc"), MethodSpec("findlyap", "findlyap"),
                     MethodSpec("oracle", "oracle")]
    for bad, message in (("nonsense", "unknown method 'nonsense'; choose from"),
                         ("findlyap:3", "only model and guided take an argument"),
                         ("oracle,oracle", "distinct methods, got 'oracle,oracle'"), ("", "--methods needs")):
        with pytest.raises(ValueError, match=message):
            parse_methods(bad)


def test_tabulate_counts_and_markdown_layout():
    records = [{"method": m, "test": t, "line": k, "lyapunov": {"certified": c}, "barrier": {"certified": b},
                "seconds": 1.0}
               for m, t, k, c, b in [("model", "bpoly", 1, True, True), ("model", "bpoly", 2, None, True),
                                     ("findlyap", "bpoly", 1, False, True), ("findlyap", "bpoly", 2, True, True),
                                     ("model", "flyap", 1, True, True)]]
    records.append({"method": "findlyap", "test": "flyap", "line": 1, "error": "hard time limit"})
    report = tabulate(records, ["bpoly", "flyap"], ["model", "findlyap"], {"bpoly": 2, "flyap": 1})
    assert report["cells"]["bpoly"]["model"] | {} == {
        "total": 2, "done": 2, "errors": 0, "lyapunov": 1, "lyapunov_undecided": 1, "barrier": 2,
        "barrier_undecided": 0, "mean_seconds": 1.0}
    assert report["cells"]["flyap"]["findlyap"]["errors"] == 1 and report["cells"]["flyap"]["findlyap"]["lyapunov"] == 0
    table = markdown(report).splitlines()
    header = table.index("| test set | model | findlyap |")              # columns: methods, in the given order
    assert table[header + 2] == "| bpoly (2) | 50.0 (1) | 50.0 (1) |"      # rows: test sets
    assert table[header + 3] == "| flyap (1) | 100.0 (1) | 0.0 (0) |"
    barrier = table.index("| test set | model | findlyap |", header + 1)
    assert table[barrier + 2] == "| bpoly (2) | 100.0 (2) | 100.0 (2) |"


def test_model_plus_guided_column_counts_a_system_certified_by_either():
    rows = [("model", 1, True), ("model", 2, False), ("model", 3, None), ("guided", 1, False), ("guided", 2, True),
            ("guided", 3, False), ("findlyap", 1, False), ("findlyap", 2, False), ("findlyap", 3, True)]
    records = [{"method": m, "test": "bpoly", "line": k, "lyapunov": {"certified": c}, "barrier": {"certified": c},
                "seconds": 1.0} for m, k, c in rows]
    report = tabulate(records, ["bpoly"], ["model", "guided", "findlyap"], {"bpoly": 3})
    assert report["methods"] == ["model", "model + guided", "guided", "findlyap"]
    combined = report["cells"]["bpoly"]["model + guided"]
    assert (combined["lyapunov"], combined["lyapunov_undecided"], combined["mean_seconds"]) == (2, 1, 2.0)
    header = markdown(report).splitlines().index("| test set | model | model + guided | guided | findlyap |")
    assert markdown(report).splitlines()[header + 2] == "| bpoly (3) | 33.3 (1) | 66.7 (2) | 33.3 (1) | 33.3 (1) |"


def test_report_end_to_end_certificates_recheck_and_resume(test_file, tmp_path, methods):
    out = tmp_path / "report"
    options = ReportOptions(time_limit=20, workers=1)
    report = run_report([str(test_file)], parse_methods("oracle,liar"), options, out, progress=False)
    cells = report["cells"]["tiny-set"]
    assert cells["oracle"]["lyapunov"] == 3 and cells["oracle"]["barrier"] == 4 and cells["oracle"]["errors"] == 1
    assert cells["liar"]["lyapunov"] == 0 and cells["liar"]["barrier"] == 0 and cells["oracle"]["total"] == 5
    records = [json.loads(line) for line in (out / "records.jsonl").read_text().splitlines()]
    certified = [(r, c) for r in records for c in ("lyapunov", "barrier") if r.get(c, {}).get("certified")]
    assert len(certified) == 7
    for record, check in certified:                          # every count is a certificate file that re-proves
        document = certificates.load(record[check]["certificate"])
        assert document["check"] == check and certificates.recheck(document)[0]
    malformed = next(r for r in records if r["line"] == 5)
    assert "input error" in malformed["error"] and f"{test_file}:5:" in malformed["error"]
    assert (out / "report.md").read_text().count("| tiny-set (5) |") == 2
    calls = len(methods)
    again = run_report([str(test_file)], parse_methods("oracle,liar"), options, out, progress=False)
    assert len(methods) == calls and again["cells"] == report["cells"]     # resumed: nothing recomputed


def test_report_model_column_checks_hypotheses_best_first(test_file, tmp_path, monkeypatch):
    """The model column with a stub decoder: a wrong V ranked first, the right one second."""
    import seq2math.lyapunov.methods.model as mm
    from seq2math.config import save_config
    from seq2math.model import ModelConfig
    from seq2math.tasks.base import make_task
    from seq2math.tokens.vocab import Vocab
    from seq2math.training import checkpoint as ckpt
    from seq2math.training.config import RunConfig

    run = tmp_path / "run"
    config = RunConfig(task={"name": "lyapunov", "max_variables": 2},
                       model=ModelConfig(d_model=16, n_heads=2, enc_layers=1, dec_layers=1, d_ff=32, max_len=64))
    vocab = Vocab(make_task("lyapunov").vocabulary())
    save_config(config, run)
    vocab.save(run / ckpt.VOCAB_FILE)
    ckpt.save_weights(ckpt.build_model_for(config.model, len(vocab)), run / ckpt.MODEL_FILE, step=1)
    right = "+ ^ x0 INT+ 2 ^ x1 INT+ 2".split()
    monkeypatch.setattr(mm, "decode_hypotheses", lambda loaded, sources, beam, **_: [
        [(["*", "INT-", "1", *right], -0.1), (["+", "x0"], -0.2), (right, -0.3)] for _ in sources])
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        report = run_report([str(test_file)], parse_methods(f"model:{run}"), ReportOptions(time_limit=20, beam=3),
                            tmp_path / "out", progress=False)
    finally:
        torch.set_num_threads(threads)
    cell = report["cells"]["tiny-set"]["model:run"]
    assert cell["lyapunov"] == 3 and cell["barrier"] == 3                  # x0^2 + x1^2 fits lines 1, 2 and 3
    records = {r["line"]: r for r in map(json.loads, (tmp_path / "out" / "records.jsonl").read_text().splitlines())}
    assert records[1]["lyapunov"]["candidates"] == 2 and records[1]["lyapunov"]["V"] == " ".join(right)

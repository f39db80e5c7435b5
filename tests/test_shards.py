"""``--shard i/N`` and ``seq2math data merge``: the shards of a job, merged, are the one-process
output (byte for byte for data files; record for record, timings apart, for verify and report),
and a set of shards that is not one complete job is refused with a message naming the problem."""

from __future__ import annotations

import json

import pytest

from seq2math.cli import main
from seq2math.data.shards import Shard, ShardError, check_shards, parse_shard
from seq2math.lyapunov.methods import METHODS, Method, register_method
from seq2math.symbolic.expr import from_poly
from seq2math.symbolic.poly import ring
from seq2math.tokens.prefix import format_benchmark_line

X0, X1 = ring(2).gens()
GENERATE = ["generate", "transpose", "--dim", "3", "--count", "101", "--seed", "5", "--quiet"]


def test_blocks_partition_every_job_in_order():
    for total in (0, 1, 7, 100, 101):
        for count in (1, 2, 3, 8):
            blocks = [Shard(i, count).block(total) for i in range(count)]
            assert [i for block in blocks for i in block] == list(range(total))
            assert max(map(len, blocks)) - min(map(len, blocks)) <= 1
    assert parse_shard("2/5") == Shard(2, 5) and str(Shard(2, 5)) == "2/5"
    for bad in ("5/5", "-1/3", "1", "a/b", "0/0"):
        with pytest.raises(ValueError, match="i/N"):
            parse_shard(bad)
    with pytest.raises(SystemExit):
        main(["generate", "transpose", "--out", "x.txt", "--shard", "3/2"])


def test_generated_shards_merge_into_the_one_process_file(tmp_path, capsys):
    whole = tmp_path / "whole.txt"
    assert main([*GENERATE, "--out", str(whole)]) == 0
    shards = [tmp_path / f"part{i}.txt" for i in range(3)]
    assert main([*GENERATE, "--out", str(shards[0]), "--shard", "0/3"]) == 0
    assert main([*GENERATE, "--out", str(shards[1]), "--shard", "1/3", "--workers", "2"]) == 0
    assert main([*GENERATE, "--out", str(shards[2]), "--shard", "2/3"]) == 0
    lines = shards[2].read_bytes().splitlines(keepends=True)
    assert len(lines) == 34                                              # 101 = 33 + 34 + 34
    shards[2].write_bytes(b"".join(lines[:10]) + lines[10][:7])            # an interrupted shard ...
    merged = tmp_path / "merged.txt"
    assert main(["data", "merge", *map(str, shards), "--out", str(merged)]) == 2
    assert "part2.txt: shard 2/3 is incomplete: 10 of 34 lines" in capsys.readouterr().err
    assert main([*GENERATE, "--out", str(shards[2]), "--shard", "2/3", "--resume"]) == 0   # ... resumed
    assert main(["data", "merge", str(shards[2]), str(shards[0]), str(shards[1]), "--out", str(merged)]) == 0
    assert merged.read_bytes() == whole.read_bytes()
    config = json.loads((tmp_path / "merged.txt.config.json").read_text())
    assert "shard" not in config and config["count"] == 101 and config["seed"] == 5


def test_merge_refuses_shards_that_are_not_one_complete_job(tmp_path, capsys):
    parts = {}
    for name, extra in {"a0": ["--shard", "0/2"], "a1": ["--shard", "1/2"], "b1": ["--shard", "1/2", "--seed", "6"],
                        "c1": ["--shard", "1/3"], "whole": []}.items():
        parts[name] = str(tmp_path / f"{name}.txt")
        assert main([*GENERATE, "--out", parts[name], *extra]) == 0
    out = str(tmp_path / "merged.txt")
    cases = [([parts["a0"]], "shard 1/2 is missing"),
             ([parts["a0"], parts["a0"]], "shard 0/2 is given twice"),
             ([parts["a0"], parts["b1"]], "not shards of one job: identity"),
             ([parts["a0"], parts["c1"]], "not shards of one job: shards"),
             ([parts["whole"]], "not the output of a --shard run")]
    for inputs, message in cases:
        assert main(["data", "merge", *inputs, "--out", out]) == 2
        assert message in capsys.readouterr().err
    with pytest.raises(ShardError, match="no such shard"):
        check_shards([str(tmp_path / "absent.txt")])


def _timeless(value):
    """A record without its timings (``seconds``, ``decode_seconds``, at any depth)."""
    if isinstance(value, dict):
        return {k: _timeless(v) for k, v in value.items() if "seconds" not in k}
    if isinstance(value, list):
        return [_timeless(v) for v in value]
    return value


def _records(path) -> list[dict]:
    return [_timeless(json.loads(line)) for line in path.read_text().splitlines()]


def test_verify_shards_merge_into_the_one_process_records(tmp_path, capsys):
    pairs = [([-X0 + X1, -X0 - X1**3], X0**2 + X1**2), ([-X0, X1], X0**2), ([-X0**3, -X1], X0**4 + X1**2),
             ([-X0 + X1, -X0 - X1**3], -(X0**2) - X1**2), ([-X0, -X1], X0**2 + X1**2)]
    data = tmp_path / "pairs.txt"
    lines = [format_benchmark_line([from_poly(f) for f in s], from_poly(V)) for s, V in pairs]
    data.write_text(lines[0] + "\n# a comment\n\n" + "\n".join(lines[1:]) + "\n")
    whole, parts = tmp_path / "whole.jsonl", [tmp_path / f"part{i}.jsonl" for i in range(2)]
    assert main(["verify", str(data), "--out", str(whole)]) == 0
    for i, part in enumerate(parts):
        assert main(["verify", str(data), "--out", str(part), "--shard", f"{i}/2"]) == 0
    assert [r["line"] for r in _records(parts[0])] == [1, 4]                 # blocks of problem lines
    assert main(["verify", str(data), "--shard", "0/2"]) == 2                  # a shard needs --out
    assert "needs --out" in capsys.readouterr().err
    merged = tmp_path / "merged.jsonl"
    assert main(["data", "merge", *map(str, parts), "--out", str(merged)]) == 0
    assert _records(merged) == _records(whole)
    assert [r["valid"] for r in _records(merged)] == [True, False, True, False, True]
    summary = json.loads((tmp_path / "merged.jsonl.summary.json").read_text())
    assert summary["counts"] == json.loads((tmp_path / "whole.jsonl.summary.json").read_text())["counts"]


@pytest.fixture
def squares():
    class Squares(Method):
        name = "squares"

        def propose(self, search, check, deadline):
            yield X0**2 + X1**2

    register_method(Squares)
    yield
    METHODS.pop("squares")


def test_report_shards_merge_into_the_one_process_report(tmp_path, squares):
    systems = [[-X0, -X1], [-X0, X1], [-X0 + X1, -X0 - X1**3], [X0, -X1], [-X0**3, -X1]]
    tests = []
    for name, rows in (("first", systems), ("second", systems[::-1][:3])):
        tests.append(tmp_path / f"{name}.txt")
        tests[-1].write_text("".join(format_benchmark_line([from_poly(f) for f in s], from_poly(X0)) + "\n"
                                     for s in rows))
    common = ["report", *map(str, tests), "--methods", "squares", "--time-limit", "20", "--quiet"]
    assert main([*common, "--out", str(tmp_path / "whole")]) == 0
    for i in range(2):
        assert main([*common, "--out", str(tmp_path / f"part{i}"), "--shard", f"{i}/2"]) == 0
    merged = tmp_path / "merged"
    assert main(["data", "merge", str(tmp_path / "part1"), str(tmp_path / "part0"), "--out", str(merged)]) == 0
    def records(directory):                                   # certificate paths name their own directory
        return _records(directory / "records.jsonl"), str(directory)

    (ours, here), (theirs, there) = records(merged), records(tmp_path / "whole")
    assert json.dumps(ours).replace(here, "DIR") == json.dumps(theirs).replace(there, "DIR")
    for record in ours:
        assert all(record.get(c, {}).get("certificate", here).startswith(here) for c in ("lyapunov", "barrier"))
    report, whole = (json.loads((d / "report.json").read_text()) for d in (merged, tmp_path / "whole"))
    timeless = ({t: {m: _timeless(c) for m, c in row.items()} for t, row in r["cells"].items()} for r in (report, whole))
    assert next(timeless) == next(timeless)
    assert report["cells"]["first"]["squares"]["lyapunov"] == 3
    certified = sorted(p.name for p in (merged / "certificates" / "squares" / "first").iterdir())
    assert certified == sorted(p.name for p in (tmp_path / "whole" / "certificates" / "squares" / "first").iterdir())


def test_solve_file_shards_merge_into_the_one_process_records(tmp_path, squares):
    data = tmp_path / "systems.txt"
    systems = [[-X0, -X1], [-X0, X1], [-X0 + X1, -X0 - X1**3]]
    data.write_text("".join(format_benchmark_line([from_poly(f) for f in s], from_poly(X0)) + "\n" for s in systems))
    common = ["solve", str(data), "--methods", "squares", "--time-limit", "20"]
    assert main([*common, "--out", str(tmp_path / "whole.jsonl")]) == 0
    parts = [str(tmp_path / f"part{i}.jsonl") for i in range(2)]
    for i, part in enumerate(parts):
        assert main([*common, "--out", part, "--shard", f"{i}/2"]) == 0
    assert main(["data", "merge", *parts, "--out", str(tmp_path / "merged.jsonl")]) == 0
    merged = _records(tmp_path / "merged.jsonl")
    assert merged == _records(tmp_path / "whole.jsonl") and [r["found"] for r in merged] == [True, False, True]

"""``seq2math data``: dedup, split without overlap, mix by counts and weights, stats; malformed lines."""

from pathlib import Path

import pytest

from seq2math.cli import main
from seq2math.commands.data import parse_mix_spec, read_records

# a copy of shared/examples/prefix-format.txt (hand-written for this project), so a bare clone tests it
EXAMPLES = Path(__file__).resolve().parent / "data" / "prefix-format.txt"


@pytest.fixture(scope="module")
def generated(tmp_path_factory):
    directory = tmp_path_factory.mktemp("data")
    backward = directory / "bwd.txt"
    assert main(["generate", "lyapunov", "--max-variables", "3", "--count", "300", "--seed", "0",
                 "--out", str(backward), "--quiet"]) == 0
    nonpoly = directory / "np.txt"
    assert main(["generate", "lyapunov", "--nonpoly", "--max-variables", "3", "--count", "40", "--seed", "1",
                 "--out", str(nonpoly), "--quiet"]) == 0
    return directory, backward, nonpoly


def _lines(path):
    return Path(path).read_text().splitlines()


def test_dedup_merges_counts_and_keeps_order(generated, tmp_path):
    _, backward, _ = generated
    lines = _lines(backward)
    doubled = tmp_path / "doubled.txt"
    doubled.write_text("\n".join(lines[:50] + lines[:20] + ["not a data line"]) + "\n")
    out = tmp_path / "dedup.txt"
    assert main(["data", "dedup", str(doubled), "--out", str(out)]) == 0
    result = _lines(out)
    assert len(result) == 50
    assert [line.split("|", 1)[1] for line in result] == [line.split("|", 1)[1] for line in lines[:50]]
    assert [line.split("|")[0] for line in result] == ["2"] * 20 + ["1"] * 30
    assert main(["data", "dedup", str(doubled), "--out", str(tmp_path / "x.txt"), "--strict"]) == 2


def test_split_has_no_source_overlap(generated, tmp_path):
    _, backward, _ = generated
    lines = _lines(backward)
    # the same system with two different targets must stay in one part
    twin = lines[0].split("\t")[0] + "\t+ ^ x0 INT+ 2 ^ x1 INT+ 2"
    data = tmp_path / "data.txt"
    data.write_text("\n".join(lines + [twin]) + "\n")
    out_dir = tmp_path / "splits"
    assert main(["data", "split", str(data), "--valid", "30", "--test", "40", "--seed", "3",
                 "--out-dir", str(out_dir)]) == 0
    parts = {name: read_records(out_dir / f"{name}.txt")[0] for name in ("train", "valid", "test")}
    sources = {name: {r.source for r in records} for name, records in parts.items()}
    assert len(sources["valid"]) == 30 and len(sources["test"]) == 40
    assert not (sources["train"] & sources["valid"] or sources["train"] & sources["test"]
                or sources["valid"] & sources["test"])
    assert sum(len(records) for records in parts.values()) == len(lines) + 1
    again = tmp_path / "again"
    assert main(["data", "split", str(data), "--valid", "30", "--test", "40", "--seed", "3",
                 "--out-dir", str(again)]) == 0
    assert (again / "test.txt").read_text() == (out_dir / "test.txt").read_text()
    assert main(["data", "split", str(data), "--valid", "300", "--test", "40", "--out-dir", str(again)]) == 2


def test_mix_by_count_and_weight(generated, tmp_path):
    _, backward, nonpoly = generated
    out = tmp_path / "mix.txt"
    assert main(["data", "mix", str(backward), f"{nonpoly}:25", "--out", str(out), "--seed", "0"]) == 0
    mixed = _lines(out)
    assert len(mixed) == 325
    assert set(_lines(backward)) <= set(mixed)
    assert len(set(mixed) & set(_lines(nonpoly))) == 25
    weighted = tmp_path / "weighted.txt"
    assert main(["data", "mix", f"{backward}:0.75", f"{nonpoly}:0.25", "--count", "40", "--out", str(weighted)]) == 0
    lines = _lines(weighted)
    assert len(lines) == 40 and len(set(lines) & set(_lines(nonpoly))) == 10
    assert main(["data", "mix", f"{nonpoly}:0.5", "--out", str(tmp_path / "bad.txt")]) == 2  # weights need --count
    assert main(["data", "mix", f"{nonpoly}:41", "--out", str(tmp_path / "bad.txt")]) == 2  # more than available
    assert parse_mix_spec("a:b/c.txt") == ("a:b/c.txt", "all", None)


def test_stats_reports_sizes_and_malformed_lines(generated, tmp_path, capsys):
    _, backward, _ = generated
    data = tmp_path / "data.txt"
    data.write_text(EXAMPLES.read_text() + "1|INT+ 2 <SPECIAL_3> x0\tx0\nno tab here\n")
    assert main(["data", "stats", str(data)]) == 0
    captured = capsys.readouterr()
    assert "5 examples, 2 malformed lines skipped" in captured.out
    assert "non-polynomial: 1, polynomial: 4" in captured.out
    assert "data.txt:6:" in captured.err and "data.txt:7:" in captured.err
    assert "    3 | " in captured.out  # one three-variable system in the histogram of variables
    assert main(["data", "stats", str(backward)]) == 0
    out = capsys.readouterr().out
    for name in ("variables", "system degree", "V degree", "source tokens", "target tokens", "system terms"):
        assert name + ": min" in out


def test_tsv_and_jsonl_files(tmp_path, capsys):
    data = tmp_path / "linalg.txt"
    data.write_text("V2 V2 + 1 E0\tV2 V2 - 1 E0\nV2 V2 + 1 E0\tV2 V2 - 1 E0\n"
                    '{"input": "a b", "target": "c"}\n')
    out = tmp_path / "d.txt"
    assert main(["data", "dedup", str(data), "--out", str(out)]) == 0
    assert _lines(out) == ["V2 V2 + 1 E0\tV2 V2 - 1 E0", '{"input": "a b", "target": "c"}']
    assert main(["data", "stats", str(out)]) == 0
    assert "2 examples" in capsys.readouterr().out

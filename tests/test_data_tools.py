"""``seq2math data``: dedup, split without overlap, exclude, mix by counts and weights, stats; malformed lines."""

import hashlib
from pathlib import Path

import pytest

from seq2math.cli import main
from seq2math.data.files import read_records
from seq2math.data.tools import MixSpec, parse_mix_spec

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
    sources = {name: {r.source_text for r in records} for name, records in parts.items()}
    assert len(sources["valid"]) == 30 and len(sources["test"]) == 40
    assert not (sources["train"] & sources["valid"] or sources["train"] & sources["test"]
                or sources["valid"] & sources["test"])
    assert sum(len(records) for records in parts.values()) == len(lines) + 1
    again = tmp_path / "again"
    assert main(["data", "split", str(data), "--valid", "30", "--test", "40", "--seed", "3",
                 "--out-dir", str(again)]) == 0
    assert (again / "test.txt").read_text() == (out_dir / "test.txt").read_text()
    assert main(["data", "split", str(data), "--valid", "300", "--test", "40", "--out-dir", str(again)]) == 2


def test_exclude_drops_the_systems_of_the_test_files(generated, tmp_path):
    _, backward, nonpoly = generated
    lines = _lines(backward)
    # a test file holding systems 5 and 9 of the data, the second with another V
    test = tmp_path / "test.txt"
    test.write_text(lines[5] + "\n" + lines[9].split("\t")[0] + "\t+ ^ x0 INT+ 2 ^ x1 INT+ 2\n")
    out = tmp_path / "train.txt"
    assert main(["data", "exclude", str(backward), "--against", str(test), str(nonpoly), "--out", str(out)]) == 0
    kept = _lines(out)
    assert kept == [line for i, line in enumerate(lines) if i not in (5, 9)]
    banned = {r.source_text for r in read_records(test)[0]}
    assert not banned & {r.source_text for r in read_records(out)[0]}
    assert main(["data", "exclude", str(backward), "--against", str(test), "--keep", "7",
                 "--out", str(out)]) == 0
    assert _lines(out) == [line for i, line in enumerate(lines[:9]) if i != 5][:7]
    assert main(["data", "exclude", str(backward), "--against", str(test), "--out", str(backward)]) == 2


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
    assert parse_mix_spec("a:b/c.txt") == MixSpec("a:b/c.txt", "all", None)
    assert parse_mix_spec("f.txt:300") == MixSpec("f.txt", "count", 300)
    assert parse_mix_spec("f.txt:0.25") == MixSpec("f.txt", "weight", 0.25)
    with pytest.raises(ValueError, match="after ':'"):
        parse_mix_spec("f.txt:lots")


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


# ---- the same outputs as before the tools moved to seq2math.data ----------------------------
# sha256 (first 16 hex digits) of the inputs below and of the outputs of main's code at commit
# 5fd0eb3 (before the tools moved out of seq2math/commands/data.py), run on the same inputs.
INPUT_HASHES = {"bwd.txt": "7d88451885c8f127", "np.txt": "156689909c1e709a", "tr.txt": "f9fd5d74dfb72e49",
                "tr.jsonl": "30eb5ef94dccb790", "doubled.txt": "e54f7e616740f57e", "twin.txt": "f1aa2412c08225f6",
                "mixed_formats.txt": "3e4b847dceeb219e"}
OUTPUT_HASHES = {
    "dedup_doubled.txt": "f7d4ffae4046a303", "dedup_tsv.txt": "84ed3ec5d4c3bb17",
    "split_bwd/train.txt": "b254e0e5b65119df", "split_bwd/valid.txt": "e674e8c87f352e35",
    "split_bwd/test.txt": "76427bcc92a1fe42", "split_tsv/train.txt": "fcca06b5a53b89e6",
    "split_tsv/valid.txt": "3045a69a0f9e4a86", "split_tsv/test.txt": "262075603d83d44d",
    "mix_count.txt": "4cda6b5b9b218026", "mix_weight.txt": "948fe174a07b219a", "mix_noshuf.txt": "cd6512e982aee99e",
}
STATS_HASHES = {"bwd.txt": "2e3bf2a22d924318", "np.txt": "766a7289fb30a2a6", "doubled.txt": "bc9f43e093fdc844",
                "mixed_formats.txt": "e6fd40d90bb1193f", "tr.jsonl": "5bc87de187e12757"}


def _hash(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()[:16]


def _write(path, lines):
    path.write_text("".join(line + "\n" for line in lines))


def test_outputs_are_those_of_the_code_before_the_move(generated, tmp_path, capsys):
    directory, backward, nonpoly = generated
    for fmt, name in (("default", "tr.txt"), ("jsonl", "tr.jsonl")):
        assert main(["generate", "transpose", "--dim", "3", "--count", "60", "--seed", "2", "--format", fmt,
                     "--out", str(directory / name), "--quiet"]) == 0
    bwd, tr, trj = _lines(backward), _lines(directory / "tr.txt"), _lines(directory / "tr.jsonl")
    _write(directory / "doubled.txt", bwd[:50] + bwd[:20] + [
        "not a data line", "x|INT+ 1 <SPECIAL_3> x0\tx0", "1|INT+ 2 <SPECIAL_3> x0\tx0", "", '{"input": 3}'
    ] + ["3|" + line.split("|", 1)[1] for line in bwd[9:15]])
    _write(directory / "twin.txt", bwd + [bwd[0].split("\t")[0] + "\t+ ^ x0 INT+ 2 ^ x1 INT+ 2"])
    _write(directory / "mixed_formats.txt", tr[:20] + tr[:10] + trj[:5] + trj[:3] + _lines(nonpoly)[:3]
           + ["a\tb\tc", '{"input": "a  b", "target": " c"}'])
    assert {name: _hash((directory / name).read_bytes()) for name in INPUT_HASHES} == INPUT_HASHES

    def data(*args):
        assert main(["data", *[str(a) for a in args]]) == 0

    out = tmp_path
    data("dedup", directory / "doubled.txt", "--out", out / "dedup_doubled.txt")
    data("dedup", directory / "mixed_formats.txt", "--out", out / "dedup_tsv.txt")
    data("split", directory / "twin.txt", "--valid", 30, "--test", 40, "--seed", 3, "--out-dir", out / "split_bwd")
    data("split", directory / "tr.txt", "--valid", 5, "--test", 7, "--seed", 1, "--out-dir", out / "split_tsv")
    data("mix", backward, f"{nonpoly}:25", "--out", out / "mix_count.txt", "--seed", 0)
    data("mix", f"{backward}:0.75", f"{nonpoly}:0.25", "--count", 40, "--out", out / "mix_weight.txt", "--seed", 5)
    data("mix", f"{directory / 'tr.txt'}:all", f"{directory / 'tr.jsonl'}:10", "--no-shuffle",
         "--out", out / "mix_noshuf.txt", "--seed", 2)
    assert {name: _hash((out / name).read_bytes()) for name in OUTPUT_HASHES} == OUTPUT_HASHES
    capsys.readouterr()
    printed = {}
    for name in STATS_HASHES:
        data("stats", directory / name)
        printed[name] = _hash(capsys.readouterr().out.replace(f"{directory}/", "DIR/").encode())
    assert printed == STATS_HASHES

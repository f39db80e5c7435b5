"""CLI-level fuzzing: the file and string commands on hostile input (docs/reliability.md, "Fuzzing").

Random bytes, truncated lines, huge integers, 10,000-deep nesting, NaN/inf literals, CRLF,
BOM, NUL and combining characters reach ``verify FILE``, ``solve "..."``, ``solve --file`` and
``data stats``: no Python traceback reaches the user, a whole-input error exits 2 with
``seq2math COMMAND: error:`` naming the file, line and token, and a bad line of a file
command is recorded and reported as ``line N`` while the others are processed.
"""

from __future__ import annotations

import json
import random
import subprocess
import sys

import pytest

from seq2math.benchmarks.fuzz_inputs import mutate_text, random_bytes_text
from seq2math.cli import main
from seq2math.config import ConfigError, load_config
from seq2math.training.config import RunConfig

GOOD = "1|INT+ 1 <SPECIAL_3> * INT- 1 x0\t^ x0 INT+ 2"
HOSTILE_LINES = [
    GOOD[:20],                                                       # truncated
    "1|INT+ 1 <SPECIAL_3> * INT- " + "999 " * 2000 + "x0\tx0",       # a 6000-digit integer
    "1|INT+ 1 <SPECIAL_3> " + "sqrt " * 10_000 + "x0\tx0",           # 10,000-deep nesting
    "1|INT+ 1 <SPECIAL_3> * nan x0\t^ x0 INT+ 2",                    # NaN literal
    "1|INT+ 1 <SPECIAL_3> * inf x0\t^ x0 INT+ 2",
    "1|INT+ 1 <SPECIAL_3> * INT- 1 x0\x00\t^ x0 INT+ 2",             # NUL
    "1|INT+ 1 <SPECIAL_3> * INT- 1 x\u03010\t^ x0 INT+ 2",           # combining accent
    "9" * 5000 + "|" + GOOD[2:],                                     # a 5000-digit count
]


def _run(argv, capsys):
    code = main(argv)
    out, err = capsys.readouterr()
    assert "Traceback" not in out + err
    return code, out, err


def test_verify_records_every_hostile_line_and_names_it(tmp_path, capsys):
    path = tmp_path / "in.txt"
    path.write_bytes(("\ufeff" + "\r\n".join([GOOD, *HOSTILE_LINES]) + "\r\n").encode("utf-8"))
    code, out, err = _run(["verify", str(path), "--time-limit", "20"], capsys)
    records = [json.loads(line) for line in out.splitlines()]
    assert code == 0 and [r["line"] for r in records] == list(range(1, len(HOSTILE_LINES) + 2))
    assert records[0]["valid"] is True                              # BOM and CRLF: the good line still proves
    for record in records[1:]:
        assert record["error"] and f"input error: {path}:{record['line']}:" in record["reason"]
        assert "token" in record["reason"] or "count" in record["reason"] or "tab" in record["reason"]
        assert f"line {record['line']}: input error" in err
    assert "nested deeper than" in records[3]["reason"] and "longer than 1000 digit tokens" in records[2]["reason"]


def test_undecodable_bytes_exit_2_naming_file_line_and_byte(tmp_path, capsys):
    path = tmp_path / "in.txt"
    path.write_bytes(GOOD.encode() + b"\n" + b"1|INT+ \xff\xfe\n")
    code, _, err = _run(["verify", str(path)], capsys)
    assert code == 2 and f"seq2math verify: error: {path}:2: not UTF-8 text: byte 0xff" in err
    code, _, err = _run(["solve", "--file", str(path), "--time-limit", "5"], capsys)
    assert code == 2 and f"{path}:2: not UTF-8 text" in err
    code, _, err = _run(["data", "stats", str(path)], capsys)
    assert code == 0 and f"skipping malformed line {path}:2: not UTF-8 text" in err


@pytest.mark.parametrize("system", [
    "x0' = " + "(" * 10_000 + "x0" + ")" * 10_000,                  # also too long to be a file name
    "x0' = -" + "9" * 5000 + "*x0",
    "x0' = -nan*x0", "x0' = -inf*x0", "x0' = -1e99999999*x0", "x0' = -x0\x00", "x0' = -x\u03010",
    "x0' = -\u0663*x0", "x0' = ", "=",
])
def test_solve_rejects_a_hostile_system_with_exit_2(system, capsys):
    code, _, err = _run(["solve", system, "--time-limit", "5"], capsys)
    assert code == 2 and err.startswith("seq2math solve: error: cannot read the system") and "position" in err


def test_solve_file_and_data_stats_on_random_garbage(tmp_path, capsys):
    rng = random.Random(0)
    lines = [GOOD] + [mutate_text(rng, GOOD) for _ in range(6)] + [random_bytes_text(rng) for _ in range(3)]
    path = tmp_path / "in.txt"
    path.write_text("\n".join(line.replace("\n", " ") for line in lines) + "\n", encoding="utf-8")
    code, out, err = _run(["solve", "--file", str(path), "--time-limit", "5", "--out", str(tmp_path / "o.jsonl")],
                          capsys)
    records = [json.loads(line) for line in (tmp_path / "o.jsonl").read_text().splitlines()]
    assert code == 0 and len(records) >= 2 and records[0]["found"] is True
    for record in records:
        if record.get("error"):
            assert f"input error: {path}:{record['line']}:" in record["reason"]
    code, out, err = _run(["data", "stats", str(path)], capsys)
    assert code == 0 and "examples" in out
    assert all(line.startswith(f"warning: skipping malformed line {path}:") for line in err.splitlines())


def test_ten_thousand_deep_yaml_is_a_config_error(tmp_path):
    path = tmp_path / "deep.yaml"
    path.write_text("model: " + "[" * 10_000 + "]" * 10_000)
    with pytest.raises(ConfigError, match="nested too deeply"):
        load_config(RunConfig, path)
    path.write_bytes(b"model:\n  d_model: \xff\n")
    with pytest.raises(ConfigError, match="not UTF-8"):
        load_config(RunConfig, path)
    with pytest.raises(ConfigError, match="model.d_model: expected an integer"):
        load_config(RunConfig, None, ["model.d_model=[1]"])
    with pytest.raises(ConfigError, match="train.lr: expected a number, got 'nan'"):
        load_config(RunConfig, None, ["train.lr=nan"])


def test_a_real_process_prints_no_traceback(tmp_path):
    path = tmp_path / "in.txt"
    path.write_bytes(b"\xff" + GOOD.encode())
    for argv in (["verify", str(path)], ["solve", "x0' = " + "(" * 10_000 + "x0"]):
        done = subprocess.run([sys.executable, "-m", "seq2math.cli", *argv], capture_output=True, text=True,
                              timeout=120)
        assert done.returncode == 2 and "Traceback" not in done.stderr and "error:" in done.stderr

"""seq2math.data.files: the one reader gives back what the one writer wrote, for every task and
format; malformed lines are named FILE:LINE. seq2math.tokens.vocab: the one home of special tokens."""

import ast
import json
from pathlib import Path

import pytest

from seq2math.data.files import (
    RecordReader,
    format_line,
    format_text_line,
    parse_line,
    read_examples,
    read_records,
    write_lines,
)
from seq2math.data.generation import format_example, generate_example
from seq2math.model.transformer import SEP_ID as MODEL_SEP_ID
from seq2math.tasks.base import DataFormatError, make_task, task_names
from seq2math.tokens.prefix import PREFIX_VOCABULARY
from seq2math.tokens.vocab import (
    BOS_ID,
    EOS_ID,
    EQUATION_SEPARATOR,
    FIRST_TOKEN_ID,
    MASK_ID,
    PAD_ID,
    SEP_ID,
    SPECIALS,
    UNK_ID,
    Vocab,
)

PACKAGE = Path(__file__).resolve().parents[1] / "seq2math"
CHECKPOINT_VOCAB = PACKAGE / "checkpoints" / "lyapunov-tiny" / "vocab.json"


@pytest.mark.parametrize("name", task_names())
@pytest.mark.parametrize("fmt", ["default", "jsonl"])
def test_reader_gives_back_what_the_writer_wrote(tmp_path, name, fmt):
    task = make_task(name)
    examples = [generate_example(task, 7, i) for i in range(6)]
    path = tmp_path / "data.txt"
    write_lines(path, [format_example(task, source, target, fmt) for source, target in examples])
    assert [(source, target) for _, source, target in read_examples(task, path)] == examples
    records, skipped = read_records(path)
    assert skipped == 0 and [r.line for r in records] == list(range(1, 7))
    assert [(r.source, r.target) for r in records] == examples
    expected_count = 1 if fmt == "default" and task.default_format == "prefix" else None
    assert {r.count for r in records} == {expected_count}
    assert path.read_text().splitlines() == [r.text for r in records]


def test_the_three_formats_spelled_out():
    source, target = ["INT+", "1", EQUATION_SEPARATOR, "x0"], ["^", "x0", "INT+", "2"]
    assert format_line(source, target, "prefix") == "1|INT+ 1 <SPECIAL_3> x0\t^ x0 INT+ 2"
    assert format_line(source, target, "tsv") == "INT+ 1 <SPECIAL_3> x0\t^ x0 INT+ 2"
    assert json.loads(format_line(source, target, "jsonl")) == {"input": "INT+ 1 <SPECIAL_3> x0",
                                                                "target": "^ x0 INT+ 2"}
    assert format_text_line(source, target, count=12).startswith("12|INT+ 1")
    with pytest.raises(ValueError, match="unknown file format 'csv'"):
        format_line(source, target, "csv")
    record = parse_line(' {"input": " a  b ", "target": ""}\n')
    assert (record.source, record.target, record.count) == (["a", "b"], [], None)
    counted = parse_line("3|a b\tc\r\n")
    assert (counted.count, counted.source, counted.text) == (3, ["a", "b"], "3|a b\tc")
    assert parse_line("3|a b\tc", counted=False).source == ["3|a", "b"]  # a tsv task has no COUNT


BAD_LINES = [
    ("no tab here", "expected SOURCE<TAB>TARGET, found no tab"),
    ("a\tb\tc", "expected SOURCE<TAB>TARGET, found 2 tabs"),
    ("x|a\tb", "the count before '|' is not a number: 'x'"),
    ("  \tb", "empty source"),
    ('{"input": "a"', "bad JSON line"),
    ('{"input": 3, "target": "b"}', "bad JSON line: 'input' must be a string of tokens, found int"),
    ('{"input": "a"}', "bad JSON line: no 'target' key"),
    ('{"input": " ", "target": "b"}', "empty source"),
]


@pytest.mark.parametrize("line, message", BAD_LINES)
def test_malformed_lines_are_named_file_colon_line(tmp_path, capsys, line, message):
    path = tmp_path / "bad.txt"
    path.write_text(f"a\tb\n\n{line}\n{{\"input\": \"c\", \"target\": \"d\"}}\n")  # the bad line is line 3
    with pytest.raises(DataFormatError) as info:
        read_records(path)
    assert str(info.value).startswith(f"{path}:3: {message}")
    assert info.value.line == 3 and info.value.path == str(path)
    records, skipped = read_records(path, on_error="skip")
    assert skipped == 1 and [r.line for r in records] == [1, 4]
    assert f"warning: skipping malformed line {path}:3: {message}" in capsys.readouterr().err


def test_the_task_check_makes_a_line_malformed(tmp_path, capsys):
    task = make_task("lyapunov")
    path = tmp_path / "systems.txt"
    good = format_example(task, *generate_example(task, 0, 0), "default")
    write_lines(path, [good, "1|INT+ 2 <SPECIAL_3> x0\tx0", good])  # line 2: one equation of two
    with pytest.raises(DataFormatError, match=rf"^{path}:2: equation 2 of 2 missing"):
        list(read_examples(task, path))
    assert [number for number, _, _ in read_examples(task, path, on_error="skip")] == [1, 3]
    assert f"{path}:2: equation 2 of 2 missing" in capsys.readouterr().err
    with pytest.raises(ValueError, match="on_error must be one of"):
        RecordReader(path, on_error="ignore")
    with pytest.raises(FileNotFoundError, match="nowhere.txt does not exist"):
        read_records(tmp_path / "nowhere.txt")


def test_special_ids_are_those_of_the_committed_checkpoint():
    tokens = json.loads(CHECKPOINT_VOCAB.read_text())["tokens"]
    vocab = Vocab.load(CHECKPOINT_VOCAB)
    assert vocab.itos == tokens  # same ids for every token
    assert [vocab.stoi[t] for t in SPECIALS] == [PAD_ID, BOS_ID, EOS_ID, UNK_ID, SEP_ID, MASK_ID] == list(range(6))
    assert (vocab.pad_id, vocab.bos_id, vocab.eos_id, vocab.unk_id, vocab.sep_id, vocab.mask_id) == tuple(range(6))
    assert FIRST_TOKEN_ID == 6 and vocab.stoi[EQUATION_SEPARATOR] == FIRST_TOKEN_ID == vocab.stoi[PREFIX_VOCABULARY[0]]
    assert MODEL_SEP_ID == SEP_ID == vocab.stoi["<sep>"]
    assert vocab.decode([BOS_ID, FIRST_TOKEN_ID, PAD_ID, EOS_ID, FIRST_TOKEN_ID]) == [EQUATION_SEPARATOR]


def test_special_token_names_are_spelled_only_in_tokens_vocab():
    names = {*SPECIALS, EQUATION_SEPARATOR}
    spelled = []
    for path in sorted(PACKAGE.rglob("*.py")):
        if path == PACKAGE / "tokens" / "vocab.py":
            continue
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Constant) and node.value in names:
                spelled.append(f"{path.relative_to(PACKAGE)}:{node.lineno}: {node.value}")
    assert spelled == []

"""One CLI vocabulary (docs/cli.md): --time-limit, positional FILE inputs, --model; the old
spellings still parse to the same values, say so on stderr and stay out of --help."""

from __future__ import annotations

import argparse
import json
import re

import pytest

from seq2math.cli import build_parser, main
from seq2math.commands.options import REMOVED_IN
from seq2math.training.config import DEFAULT_MODEL

#: every command that takes a time budget, with the arguments it needs besides the budget
TIMED = {
    "verify": ["pairs.txt"],
    "solve": ["x0' = -x0"],
    "report": ["test.txt"],
    "baseline findlyap": ["systems.txt"],
    "baseline neural": ["systems.txt"],
    "train": ["--out", "runs/x"],
    "bench sos": [],
    "experiment": ["representation", "--out", "runs/x"],
    "bench workers": [],
    "bench solve": [],
}
#: (command, old flag) for every hidden time-limit alias
OLD_TIME_FLAGS = [("verify", "--timeout"), ("baseline findlyap", "--timeout"), ("train", "--max-time")]


def parse(*argv: str) -> argparse.Namespace:
    return build_parser().parse_args(list(argv))


def without_runner(args: argparse.Namespace) -> dict:
    return {k: v for k, v in vars(args).items() if k != "_run"}


def subparsers(parser: argparse.ArgumentParser, prefix: str = ""):
    """(name, parser) of every subcommand, nested ones included (``baseline findlyap``)."""
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for name, sub in action.choices.items():
                full = f"{prefix} {name}".strip()
                yield full, sub
                yield from subparsers(sub, full)


@pytest.fixture
def files(tmp_path, monkeypatch):
    """Work in tmp_path, where the input files of the examples exist."""
    monkeypatch.chdir(tmp_path)
    for name in ("pairs.txt", "test.txt", "other.txt", "systems.txt", "train.txt"):
        (tmp_path / name).write_text("x\n")
    (tmp_path / "runs" / "t").mkdir(parents=True)
    return tmp_path


# ---------------------------------------------------------------- --time-limit

def test_the_commands_with_a_time_budget_are_exactly_those_listed():
    timed = {name for name, sub in subparsers(build_parser())
             if any("--time-limit" in a.option_strings for a in sub._actions)}
    assert timed == set(TIMED)


@pytest.mark.parametrize("command", sorted(TIMED))
def test_every_time_budget_is_time_limit_and_reads_durations(command, files):
    args = parse(*command.split(), *TIMED[command], "--time-limit", "2m")
    expected = "2m" if command == "train" else 120.0  # train keeps the text in train.max_time
    assert args.time_limit == expected
    assert parse(*command.split(), *TIMED[command], "--time-limit", "45").time_limit in (45.0, "45")


@pytest.mark.parametrize("command", sorted(TIMED))
def test_a_bad_time_limit_is_refused_at_parse_time(command, files, capsys):
    for bad in ("0", "-3", "soon"):
        with pytest.raises(SystemExit) as info:
            parse(*command.split(), *TIMED[command], "--time-limit", bad)
        assert info.value.code == 2
        assert "--time-limit" in capsys.readouterr().err


@pytest.mark.parametrize("command, old", OLD_TIME_FLAGS)
def test_old_time_flags_parse_to_the_same_value_and_say_so(command, old, files, capsys):
    new_args = parse(*command.split(), *TIMED[command], "--time-limit", "90s")
    assert "note" not in capsys.readouterr().err
    old_args = parse(*command.split(), *TIMED[command], old, "90s")
    assert without_runner(old_args) == without_runner(new_args)
    err = capsys.readouterr().err
    assert f"{old} is the old spelling of --time-limit" in err and REMOVED_IN in err


def test_no_old_spelling_shows_in_any_help():
    hidden_flags = set()
    for name, sub in [("seq2math", build_parser()), *subparsers(build_parser())]:
        text = sub.format_help()
        hidden = [flag for a in sub._actions if a.help == argparse.SUPPRESS for flag in a.option_strings]
        hidden_flags.update(hidden)
        shown = [flag for flag in hidden if re.search(re.escape(flag) + r"\b", text)]
        assert not shown, f"{name} --help shows {shown}"
        assert "RUN_DIR INPUT" not in text and "RUN_OR_CHECKPOINT" not in text
    assert hidden_flags >= {"--timeout", "--max-time", "--file", "--data", "--test", "--check"}


# ---------------------------------------------------------------- inputs

@pytest.mark.parametrize("new, old", [
    (["solve", "systems.txt"], ["solve", "--file", "systems.txt"]),
    (["report", "test.txt", "other.txt"], ["report", "--test", "test.txt", "other.txt"]),
    (["evaluate", "--model", "runs/t", "test.txt"], ["evaluate", "runs/t", "--data", "test.txt"]),
    (["train", "--out", "r", "train.txt", "train.lr=1e-3"], ["train", "--out", "r", "--data", "train.txt",
                                                             "train.lr=1e-3"]),
    (["demo", "test.txt"], ["demo", "--check", "test.txt"]),
])
def test_input_files_are_positional_and_old_flags_parse_the_same(new, old, files, capsys):
    assert without_runner(parse(*old)) == without_runner(parse(*new))
    assert "old spelling" in capsys.readouterr().err


def test_solve_tells_a_file_from_a_system(files, capsys):
    args = parse("solve", "systems.txt")
    assert (args.system, args.file) == (None, "systems.txt")
    args = parse("solve", "x0' = -x0; x1' = -x1")
    assert (args.system, args.file) == ("x0' = -x0; x1' = -x1", None)
    with pytest.raises(SystemExit):
        parse("solve", "sytems.txt")  # a typo: neither a file nor a system
    assert "no file 'sytems.txt'" in capsys.readouterr().err


@pytest.mark.parametrize("argv, message", [
    (["report", "test.txt", "--test", "other.txt"], "given twice"),
    (["report", "--methods", "sos"], "required: FILE"),
    (["evaluate", "--model", "runs/t"], "a FILE or --count N"),
    (["evaluate", "--model", "runs/t", "test.txt", "--count", "5"], "a FILE or --count N"),
    (["evaluate", "--model", "runs/t", "test.txt", "--data", "other.txt"], "two test files"),
    (["evaluate", "missing.txt"], "no test file (or run directory) missing.txt"),
    (["train", "--out", "r", "train.txt", "other.txt"], "one training data FILE at most"),
    (["train", "--out", "r", "model.d_model"], "neither a KEY=VALUE override nor an existing data file"),
    (["solve", "systems.txt", "--file", "test.txt"], "two inputs"),
])
def test_inputs_given_wrongly_are_named(argv, message, files, capsys):
    with pytest.raises(SystemExit) as info:
        parse(*argv)
    assert info.value.code == 2
    assert message in capsys.readouterr().err


# ---------------------------------------------------------------- --model

def test_model_defaults_to_the_shipped_checkpoint(files):
    assert (DEFAULT_MODEL / "config.json").exists()
    for argv in (["evaluate", "--count", "3"], ["predict", "x0' = -x0"],
                 ["plot", "attention", "x0' = -x0", "--out", "a.png"]):
        assert parse(*argv).model == str(DEFAULT_MODEL)
    # solve's and report's model methods pick every shipped checkpoint (SHIPPED_MODELS) themselves
    assert parse("solve", "x0' = -x0").model is None
    assert parse("report", "test.txt").model is None  # label "model"


@pytest.mark.parametrize("new, old", [
    (["evaluate", "--model", "runs/t", "--count", "5"], ["evaluate", "runs/t", "--count", "5"]),
    (["predict", "--model", "runs/t", "[[1, 2], [3, 4]]", "--beam", "2"],
     ["predict", "runs/t", "[[1, 2], [3, 4]]", "--beam", "2"]),
    (["plot", "attention", "--model", "runs/t", "[[1]]", "--out", "a.png"],
     ["plot", "attention", "runs/t", "[[1]]", "--out", "a.png"]),
    (["export", "--model", "runs/t", "--out", "e"], ["export", "runs/t", "--out", "e"]),
    (["report", "test.txt", "--model", "runs/t", "--methods", "model,sos"],
     ["report", "test.txt", "--methods", "model:runs/t,sos"]),
])
def test_model_is_named_with_model_and_the_old_forms_parse_the_same(new, old, files, capsys):
    new_args = parse(*new)
    assert new_args.model == "runs/t" or new_args.methods == "model:runs/t,sos"
    assert "note" not in capsys.readouterr().err
    old_args = parse(*old)
    assert "old spelling" in capsys.readouterr().err
    if old[0] == "report":  # the old form names the model inside --methods only
        assert old_args.methods == new_args.methods and old_args.model is None
    else:
        assert without_runner(old_args) == without_runner(new_args)


def test_solve_and_report_take_model(files):
    assert parse("solve", "x0' = -x0", "--methods", "model,sos", "--model", "runs/t").model == "runs/t"
    args = parse("report", "test.txt", "--methods", "findlyap, model", "--model", "runs/t")
    assert args.methods == "findlyap,model:runs/t"  # the column the report's method parser reads


@pytest.mark.parametrize("argv, message", [
    (["predict", "runs/t", "[[1]]", "--model", "runs/t"], "the model is named twice"),
    (["report", "test.txt", "--model", "runs/t", "--methods", "findlyap"], "add model or guided to --methods"),
    (["report", "test.txt", "--model", "runs/t", "--methods", "model:runs/t"], "the model is named twice"),
    (["export", "--out", "e"], "name the model to export"),
])
def test_models_given_wrongly_are_named(argv, message, files, capsys):
    with pytest.raises(SystemExit) as info:
        parse(*argv)
    assert info.value.code == 2
    assert message in capsys.readouterr().err


def test_predict_with_model_decodes_with_the_named_checkpoint(capsys):
    code = main(["predict", "--model", str(DEFAULT_MODEL), "x0' = -x0; x1' = -x1", "--beam", "1", "--json"])
    assert code in (0, 1)  # 1: decoded, but no hypothesis verified
    out = json.loads(capsys.readouterr().out)
    assert len(out["hypotheses"]) == 1 and out["hypotheses"][0]["tokens"]
    assert out["input"].split()[:2] == ["INT+", "2"]  # two equations, read by the lyapunov task of the checkpoint


def test_a_plain_argparse_parser_gets_the_same_vocabulary(files):
    from seq2math.commands import train

    parser = argparse.ArgumentParser()
    train.add_arguments(parser)
    args = parser.parse_args(["--out", "r", "--max-time", "5m", "train.txt", "train.lr=1e-3"])
    assert (args.data, args.time_limit, args.overrides) == ("train.txt", "5m", ["train.lr=1e-3"])


def test_several_model_columns_are_not_an_old_spelling(files, capsys):
    """model:A,model:B compares two models side by side; only a lone model:RUN has a --model form."""
    args = parse("report", "test.txt", "--methods", "model:runs/a,model:runs/a+runs/b,guided:runs/b")
    assert args.methods == "model:runs/a,model:runs/a+runs/b,guided:runs/b"
    assert "note" not in capsys.readouterr().err

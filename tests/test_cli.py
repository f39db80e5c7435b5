"""The command line: every subcommand is listed and has --help."""

import argparse
import importlib
import re

import pytest

from seq2math.cli import COMMANDS, build_parser, main


def _subcommands():
    parser = build_parser()
    action = next(a for a in parser._actions if a.dest == "command")
    return sorted(action.choices)


def test_help_lists_subcommands(capsys):
    assert main([]) == 0
    out = capsys.readouterr().out
    assert set(_subcommands()) == set(COMMANDS)          # every command of the table is built
    for name, module_name in COMMANDS.items():          # each listed with its one-line help
        help_line = importlib.import_module(module_name).HELP
        assert re.search(rf"^\s+{name}\s+{re.escape(help_line[:30])}", out, re.M), (name, help_line)


@pytest.mark.parametrize("name", _subcommands())
def test_every_subcommand_has_help(name, capsys):
    with pytest.raises(SystemExit) as info:
        main([name, "--help"])
    assert info.value.code == 0
    out = capsys.readouterr().out
    assert out.startswith("usage: seq2math " + name)
    command = next(a for a in build_parser()._actions if a.dest == "command").choices[name]
    for action in command._actions:                     # every visible option and argument is documented
        if action.help == argparse.SUPPRESS:
            continue
        shown = action.option_strings[0] if action.option_strings else (action.metavar or action.dest)
        assert str(shown) in out, (name, shown)


def test_unknown_subcommand_is_an_error(capsys):
    with pytest.raises(SystemExit) as info:
        main(["no-such-command"])
    assert info.value.code == 2
    assert "invalid choice" in capsys.readouterr().err


def test_progress_lines_count_the_rate_from_where_a_resumed_job_started(capsys, monkeypatch):
    import seq2math.jobs.progress as progress

    clock = iter([100.0, 100.0, 110.0, 110.0])
    monkeypatch.setattr(progress.time, "time", lambda: next(clock))
    with progress.Progress(None, "train", "step", interval=5.0, initial=5000) as bar:
        bar.update(20)
    line = capsys.readouterr().err.splitlines()[0]
    assert line.startswith("train: 5020 step (2.0 step/s, 10s)")


def _train_config(*argv):
    from seq2math.commands.train import build_config

    return build_config(build_parser().parse_args(["train", "--out", "unused", "--task", "transpose", *argv]))


def test_train_overrides_are_applied_together_whatever_their_order():
    # the paper preset has 10 heads: model.d_model=256 alone is invalid, with model.n_heads=8 it is not
    first = _train_config("--preset", "paper", "model.d_model=256", "model.n_heads=8", "train.lr=1e-4")
    second = _train_config("--preset", "paper", "train.lr=1e-4", "model.n_heads=8", "model.d_model=256")
    assert first == second
    assert (first.model.d_model, first.model.n_heads, first.model.enc_layers) == (256, 8, 6)


def test_train_rejects_an_invalid_combination_and_unknown_keys_by_name():
    from seq2math.config import ConfigError

    with pytest.raises(ConfigError, match=r"d_model=250 is not divisible by n_heads=8 \(given: .*model.d_model=250"):
        _train_config("--preset", "paper", "model.n_heads=8", "model.d_model=250")
    with pytest.raises(ConfigError, match="unknown key 'model.n_head' for ModelConfig"):
        _train_config("--preset", "paper", "model.d_model=256", "model.n_head=8")
    with pytest.raises(ConfigError, match="unknown key 'train.max_time_limit' for TrainConfig"):
        _train_config("train.max_time_limit=3")

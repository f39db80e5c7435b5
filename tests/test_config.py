"""Typed configuration: YAML, dotted overrides, unknown keys, saving, command-line flags."""

from __future__ import annotations

import argparse
import json
from dataclasses import dataclass, field
from typing import Literal

import pytest

from seq2math.config import (
    Changes,
    ConfigError,
    add_dataclass_arguments,
    apply_overrides,
    dataclass_from_arguments,
    from_dict,
    load_config,
    save_config,
    set_command_line,
    to_dict,
)


@dataclass
class ModelSection:
    d_model: int = 256
    dropout: float = 0.1
    kind: Literal["seq2seq", "decoder"] = "seq2seq"


@dataclass
class RunSection:
    name: str = "run"
    seed: int = 0
    amp: bool = False
    layers: list[int] = field(default_factory=lambda: [2, 2])
    limit: int | None = None
    model: ModelSection = field(default_factory=ModelSection)
    extra: dict = field(default_factory=dict)


def test_defaults_yaml_then_overrides(tmp_path):
    path = tmp_path / "run.yaml"
    path.write_text("name: big\nmodel:\n  d_model: 512\n  kind: decoder\nlayers: [6, 6]\n")
    cfg = load_config(RunSection, path, ["model.d_model=1024", "seed=7", "amp=yes", "limit=none", "layers=1,3"])
    assert cfg.name == "big" and cfg.seed == 7 and cfg.amp is True and cfg.limit is None
    assert cfg.model == ModelSection(d_model=1024, dropout=0.1, kind="decoder")  # YAML kept, override won
    assert cfg.layers == [1, 3]
    assert load_config(RunSection) == RunSection()
    assert apply_overrides(RunSection(), ["model.dropout=0.25", "extra.beam=4"]).extra == {"beam": 4}


@pytest.mark.parametrize("overrides, message", [
    (["model.d_modle=3"], "unknown key 'model.d_modle' for ModelSection; valid keys: d_model, dropout, kind"),
    (["nmae=x"], "unknown key 'nmae' for RunSection"),
    (["seed=abc"], "seed: expected an integer, got 'abc'"),
    (["seed=1.5"], "seed: expected an integer"),
    (["model.kind=encoder"], "model.kind: 'encoder' is not one of \\['seq2seq', 'decoder'\\]"),
    (["amp=maybe"], "amp: expected true/false"),
    (["name.first=x"], "name is not a section"),
    (["seed"], "must look like key=value"),
])
def test_bad_overrides_are_rejected_with_a_clear_message(overrides, message):
    with pytest.raises(ConfigError, match=message):
        load_config(RunSection, None, overrides)


def test_bad_yaml_files(tmp_path):
    path = tmp_path / "bad.yaml"
    path.write_text("model:\n  d_model: 512\n  heads: 8\n")
    with pytest.raises(ConfigError, match="unknown key\\(s\\) heads for ModelSection"):
        load_config(RunSection, path)
    path.write_text("- a list\n")
    with pytest.raises(ConfigError, match="expected a mapping at the top level"):
        load_config(RunSection, path)
    path.write_text("model: [unclosed\n")
    with pytest.raises(ConfigError, match="invalid YAML"):
        load_config(RunSection, path)
    with pytest.raises(ConfigError, match="does not exist"):
        load_config(RunSection, tmp_path / "missing.yaml")
    with pytest.raises(ConfigError, match="unknown key\\(s\\) model.width"):
        from_dict(RunSection, {"model": {"width": 3}})


def test_save_config_writes_the_resolved_config_and_the_command(tmp_path):
    cfg = load_config(RunSection, None, ["model.d_model=128"])
    set_command_line(["seq2math", "train", "model.d_model=128", "--out", "runs/a b"])
    try:
        path = save_config(cfg, tmp_path / "run", extra={"seed": 3})
    finally:
        set_command_line(None)
    payload = json.loads(path.read_text())
    assert payload["command"] == "seq2math train model.d_model=128 --out 'runs/a b'"  # shell-quoted
    assert payload["config"] == to_dict(cfg) and payload["config"]["model"]["d_model"] == 128
    assert payload["seed"] == 3
    assert from_dict(RunSection, payload["config"]) == cfg  # the saved config loads back identically


def test_dataclass_fields_become_flags():
    parser = argparse.ArgumentParser()
    add_dataclass_arguments(parser, RunSection, skip=("model", "extra"))
    args = parser.parse_args(["--seed", "5", "--amp", "--limit", "12", "--layers", "4,4,4"])
    cfg = dataclass_from_arguments(RunSection, args)
    assert (cfg.seed, cfg.amp, cfg.limit, cfg.layers, cfg.name) == (5, True, 12, [4, 4, 4], "run")
    assert dataclass_from_arguments(RunSection, parser.parse_args([])) == RunSection()
    with pytest.raises(ConfigError, match="seed: expected an integer"):
        dataclass_from_arguments(RunSection, parser.parse_args(["--seed", "five"]))
    model_parser = argparse.ArgumentParser()
    add_dataclass_arguments(model_parser, ModelSection)
    with pytest.raises(SystemExit):  # a Literal becomes argparse choices
        model_parser.parse_args(["--kind", "encoder"])


# ---- overrides applied together, validated once -----------------------------------------------
@dataclass
class Heads:
    d_model: int = 384
    n_heads: int = 6

    def __post_init__(self) -> None:
        if self.d_model % self.n_heads:
            raise ValueError(f"d_model={self.d_model} is not divisible by n_heads={self.n_heads}")


@dataclass
class WithHeads:
    model: Heads = field(default_factory=Heads)
    extra: dict = field(default_factory=dict)
    seed: int = 0


@pytest.mark.parametrize("overrides", [["model.d_model=256", "model.n_heads=8"],
                                       ["model.n_heads=8", "model.d_model=256"]])
def test_overrides_are_applied_together_in_either_order(overrides):
    # applied one at a time, model.d_model=256 first would stop at 256 % 6 != 0
    with pytest.raises(ValueError, match="not divisible"):
        Heads(d_model=256, n_heads=6)
    cfg = apply_overrides(WithHeads(), overrides)
    assert (cfg.model.d_model, cfg.model.n_heads) == (256, 8)
    assert cfg == apply_overrides(WithHeads(), list(reversed(overrides)))


def test_yaml_and_overrides_are_validated_once_together(tmp_path):
    path = tmp_path / "run.yaml"
    path.write_text("model:\n  d_model: 256\n")  # invalid on the 6-head default until n_heads=8 arrives
    cfg = load_config(WithHeads, path, ["model.n_heads=8", "seed=3"])
    assert (cfg.model.d_model, cfg.model.n_heads, cfg.seed) == (256, 8, 3)


def test_an_invalid_combination_still_fails_naming_what_was_given():
    with pytest.raises(ConfigError, match=r"d_model=100 is not divisible by n_heads=8 "
                                          r"\(given: model.d_model=100, model.n_heads=8\)"):
        apply_overrides(WithHeads(), ["model.d_model=100", "model.n_heads=8"])
    with pytest.raises(ConfigError, match="unknown key 'model.n_head' for Heads"):  # still checked per key
        apply_overrides(WithHeads(), ["model.d_model=256", "model.n_head=8"])


def test_changes_keep_the_last_value_and_merge_dict_keys():
    cfg = (Changes(WithHeads()).mapping({"extra": {"a": 1, "b": 2}, "seed": 1}, "run.yaml")
           .overrides(["extra.b=3", "seed=2", "extra.c=x", "seed=4"]).apply())
    assert cfg.extra == {"a": 1, "b": 3, "c": "x"} and cfg.seed == 4
    base = WithHeads()
    assert Changes(base).overrides([]).apply() is base

"""``architectures``: encoder–decoder, decoder-only, RNN with attention and encoder-only on one task.

Every configuration learns the same task under the same budget with the same width (the
``tiny`` preset: 64 wide, 4 heads, learned positions, its training settings), and with two
blocks of layers where the architecture has one stack:

- ``seq2seq``: 1 encoder + 1 decoder layer (the preset);
- ``decoder``: decoder-only, 2 layers, reading ``source <sep>`` then generating;
- ``rnn``: a bidirectional GRU encoder and a GRU decoder with additive (Bahdanau) attention, 1 layer each;
- ``encoder``: encoder-only, 2 layers, trained on masked answers (``train.objective=masked-target``:
  only target tokens are masked, each example at its own rate) and answering by filling a masked
  target of fixed length (``seq2math.evaluation.masked``), which validation verifies too. On 3×3
  transposition it reaches 100% at 5% in 5 minutes where BERT's objective over source and target
  (``train.mask_prob=0.5``, the first version of this row) reached 4.2% (docs/experiments.md).

The task is 3×3 matrix transposition (P1000): its target has a fixed length, so the encoder-only
model can answer it, and the tiny settings learn it within minutes on a CPU, so that the budget
separates the architectures (docs/experiments.md: 5 minutes each gave 100, 100, 0 and 42% at 5%).
3×3 addition, the first choice, did not learn in 10 minutes. ``task.name=add`` or
``task.name=eigenvalues`` (with any ``task.*`` override) runs the same grid on another fixed-length
task. Reported: accuracy at 5% and 1%, parameters, training throughput (source + target tokens
per second, validation pauses included), and the training time at which greedy validation first
reached 90% verified at 5%.
"""

from __future__ import annotations

from seq2math.experiments.base import (
    ConfigResult,
    Configuration,
    Experiment,
    markdown_table,
    percent,
    register_experiment,
)

TASK_ARGS = ("--task", "transpose", "--dim", "3", "--encoding", "P1000", "--preset", "tiny")
#: architecture -> overrides of the tiny preset
ARCHITECTURES = {
    "seq2seq": (),
    "decoder": ("model.arch=decoder", "model.dec_layers=2"),
    "rnn": ("model.arch=rnn", "model.rnn_layers=1"),
    "encoder": ("model.arch=encoder", "model.enc_layers=2", "train.objective=masked-target"),
}


def time_to_90(result: ConfigResult) -> str:
    if not result.validations_verified:
        return "n/a (masked validation)"
    return "not reached" if result.time_to_90 is None else f"{result.time_to_90:.0f} s"


@register_experiment
class Architectures(Experiment):
    name = "architectures"
    title = "Four architectures on one task under one budget"

    def configurations(self, quick: bool = False) -> list[Configuration]:
        return [Configuration(arch, (*TASK_ARGS, *overrides), {"arch": arch}) for arch, overrides in ARCHITECTURES.items()]

    def report(self, results: list[ConfigResult]) -> str:
        header = ["architecture", "parameters", "steps", "train time (s)", "tokens/s", "5%", "1%",
                  "time to 90% at 5%"]
        rows = []
        for r in results:
            own = r.tests["own"]
            rows.append([r.labels["arch"], f"{r.parameters:,}", str(r.steps), f"{r.train_seconds:.0f}",
                         f"{r.tokens_per_second:,.0f}", percent(own["top1"]["5%"]), percent(own["top1"]["1%"]),
                         time_to_90(r)])
        return "## Accuracy (top-1) and cost\n\n" + markdown_table(header, rows)

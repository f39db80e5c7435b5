"""``seq2math bench train``: the torch.nn.Transformer baseline is our model's size and function, and
the command prints consistent positive figures (run on a tiny size, seconds)."""

from __future__ import annotations

import re
from argparse import Namespace

import pytest
import torch

from seq2math.benchmarks.torch_baseline import TorchSeq2Seq
from seq2math.benchmarks.train import model_config, stack_parameters
from seq2math.cli import main
from seq2math.model import build_model, count_parameters

TINY = ["--d-model", "32", "--heads", "4", "--enc-layers", "1", "--dec-layers", "2", "--d-ff", "48",
        "--batch", "4", "--steps", "1", "--repeats", "2", "--matmul", "64", "--threads", "1"]


def default_size(**changes) -> Namespace:
    sizes = dict(d_model=256, heads=8, enc_layers=2, dec_layers=2, d_ff=1024, norm="pre")
    return Namespace(**{**sizes, **changes})


@pytest.mark.parametrize("norm", ["pre", "post"])
def test_the_baseline_has_our_parameter_count_at_the_default_size(norm):
    config = model_config(default_size(norm=norm), max_len=60)
    ours, theirs = build_model(config, 1041), TorchSeq2Seq(config, 1041)
    assert count_parameters(ours) == count_parameters(theirs) > 4_000_000
    assert stack_parameters(ours) == stack_parameters(theirs)


def copy_our_weights(ours, theirs) -> None:
    """Load our parameters into the torch.nn.Transformer baseline (Q, K, V stacked into in_proj)."""
    def attention(mine, torch_attention):
        torch_attention.in_proj_weight.copy_(torch.cat([mine.q_proj.weight, mine.k_proj.weight, mine.v_proj.weight]))
        torch_attention.in_proj_bias.copy_(torch.cat([mine.q_proj.bias, mine.k_proj.bias, mine.v_proj.bias]))
        torch_attention.out_proj.load_state_dict(mine.out_proj.state_dict())

    def layer(block, torch_layer, norms):
        attention(block.self_attention, torch_layer.self_attn)
        if block.cross_attention is not None:
            attention(block.cross_attention, torch_layer.multihead_attn)
        torch_layer.linear1.load_state_dict(block.feed_forward.up.state_dict())
        torch_layer.linear2.load_state_dict(block.feed_forward.down.state_dict())
        for ours_name, torch_name in norms:
            getattr(torch_layer, torch_name).load_state_dict(getattr(block, ours_name).state_dict())

    with torch.no_grad():
        theirs.encoder_embed.load_state_dict(ours.encoder_embed.state_dict())
        theirs.embed.load_state_dict(ours.embed.state_dict())
        for block, torch_layer in zip(ours.encoder.blocks, theirs.encoder.layers):
            layer(block, torch_layer, [("self_norm", "norm1"), ("ff_norm", "norm2")])
        for block, torch_layer in zip(ours.decoder.blocks, theirs.decoder.layers):
            layer(block, torch_layer, [("self_norm", "norm1"), ("cross_norm", "norm2"), ("ff_norm", "norm3")])
        for stack, torch_stack in ((ours.encoder, theirs.encoder), (ours.decoder, theirs.decoder)):
            if torch_stack.norm is not None:
                torch_stack.norm.load_state_dict(stack.final_norm.state_dict())


@pytest.mark.parametrize("norm", ["pre", "post"])
def test_the_baseline_computes_our_function_with_our_weights(norm):
    """Same size is not enough: with our weights copied in, nn.Transformer gives our logits
    (padded sources, causal decoder), so the benchmark times the same computation twice."""
    config = model_config(default_size(d_model=32, heads=4, d_ff=48, norm=norm), max_len=16)
    torch.manual_seed(0)
    ours, theirs = build_model(config, 40).train(), TorchSeq2Seq(config, 40).train()
    copy_our_weights(ours, theirs)
    src = torch.randint(6, 40, (3, 9))
    src[1, 6:] = 0
    src[2, 2:] = 0
    tgt_in = torch.randint(6, 40, (3, 7))
    torch.testing.assert_close(theirs(src, tgt_in), ours(src, tgt_in), atol=1e-5, rtol=1e-5)


def run_bench(capsys, *extra: str) -> str:
    assert main(["bench", "train", *TINY, *extra]) == 0
    return capsys.readouterr().out


def check_report(out: str, groups: int, precisions: int = 1) -> None:
    """Equal parameter counts, positive rates and fractions, ratio = ratio of the printed rates
    (one ours/nn.Transformer pair per group and precision)."""
    counts = re.findall(r"parameters (ours|nn\.Transformer)\s+([\d,]+) \(encoder stack ([\d,]+), "
                        r"decoder stack \+ output projection ([\d,]+)\)", out)
    assert len(counts) == 2 and counts[0][1:] == counts[1][1:], out
    peak = re.search(r"(?:fp32|bf16) matmul ([\d.]+) GFLOP/s", out)
    assert peak and float(peak.group(1)) > 0, out
    rates = re.findall(r"(ours|nn\.Transformer)\s+([\d.]+) tokens/s\s+([\d.]+) GFLOP/s\s+([\d.]+)% of peak", out)
    ratios = [float(r) for r in re.findall(r"ratio ours/nn\.Transformer: ([\d.]+)", out)]
    assert len(rates) == 2 * groups * precisions and len(ratios) == groups * precisions, out
    for index, ratio in enumerate(ratios):
        (name_a, rate_a, flops_a, share_a), (name_b, rate_b, _, _) = rates[2 * index: 2 * index + 2]
        assert (name_a, name_b) == ("ours", "nn.Transformer")
        assert float(rate_a) > 0 and float(rate_b) > 0 and float(share_a) > 0
        # printed rates carry one decimal (>= 0.05 % relative here), the ratio three
        assert ratio == pytest.approx(float(rate_a) / float(rate_b), rel=2e-3, abs=6e-4), out


def test_bench_train_prints_consistent_positive_figures(capsys):
    out = run_bench(capsys, "--src-len", "7", "--tgt-len", "5", "--vocab", "30")
    check_report(out, groups=1)


def test_bench_train_in_bf16_autocast_says_so_and_measures_a_bf16_peak(capsys):
    out = run_bench(capsys, "--src-len", "7", "--tgt-len", "5", "--vocab", "30", "--precision", "bf16")
    check_report(out, groups=1)
    assert "bf16 matmul" in out and "training in bf16" in out


def test_bench_train_in_both_precisions_prints_the_bf16_over_fp32_ratio_of_each_model(capsys):
    out = run_bench(capsys, "--src-len", "7", "--tgt-len", "5", "--vocab", "30", "--precision", "both")
    assert "fp32 matmul" in out and "bf16 matmul" in out and "training in fp32 and bf16" in out
    check_report(out, groups=1, precisions=2)
    fp32, bf16 = out.split(" in fp32:")[1].split(" in bf16:")
    rates = {(precision, name): float(rate) for precision, block in (("fp32", fp32), ("bf16", bf16))
             for name, rate in re.findall(r"(ours|nn\.Transformer)\s+([\d.]+) tokens/s", block)}
    ratios = dict(re.findall(r"ratio bf16/fp32 \((ours|nn\.Transformer)\): ([\d.]+)", out))
    assert len(rates) == 4 and set(ratios) == {"ours", "nn.Transformer"}, out
    for name, ratio in ratios.items():
        assert float(ratio) == pytest.approx(rates["bf16", name] / rates["fp32", name], rel=2e-3, abs=6e-4)


def test_bench_train_lyapunov_compares_fixed_and_token_budget_batches(capsys):
    out = run_bench(capsys, "--lyapunov", "--count", "8")
    check_report(out, groups=2)
    padding = [float(p) for p in re.findall(r"padding share ([\d.]+)", out)]
    assert len(padding) == 2 and all(0 <= share < 1 for share in padding), out
    budget_ratios = re.findall(r"ratio token budget/fixed batches \((ours|nn\.Transformer)\): ([\d.]+)", out)
    assert [name for name, _ in budget_ratios] == ["ours", "nn.Transformer"], out
    assert all(float(ratio) > 0 for _, ratio in budget_ratios)


def test_bench_train_rejects_bad_sizes(capsys):
    assert main(["bench", "train", "--d-model", "30", "--heads", "4"]) == 2
    assert "--d-model 30 is not divisible by --heads 4" in capsys.readouterr().err
    assert main(["bench", "train", "--steps", "0"]) == 2
    assert "--steps must be >= 1, got 0" in capsys.readouterr().err


@pytest.mark.slow
def test_bench_train_compile_times_a_compiled_copy_of_each_model_and_prints_compiled_over_eager(capsys):
    out = run_bench(capsys, "--src-len", "7", "--tgt-len", "5", "--vocab", "30", "--compile")
    check_report(out, groups=1)                     # the eager pair, as without --compile
    assert len(re.findall(r"^compiled (ours|nn\.Transformer), compiled .* s \(not timed\)$", out, re.M)) == 2, out
    rates = dict(re.findall(r"^  (ours|nn\.Transformer|ours, compiled|nn\.Transformer, compiled)\s+([\d.]+) tokens/s",
                            out, re.M))
    assert len(rates) == 4 and all(float(rate) > 0 for rate in rates.values()), out
    compiled = float(re.search(r"ratio ours/nn\.Transformer compiled: ([\d.]+)", out).group(1))
    assert compiled == pytest.approx(float(rates["ours, compiled"]) / float(rates["nn.Transformer, compiled"]),
                                     rel=2e-3, abs=6e-4)
    ratios = dict(re.findall(r"ratio compiled/eager \((ours|nn\.Transformer)\): ([\d.]+)", out))
    assert set(ratios) == {"ours", "nn.Transformer"}, out
    for name, ratio in ratios.items():
        assert float(ratio) == pytest.approx(float(rates[name + ", compiled"]) / float(rates[name]),
                                             rel=2e-3, abs=6e-4)

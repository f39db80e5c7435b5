"""Head analysis (seq2math.evaluation.heads, head_patterns): structures from the parse tree and from
matrices, and the detector on hand-built attention with planted heads, uniform and random heads."""

from __future__ import annotations

import numpy as np
import pytest

from seq2math.evaluation.head_patterns import matrix_structure, pattern_targets, plain_structure, prefix_structure
from seq2math.evaluation.heads import (
    DETECTION_LIFT,
    AttentionSample,
    analyse_heads,
    format_head_table,
    head_profile,
)
from seq2math.tokens.infix import parse_infix_system
from seq2math.tokens.numbers import get_encoding
from seq2math.tokens.prefix import system_tokens


def test_prefix_structure_follows_the_parse_tree():
    tokens = "+ x0 * INT+ 2 x1".split()  # x0 + 2*x1
    s = prefix_structure(tokens)
    assert s.parent == (None, 0, 0, 2, 2, 2)
    assert s.siblings[1] == (2,) and s.siblings[2] == (1,)       # x0 <-> the product
    assert s.siblings[3] == s.siblings[4] == (5,)                  # the number INT+ 2 is one leaf
    assert s.siblings[5] == (3, 4)
    assert s.children[0] == (1, 2) and s.children[2] == (3, 5) and s.children[1] == ()


def test_prefix_structure_reads_a_system_and_skips_separators():
    tokens = system_tokens(parse_infix_system("x0' = -x0 + x1; x1' = sin(x0)"))
    s = prefix_structure(tokens)
    separators = [i for i, t in enumerate(tokens) if t == "<SPECIAL_3>"]
    assert all(s.parent[i] is None and s.siblings[i] == () for i in separators)
    sine = tokens.index("sin")
    assert s.parent[sine + 1] == sine and s.siblings[sine + 1] == ()  # unary: a parent, no sibling
    assert s.children[sine] == (sine + 1,)


def test_matrix_structure_labels_entries():
    encoding = get_encoding("P10")  # 5 tokens per number
    tokens = ["V2", "V2", *encoding.encode_many(np.array([1.0, 2.0, 3.0, 4.0]))]
    s = matrix_structure(tokens, [encoding])
    assert s.entry[:2] == (None, None)
    assert s.entry[2] == s.entry[6] == (0, 0, 0)
    assert s.entry[7] == (0, 0, 1) and s.entry[12] == (0, 1, 0) and s.entry[21] == (0, 1, 1)
    targets = pattern_targets(s, s, self_attention=True)
    assert targets["transposed"][7].nonzero()[0].tolist() == list(range(12, 17))  # (0,1) reads (1,0)
    assert not targets["transposed"][2].any()                                        # diagonal: no target
    assert targets["same row"][2].nonzero()[0].tolist() == list(range(7, 12))


# ---- the detector on hand-built attention ---------------------------------------------------------
def _rows(targets: list[list[int]], keys: int) -> np.ndarray:
    """Attention with all mass on each query's targets (uniform over all keys where it has none)."""
    weights = np.full((len(targets), keys), 1.0 / keys)
    for query, chosen in enumerate(targets):
        if chosen:
            weights[query] = 0.0
            weights[query, chosen] = 1.0 / len(chosen)
    return weights


def _lyapunov_tokens() -> list[str]:
    return system_tokens(parse_infix_system("x0' = -x0 + 3*x1^3 - x0*x1; x1' = -2*x1 + x0^2*x1 + 5"))


def test_detector_finds_planted_positional_and_parent_heads_and_no_head_in_uniform_attention():
    tokens = _lyapunov_tokens()
    n = len(tokens)
    s = prefix_structure(tokens)
    rng = np.random.default_rng(0)
    parent = _rows([[p] if p is not None else [] for p in s.parent], n)
    previous = _rows([[q - 1] if q else [] for q in range(n)], n)
    uniform = np.full((n, n), 1.0 / n)
    noisy = np.exp(rng.normal(size=(n, n)))
    noisy /= noisy.sum(axis=1, keepdims=True)
    layer = np.stack([parent, previous, uniform, 0.7 * parent + 0.3 * uniform, noisy])  # [H, T, T]
    reports = analyse_heads([AttentionSample("encoder_self", [layer], s, s)])
    best = [(r.best.pattern, r.detected) for r in reports]
    assert best[0] == ("parent", True) and reports[0].best.lift == pytest.approx(1.0)
    assert reports[0].scores[1].lift < 0.8  # "previous" only covers first operands
    assert best[1] == ("previous", True) and reports[1].best.lift == pytest.approx(1.0)
    assert not reports[2].detected and abs(reports[2].best.lift) < 1e-9
    assert best[3] == ("parent", True) and reports[3].best.lift == pytest.approx(0.7, abs=0.02)
    assert not reports[4].detected and reports[4].best.lift < DETECTION_LIFT / 2
    table = format_head_table(reports)
    assert table.count("\n") == 1 + len(reports) and "| encoder_self | 0 | 0 | parent |" in table


def test_uniform_causal_attention_is_chance_not_a_previous_head():
    """Under a causal mask uniform attention puts 1/2 on the previous key of query 1: chance, not a head."""
    n = 8
    uniform = np.tril(np.ones((n, n)))
    uniform /= uniform.sum(axis=1, keepdims=True)
    s = plain_structure(["t"] * n)
    (report,) = analyse_heads([AttentionSample("decoder_self", [uniform[None]], s, s, causal=True)])
    previous = next(x for x in report.scores if x.pattern == "previous")
    assert previous.score > 0.2 and abs(previous.lift) < 1e-9 and not report.detected


def test_detector_finds_a_transposition_head_in_cross_attention():
    encoding = get_encoding("P10")
    matrix = ["V3", "V3", *encoding.encode_many(np.arange(9.0))]
    s = matrix_structure(matrix, [encoding])
    keys = [[p for p in range(len(matrix)) if s.entry[p] == (0, e[2], e[1])] if e else [] for e in s.entry]
    (report,) = analyse_heads([AttentionSample("cross", [_rows(keys, len(matrix))[None]], s, s)])
    assert report.best.pattern == "transposed" and report.detected  # diagonal entries read themselves too


def test_head_profile_names_the_offset_of_a_positional_head():
    next_head = _rows([[q + 1] if q + 1 < 10 else [] for q in range(10)], 10)
    profile = head_profile(next_head)
    assert profile["offset"] == 1 and profile["positional"] == pytest.approx(1.0)
    assert head_profile(np.full((10, 10), 0.1))["positional"] == pytest.approx(0.0)


def test_mismatched_weights_are_a_clear_error():
    s = plain_structure(["a", "b", "c"])
    with pytest.raises(ValueError, match="do not match"):
        analyse_heads([AttentionSample("cross", [np.ones((1, 3, 4))], s, s)])


def test_plot_heads_command_on_an_untrained_lyapunov_run(lyapunov_run, tmp_path, capsys):
    from seq2math.cli import main

    out = tmp_path / "heads.png"
    assert main(["plot", "heads", str(lyapunov_run), "--count", "2", "--top", "3", "--out", str(out)]) == 0
    table = capsys.readouterr().out
    rows = [line for line in table.splitlines() if line.startswith("| encoder_self") or line.startswith("| cross")
            or line.startswith("| decoder_self")]
    assert len(rows) == 3 * 2 * 1  # three kinds x two heads x one layer of the tiny model
    assert out.stat().st_size > 0

"""A source longer than the model's positions is an invalid output for that example, not a crash."""

import torch

from seq2math.evaluation.decode import decode_sources, source_capacity
from seq2math.model import ModelConfig, build_model
from seq2math.tokens.vocab import Vocab


def test_too_long_source_gets_an_empty_hypothesis():
    torch.manual_seed(0)
    vocab = Vocab(["a", "b"])
    config = ModelConfig.from_preset("tiny", arch="seq2seq", max_len=12)
    model = build_model(config, len(vocab), vocab.pad_id).eval()
    assert source_capacity(model.config) == 12
    sources = [["a", "b"] * 3, ["a"] * 30, ["b"] * 5]
    out = decode_sources(model, vocab, sources, beam=2, max_len=4, device="cpu")
    assert len(out) == 3
    assert [h.tokens for h in out[1]] == [[]]          # cannot be read: one empty (invalid) hypothesis
    assert len(out[0]) == 2 and len(out[2]) == 2       # the others are decoded as usual
    alone = decode_sources(model, vocab, [sources[0], sources[2]], beam=2, max_len=4, device="cpu")
    assert [h.tokens for h in out[0]] == [h.tokens for h in alone[0]]

"""Decoding for every conditional generator (seq2seq, decoder-only, RNN): greedy, sampling, beam search.

All three work on a batch of sources at once and use the model's incremental interface
(``state = model.start(src)``, ``logits, state = model.step(tokens, state)``,
``state.reorder(index)``), so transformer decoders reuse their KV cache and compute the
cross-attention keys/values of each source once. Rows that finish are dropped from the
batch, so the work per step shrinks as sequences end.

Returned token lists hold the generated ids *without* <bos> and <eos>; a sequence that
reaches ``max_len`` tokens without <eos> is returned cut (``Hypothesis.finished`` is False).
The padding token is never generated (its probability is set to zero and the others
renormalised, as in fairseq): a generated <pad> would read as padding to the model itself.

Beam search score (as in Wu et al. 2016 without their constant, and fairseq/HF):

    score = sum_t log p(y_t | y_<t, x) / len ** length_penalty

where ``len`` counts the generated tokens including <eos>; ``length_penalty`` 0 ranks by
raw log-probability, larger values favour longer hypotheses.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Callable

import torch
from torch import Tensor, nn

from seq2math.tokens.vocab import BOS_ID, EOS_ID, PAD_ID

from .outputs import inference


@dataclass(frozen=True)
class Hypothesis:
    tokens: list[int]  # generated ids without <bos>/<eos>
    score: float  # log_prob / len ** length_penalty; hypotheses are ranked by it
    log_prob: float  # sum of the token log-probabilities, <eos> included
    finished: bool  # True if it ended with <eos>, False if cut at max_len


def _check_inputs(model: nn.Module, src: Tensor, max_len: int) -> Tensor:
    if not (hasattr(model, "start") and hasattr(model, "step")):
        raise TypeError(f"{type(model).__name__} cannot generate (an encoder-only model has no decoder); "
                        "use arch seq2seq, decoder or rnn")
    if not isinstance(src, Tensor) or src.dim() != 2:
        raise ValueError(f"src must be a LongTensor of shape (B, S), got "
                         f"{tuple(src.shape) if isinstance(src, Tensor) else type(src).__name__}")
    if max_len < 1:
        raise ValueError(f"max_len must be >= 1, got {max_len}")
    device = next(model.parameters()).device
    return src.to(device)


def _next_token_logits(model: nn.Module, tokens: Tensor, state, pad_id: int):
    """One decoding step in float32, with <pad> excluded from the candidates."""
    logits, state = model.step(tokens, state)
    logits = logits.float()
    logits[:, pad_id] = float("-inf")
    return logits, state


def _decode_one_by_one(model: nn.Module, src: Tensor, max_len: int, choose: Callable[[Tensor], Tensor],
                       bos_id: int, eos_id: int, pad_id: int, use_cache: bool,
                       deadline: float | None = None) -> list[list[int]]:
    """Shared loop of greedy and sampling: ``choose`` maps logits (B, V) to next tokens (B,).
    Past ``deadline`` (``time.perf_counter()``) it stops: outputs not finished by then are cut."""
    src = _check_inputs(model, src, max_len)
    outputs: list[list[int]] = [[] for _ in range(src.size(0))]
    with inference(model):
        state = model.start(src, use_cache=use_cache)
        active = torch.arange(src.size(0), device=src.device)  # original row of each state row
        tokens = torch.full((src.size(0),), bos_id, dtype=torch.long, device=src.device)
        for _ in range(max_len):
            if deadline is not None and time.perf_counter() > deadline:
                break
            logits, state = _next_token_logits(model, tokens, state, pad_id)
            tokens = choose(logits)  # (A,)
            for row, token in zip(active.tolist(), tokens.tolist()):
                if token != eos_id:
                    outputs[row].append(token)
            keep = (tokens != eos_id).nonzero().squeeze(1)  # (A',)
            if keep.numel() == 0:
                break
            if keep.numel() < active.numel():
                state = state.reorder(keep)
                active, tokens = active[keep], tokens[keep]
    return outputs


def greedy(model: nn.Module, src: Tensor, max_len: int, bos_id: int = BOS_ID, eos_id: int = EOS_ID,
           pad_id: int = PAD_ID, use_cache: bool = True, deadline: float | None = None) -> list[list[int]]:
    """Most likely next token at every step, for each source row (padded with ``pad_id``); past
    ``deadline`` the outputs are cut where they are."""
    return _decode_one_by_one(model, src, max_len, lambda logits: logits.argmax(dim=-1), bos_id, eos_id,
                              pad_id, use_cache, deadline)


def sample(model: nn.Module, src: Tensor, max_len: int, temperature: float = 1.0, top_k: int | None = None,
           generator: torch.Generator | None = None, bos_id: int = BOS_ID, eos_id: int = EOS_ID,
           pad_id: int = PAD_ID, use_cache: bool = True) -> list[list[int]]:
    """Ancestral sampling from softmax(logits / temperature), optionally among the ``top_k`` tokens.

    Repeat rows of ``src`` to draw several samples per input; pass a seeded ``generator``
    (on the model's device) for reproducible draws.
    """
    if temperature <= 0:
        raise ValueError(f"temperature must be > 0 (use greedy for temperature 0), got {temperature}")
    if top_k is not None and top_k < 1:
        raise ValueError(f"top_k must be >= 1 or None, got {top_k}")

    def choose(logits: Tensor) -> Tensor:
        logits = logits / temperature
        if top_k is not None and top_k < logits.size(-1):
            threshold = logits.topk(top_k, dim=-1).values[:, -1:]  # (B, 1)
            logits = logits.masked_fill(logits < threshold, float("-inf"))
        return torch.multinomial(logits.softmax(dim=-1), 1, generator=generator).squeeze(1)  # (B,)

    return _decode_one_by_one(model, src, max_len, choose, bos_id, eos_id, pad_id, use_cache)


class _FinishedPool:
    """The best ``capacity`` hypotheses found so far for one input."""

    def __init__(self, capacity: int):
        self.capacity, self.items = capacity, []

    def add(self, hypothesis: Hypothesis) -> None:
        self.items.append(hypothesis)
        self.items.sort(key=lambda h: h.score, reverse=True)  # stable: earlier finds win ties
        del self.items[self.capacity:]

    def full(self) -> bool:
        return len(self.items) >= self.capacity

    def worst_score(self) -> float:
        return self.items[-1].score


def _best_reachable(best_live_sum: float, length: int, horizon: int, length_penalty: float) -> float:
    """Upper bound of the score a live beam (log-prob sum so far, ``length`` tokens) can reach by ending
    within ``horizon`` tokens (``max_len``: the exact bound; ``length + 1``: the "next" rule).

    Log-probabilities are <= 0, so the sum can only fall; the divisor len ** length_penalty
    helps most at the longest length if the penalty is positive, at the next length otherwise.
    """
    final_len = horizon if length_penalty > 0 else length + 1
    return best_live_sum / final_len ** length_penalty


def beam_search(model: nn.Module, src: Tensor, beam_size: int, max_len: int, length_penalty: float = 1.0,
                n_best: int | None = None, early_stopping: bool | str | None = None, bos_id: int = BOS_ID,
                eos_id: int = EOS_ID, pad_id: int = PAD_ID, use_cache: bool = True,
                deadline: float | None = None) -> list[list[Hypothesis]]:
    """Batched beam search; for each source, its ``n_best`` (default ``beam_size``) hypotheses, best first.

    At each step every live beam proposes its tokens; among the 2K best continuations of an
    input, those ending in <eos> within the top K become finished hypotheses and the K best
    others stay live. An input stops when K hypotheses are finished and, by ``early_stopping``:

    - ``True``: at once. At beam 50 the pool fills with short hypotheses before a longer one with
      a better length-normalised score ends: the non-polynomial model's right V of 60 tokens
      (score −0.016, first at beam 5 and 10) was lost at beam 20 and 50 to 45-token ones (−0.060);
    - ``"next"`` (the default, None, for K > 1; K = 1 stops at once, as greedy decoding): when the
      best live beam, were it to end at the next step, would not beat the worst finished one (its
      normalised score can still rise if later tokens are likelier than its average so far: a
      heuristic, about 20–30% more steps than ``True`` at beam 50);
    - ``False``: when no live beam can beat the worst finished one even at ``max_len`` (exact, slow).

    At ``max_len`` the live beams join the pool as unfinished hypotheses. Past ``deadline``
    (``time.perf_counter()``, checked at every step) the search stops with the hypotheses finished
    so far, possibly none: a cooperative time limit.
    """
    src = _check_inputs(model, src, max_len)
    if beam_size < 1:
        raise ValueError(f"beam_size must be >= 1, got {beam_size}")
    n_best = beam_size if n_best is None else n_best
    if early_stopping is None:
        early_stopping = "next" if beam_size > 1 else True
    if early_stopping not in (True, False, "next"):
        raise ValueError(f"early_stopping must be True, False, 'next' or None, got {early_stopping!r}")
    if not 1 <= n_best <= beam_size:
        raise ValueError(f"n_best must be between 1 and beam_size={beam_size}, got {n_best}")
    batch, width, device = src.size(0), beam_size, src.device
    pools = [_FinishedPool(width) for _ in range(batch)]
    with inference(model):
        state = model.start(src, use_cache=use_cache)
        state = state.reorder(torch.arange(batch, device=device).repeat_interleave(width))  # (B*K) rows
        active = list(range(batch))  # input index of each group of K rows
        sums = torch.zeros(batch, width, device=device)  # log-prob sum of each live beam
        sums[:, 1:] = float("-inf")  # all beams start equal: keep only one at the first step
        history = torch.zeros(batch * width, 0, dtype=torch.long, device=device)  # (A*K, t)
        tokens = torch.full((batch * width,), bos_id, dtype=torch.long, device=device)
        for length in range(1, max_len + 1):
            if deadline is not None and time.perf_counter() > deadline:
                break
            logits, state = _next_token_logits(model, tokens, state, pad_id)
            log_probs = logits.log_softmax(dim=-1)  # (A*K, V)
            vocab = log_probs.size(-1)
            totals = sums.unsqueeze(-1) + log_probs.view(len(active), width, vocab)  # (A, K, V)
            top_sums, top_ids = totals.view(len(active), width * vocab).topk(2 * width, dim=1)  # (A, 2K)
            parents, next_tokens = top_ids // vocab, top_ids % vocab  # (A, 2K)
            is_eos = next_tokens == eos_id
            ends = is_eos & (torch.arange(2 * width, device=device) < width) & (top_sums > float("-inf"))
            _collect_finished(pools, active, ends, parents, top_sums, history, length, length_penalty)
            # each beam has one <eos> candidate, so at least K of the 2K continuations are not <eos>
            sums, chosen = top_sums.masked_fill(is_eos, float("-inf")).topk(width, dim=1)  # (A, K)
            rows = (torch.arange(len(active), device=device).unsqueeze(1) * width
                    + parents.gather(1, chosen)).view(-1)  # (A*K,)
            tokens = next_tokens.gather(1, chosen).view(-1)  # (A*K,)
            history = torch.cat((history.index_select(0, rows), tokens.unsqueeze(1)), dim=1)  # (A*K, t+1)
            best_live = sums[:, 0].tolist()  # one device -> host copy per step
            done = [_input_done(pools[b], best_live[g], length, max_len, length_penalty, early_stopping)
                    for g, b in enumerate(active)]
            if length == max_len:
                _add_unfinished(pools, active, done, history, sums, length, length_penalty)
                break
            if all(done):
                break
            keep = [g for g, finished in enumerate(done) if not finished]
            if len(keep) < len(active):
                groups = torch.tensor(keep, device=device)
                kept_rows = (groups.unsqueeze(1) * width + torch.arange(width, device=device)).view(-1)  # (A'*K,)
                active, sums = [active[g] for g in keep], sums[groups]
                rows, tokens, history = rows[kept_rows], tokens[kept_rows], history[kept_rows]
            state = state.reorder(rows)
    return [pool.items[:n_best] for pool in pools]


def _collect_finished(pools: list[_FinishedPool], active: list[int], ends: Tensor, parents: Tensor,
                      top_sums: Tensor, history: Tensor, length: int, length_penalty: float) -> None:
    """Turn the candidates marked in ``ends`` (A, 2K) into finished hypotheses (few host copies)."""
    hits = ends.nonzero().tolist()
    if not hits:
        return
    width = history.size(0) // len(active)
    groups, ranks = zip(*hits)
    index = (torch.tensor(groups), torch.tensor(ranks))
    rows = (torch.tensor(groups) * width + parents.cpu()[index]).tolist()
    log_probs = top_sums.cpu()[index].tolist()
    prefixes = history.index_select(0, torch.tensor(rows, device=history.device)).tolist()
    for group, prefix, log_prob in zip(groups, prefixes, log_probs):
        pools[active[group]].add(Hypothesis(prefix, log_prob / length ** length_penalty, log_prob, True))


def _input_done(pool: _FinishedPool, best_live_sum: float, length: int, max_len: int,
                length_penalty: float, early_stopping: bool | str) -> bool:
    if not pool.full():
        return False
    if early_stopping is True or best_live_sum == float("-inf"):
        return True
    horizon = length + 1 if early_stopping == "next" else max_len
    return pool.worst_score() >= _best_reachable(best_live_sum, length, horizon, length_penalty)


def _add_unfinished(pools: list[_FinishedPool], active: list[int], done: list[bool], history: Tensor,
                    sums: Tensor, length: int, length_penalty: float) -> None:
    """At ``max_len``: live beams of unfinished inputs compete with the finished hypotheses."""
    width, all_sums, prefixes = sums.size(1), sums.tolist(), history.tolist()
    for group, input_index in enumerate(active):
        if done[group]:
            continue
        for beam, log_prob in enumerate(all_sums[group]):
            if log_prob > float("-inf"):
                pools[input_index].add(Hypothesis(prefixes[group * width + beam],
                                                  log_prob / length ** length_penalty, log_prob, False))

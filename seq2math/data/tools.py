"""Data-set tools for files of any task: dedup, split without overlap, exclude, mix (``seq2math data``).

They work on the records of ``seq2math.data.files`` (any of its formats, even mixed in one
file) and copy the lines they keep byte for byte, so a tool never changes an example's
spelling. Two records are the same example when their source and target token sequences are
equal (whitespace and COUNT do not matter). Every random choice uses ``random.Random(seed)``:
the same inputs and seed give the same output files.
"""

from __future__ import annotations

import random
from collections import Counter
from dataclasses import dataclass

from seq2math.data.files import Record, format_text_line, read_records


# ---- dedup ---------------------------------------------------------------------------------
def deduplicate(records: list[Record]) -> list[str]:
    """First occurrence of every (source, target), in file order. Prefix lines carry the
    summed duplicate count (that is what COUNT means in the benchmark files)."""
    first: dict[tuple[str, str], Record] = {}
    totals: Counter = Counter()
    for record in records:
        first.setdefault(record.key, record)
        totals[record.key] += record.count if record.count is not None else 1
    lines = []
    for key, record in first.items():
        if record.count is None:
            lines.append(record.text)
        else:
            lines.append(format_text_line(record.source, record.target, count=totals[key]))
    return lines


# ---- split ---------------------------------------------------------------------------------
SPLITS = ("train", "valid", "test")


def split_by_source(records: list[Record], valid: int, test: int, seed: int) -> dict[str, list[Record]]:
    """Train / valid / test with no source in two parts: ``valid`` and ``test`` count distinct
    sources (all lines of a source go together), drawn with ``seed``; train keeps file order."""
    sources = list(dict.fromkeys(record.source_text for record in records))
    if valid < 0 or test < 0:
        raise ValueError("--valid and --test must be non-negative")
    if valid + test > len(sources):
        raise ValueError(f"--valid {valid} + --test {test} exceed the {len(sources)} distinct sources")
    order = sources[:]
    random.Random(seed).shuffle(order)
    part = {s: "valid" for s in order[:valid]} | {s: "test" for s in order[valid:valid + test]}
    splits: dict[str, list[Record]] = {name: [] for name in SPLITS}
    for record in records:
        splits[part.get(record.source_text, "train")].append(record)
    return splits


# ---- exclude -------------------------------------------------------------------------------
def exclude_sources(records: list[Record], against: list[Record], keep: int | None = None) -> tuple[list[str], int]:
    """The lines of ``records`` whose source is not the source of any record of ``against``
    (a test set: training data must not contain its systems), in file order, at most ``keep``
    of them; returns (lines, number of records dropped because their source is in ``against``)."""
    if keep is not None and keep < 0:
        raise ValueError("--keep must be non-negative")
    banned = {record.source_text for record in against}
    lines, dropped = [], 0
    for record in records:
        if record.source_text in banned:
            dropped += 1
        elif keep is None or len(lines) < keep:
            lines.append(record.text)
    return lines, dropped


# ---- mix -----------------------------------------------------------------------------------
@dataclass(frozen=True)
class MixSpec:
    """One input of ``mix``: ``FILE`` / ``FILE:all``, ``FILE:300`` (lines) or ``FILE:0.25`` (weight)."""

    path: str
    kind: str  # "all", "count" or "weight"
    amount: float | int | None  # the count or the weight; None for "all"


def parse_mix_spec(spec: str) -> MixSpec:
    """``FILE`` / ``FILE:all`` (every line), ``FILE:300`` (300 lines), ``FILE:0.25`` (a weight)."""
    path, colon, amount = spec.rpartition(":")
    if not colon or not path or "/" in amount:
        return MixSpec(spec, "all", None)
    if amount == "all":
        return MixSpec(path, "all", None)
    try:
        return MixSpec(path, "count", int(amount)) if amount.isdigit() else MixSpec(path, "weight", float(amount))
    except ValueError:
        raise ValueError(f"mix: {spec!r}: after ':' expected 'all', a count or a weight, got {amount!r}") from None


@dataclass
class Mixture:
    """The result of ``mix``: the lines, and how many were drawn from each file."""

    lines: list[str]
    drawn: list[tuple[str, int]]  # (path, number of lines) in the order given
    skipped: int  # malformed lines skipped in all inputs


def mix(specs: list[str], seed: int, total: int | None, shuffle: bool = True, on_error: str = "skip") -> Mixture:
    """Lines drawn from several files (without replacement) by counts and/or weights.

    A weighted file gets ``round((total - sum of counts) * weight / sum of weights)`` lines.
    """
    rng = random.Random(seed)
    parsed = [parse_mix_spec(spec) for spec in specs]
    weighted = [spec.amount for spec in parsed if spec.kind == "weight"]
    if weighted and total is None:
        raise ValueError("mix: weights (FILE:0.3) need --count TOTAL; use FILE:N for a number of lines")
    fixed = sum(spec.amount for spec in parsed if spec.kind == "count")
    remaining = (total - fixed) if total is not None else 0
    weight_sum = sum(weighted) or 1.0
    out, drawn, skipped = [], [], 0
    for spec in parsed:
        records, bad = read_records(spec.path, on_error)
        skipped += bad
        if spec.kind == "all":
            wanted = len(records)
        elif spec.kind == "count":
            wanted = int(spec.amount)
        else:
            wanted = round(remaining * spec.amount / weight_sum)
        if wanted > len(records):
            raise ValueError(f"mix: {spec.path} has {len(records)} examples, {wanted} requested")
        chosen = records if wanted == len(records) else rng.sample(records, wanted)
        out.extend(record.text for record in chosen)
        drawn.append((spec.path, wanted))
    if shuffle:
        rng.shuffle(out)
    return Mixture(out, drawn, skipped)

"""``seq2math data dedup|split|mix|stats``: data-set tools for files of any task.

They read the prefix benchmark format (``COUNT|SOURCE<TAB>TARGET``), plain
``SOURCE<TAB>TARGET`` lines (the linear-algebra tasks) and JSONL (``{"input", "target"}``).
Two examples are the same when their source and target token sequences are equal
(whitespace and the COUNT field do not matter). Malformed lines are reported with their
line number and skipped, or stop the command with ``--strict``.
"""

from __future__ import annotations

import json
import random
import sys
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

from seq2math.commands.options import add_input_files
from seq2math.tasks.base import DataFormatError

HELP = "data-set tools: dedup, split (no overlap), mix (e.g. backward + 300 forward), stats"
DESCRIPTION = """Data-set tools for files in the prefix format (COUNT|SRC<TAB>TGT), plain TSV or JSONL.

examples:
  seq2math data dedup bwd.txt --out bwd.dedup.txt
  seq2math data split bwd.dedup.txt --valid 200 --test 200 --seed 0 --out-dir splits/
  seq2math data mix splits/train.txt fwd.txt:300 --out polymixture.txt --seed 0
  seq2math data stats polymixture.txt
"""


@dataclass
class Record:
    """One example of a data file; ``text`` is the line as read (without its newline)."""

    line: int
    count: int | None  # the COUNT of ``COUNT|...`` lines, None when absent
    source: str  # tokens joined by single spaces
    target: str
    text: str

    @property
    def key(self) -> tuple[str, str]:
        return self.source, self.target


def parse_record(text: str, path: str, number: int) -> Record:
    """Split one line of any supported format; raise ``DataFormatError`` naming the line."""
    if text.lstrip().startswith("{"):
        try:
            data = json.loads(text)
            return Record(number, None, " ".join(data["input"].split()), " ".join(data["target"].split()), text)
        except (json.JSONDecodeError, KeyError, AttributeError, TypeError) as err:
            raise DataFormatError(f"bad JSON line ({err})", path, number) from None
    count = None
    head, bar, rest = text.partition("|")
    body = text
    if bar and "\t" not in head:
        if not head.strip().isdigit():
            raise DataFormatError(f"the count before '|' is not a number: {head!r}", path, number)
        count, body = int(head), rest
    if body.count("\t") != 1:
        raise DataFormatError(f"expected SOURCE<TAB>TARGET, found {body.count(chr(9))} tabs", path, number)
    source, target = body.split("\t")
    if not source.split():
        raise DataFormatError("empty source", path, number)
    return Record(number, count, " ".join(source.split()), " ".join(target.split()), text)


def read_records(path: str | Path, strict: bool = False) -> tuple[list[Record], int]:
    """All well-formed records of a file, and the number of malformed lines skipped."""
    path = Path(path)
    if not path.exists():
        raise FileNotFoundError(f"{path} does not exist")
    records, bad = [], 0
    with open(path, encoding="utf-8") as handle:
        for number, line in enumerate(handle, 1):
            text = line.rstrip("\r\n")
            if not text.strip():
                continue
            try:
                records.append(parse_record(text, str(path), number))
            except DataFormatError as err:
                if strict:
                    raise
                print(f"warning: skipping malformed line {err}", file=sys.stderr)
                bad += 1
    return records, bad


def write_lines(path: str | Path, lines: list[str]) -> None:
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("".join(line + "\n" for line in lines), encoding="utf-8")


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
            lines.append(f"{totals[key]}|{record.source}\t{record.target}")
    return lines


# ---- split ---------------------------------------------------------------------------------
def split_by_source(records: list[Record], valid: int, test: int, seed: int
                    ) -> dict[str, list[Record]]:
    """Train / valid / test with no source in two parts: ``valid`` and ``test`` count distinct
    sources (all lines of a source go together), drawn with ``seed``; train keeps file order."""
    sources = list(dict.fromkeys(record.source for record in records))
    if valid < 0 or test < 0:
        raise ValueError("--valid and --test must be non-negative")
    if valid + test > len(sources):
        raise ValueError(f"--valid {valid} + --test {test} exceed the {len(sources)} distinct sources")
    order = sources[:]
    random.Random(seed).shuffle(order)
    part = {s: "valid" for s in order[:valid]} | {s: "test" for s in order[valid:valid + test]}
    splits: dict[str, list[Record]] = {"train": [], "valid": [], "test": []}
    for record in records:
        splits[part.get(record.source, "train")].append(record)
    return splits


# ---- mix -----------------------------------------------------------------------------------
def parse_mix_spec(spec: str) -> tuple[str, str, float | int | None]:
    """``FILE`` / ``FILE:all`` (every line), ``FILE:300`` (300 lines), ``FILE:0.25`` (a weight)."""
    path, colon, amount = spec.rpartition(":")
    if not colon or not path or "/" in amount:
        return spec, "all", None
    if amount == "all":
        return path, "all", None
    try:
        return (path, "count", int(amount)) if amount.isdigit() else (path, "weight", float(amount))
    except ValueError:
        raise ValueError(f"mix: {spec!r}: after ':' expected 'all', a count or a weight, got {amount!r}") from None


def mix(specs: list[str], seed: int, total: int | None, shuffle: bool = True, strict: bool = False) -> list[str]:
    """Lines drawn from several files (without replacement) by counts and/or weights."""
    rng = random.Random(seed)
    parsed = [parse_mix_spec(spec) for spec in specs]
    weighted = [(p, w) for p, kind, w in parsed if kind == "weight"]
    if weighted and total is None:
        raise ValueError("mix: weights (FILE:0.3) need --count TOTAL; use FILE:N for a number of lines")
    fixed = sum(v for _, kind, v in parsed if kind == "count")
    remaining = (total - fixed) if total is not None else 0
    weight_sum = sum(w for _, w in weighted) or 1.0
    out: list[str] = []
    for path, kind, value in parsed:
        records, _ = read_records(path, strict)
        if kind == "all":
            wanted = len(records)
        elif kind == "count":
            wanted = int(value)
        else:
            wanted = round(remaining * value / weight_sum)
        if wanted > len(records):
            raise ValueError(f"mix: {path} has {len(records)} examples, {wanted} requested")
        chosen = records if wanted == len(records) else rng.sample(records, wanted)
        out.extend(record.text for record in chosen)
        print(f"mix: {wanted} examples from {path}", file=sys.stderr)
    if shuffle:
        rng.shuffle(out)
    return out


# ---- command line --------------------------------------------------------------------------
def add_arguments(parser) -> None:
    sub = parser.add_subparsers(dest="data_command", metavar="TOOL")
    dedup = sub.add_parser("dedup", help="drop repeated examples (summing COUNT in prefix files)")
    add_input_files(dedup, dest="input", help="data file")
    dedup.add_argument("--out", required=True)
    split = sub.add_parser("split", help="train/valid/test with no source shared between parts")
    add_input_files(split, dest="input", help="data file")
    split.add_argument("--valid", type=int, required=True, help="number of distinct sources in valid")
    split.add_argument("--test", type=int, required=True, help="number of distinct sources in test")
    split.add_argument("--seed", type=int, default=0)
    split.add_argument("--out-dir", required=True, help="writes train/valid/test files here")
    mixer = sub.add_parser("mix", help="mix files: FILE (all), FILE:N (N lines), FILE:0.3 (weight, needs --count)")
    add_input_files(mixer, dest="inputs", many=True, metavar="FILE[:all|:N|:WEIGHT]",
                    help="data files, each whole (FILE, FILE:all), its first N lines or a weight")
    mixer.add_argument("--out", required=True)
    mixer.add_argument("--seed", type=int, default=0)
    mixer.add_argument("--count", type=int, default=None, help="total number of lines (with weights)")
    mixer.add_argument("--no-shuffle", action="store_true", help="concatenate in the given order")
    stats = sub.add_parser("stats", help="number of variables, degrees, token lengths, terms (histograms)")
    add_input_files(stats, dest="input", help="data file")
    for tool in (dedup, split, mixer, stats):
        tool.add_argument("--strict", action="store_true", help="stop at the first malformed line")


def run(args) -> int:
    from seq2math.config import ConfigError

    command = getattr(args, "data_command", None)
    if command is None:
        raise ConfigError("name a tool: dedup, split, mix or stats (seq2math data --help)")
    try:
        return {"dedup": _run_dedup, "split": _run_split, "mix": _run_mix, "stats": _run_stats}[command](args)
    except ValueError as err:
        if isinstance(err, DataFormatError):
            raise
        raise ConfigError(str(err)) from None


def _refuse_overwrite(path: str | Path, *inputs: str) -> None:
    if any(Path(path).resolve() == Path(i).resolve() for i in inputs):
        raise ValueError(f"the output {path} is also an input")


def _run_dedup(args) -> int:
    _refuse_overwrite(args.out, args.input)
    records, bad = read_records(args.input, args.strict)
    lines = deduplicate(records)
    write_lines(args.out, lines)
    print(f"dedup: {len(records)} examples -> {len(lines)} distinct ({bad} malformed lines skipped); "
          f"wrote {args.out}", file=sys.stderr)
    return 0


def _run_split(args) -> int:
    records, bad = read_records(args.input, args.strict)
    splits = split_by_source(records, args.valid, args.test, args.seed)
    suffix = Path(args.input).suffix or ".txt"
    for name, part in splits.items():
        target = Path(args.out_dir) / f"{name}{suffix}"
        _refuse_overwrite(target, args.input)
        write_lines(target, [record.text for record in part])
        print(f"split: {name}: {len(part)} examples, {len({r.source for r in part})} sources -> {target}",
              file=sys.stderr)
    if bad:
        print(f"split: {bad} malformed lines skipped", file=sys.stderr)
    return 0


def _run_mix(args) -> int:
    _refuse_overwrite(args.out, *[parse_mix_spec(s)[0] for s in args.inputs])
    lines = mix(args.inputs, args.seed, args.count, shuffle=not args.no_shuffle, strict=args.strict)
    write_lines(args.out, lines)
    print(f"mix: wrote {len(lines)} examples to {args.out}", file=sys.stderr)
    return 0


def _run_stats(args) -> int:
    records, bad = read_records(args.input, args.strict)
    print(format_statistics(collect_statistics(records, args.input, args.strict), bad, args.input))
    return 0


# ---- stats ---------------------------------------------------------------------------------
def _system_statistics(record: Record, path: str) -> dict[str, int | str]:
    """Sizes of one Lyapunov example; degrees and terms only when it is polynomial."""
    from seq2math.symbolic.expr import NotPolynomialError, to_poly
    from seq2math.tokens.prefix import (
        PrefixParseError,
        parse_full_expression,
        parse_system,
    )

    try:
        system = parse_system(record.source.split())
        V = parse_full_expression(record.target.split()) if record.target else None
    except PrefixParseError as err:
        raise DataFormatError(str(err), path, record.line) from None
    n = len(system)
    row: dict[str, int | str] = {"variables": n}
    try:
        polys = [to_poly(f, n) for f in system]
        row["system degree"] = max(int(p.total_degree()) for p in polys if not p.is_zero()) if any(
            not p.is_zero() for p in polys) else 0
        row["system terms"] = sum(len(p) for p in polys)
        if V is not None:
            target = to_poly(V, n)
            row["V degree"] = int(target.total_degree())
            row["V terms"] = len(target)
    except NotPolynomialError:
        row["kind"] = "non-polynomial"
    return row


def collect_statistics(records: list[Record], path: str = "", strict: bool = False) -> dict:
    """Histograms (value -> count) of token lengths and, for systems, variables/degrees/terms."""
    histograms: dict[str, Counter] = {"source tokens": Counter(), "target tokens": Counter()}
    kinds: Counter = Counter()
    malformed = 0
    for record in records:
        row: dict[str, int | str] = {"source tokens": len(record.source.split()),
                                     "target tokens": len(record.target.split())}
        if "<SPECIAL_3>" in record.source:
            try:
                row |= _system_statistics(record, path)
            except DataFormatError as err:
                if strict:
                    raise
                print(f"warning: skipping malformed line {err}", file=sys.stderr)
                malformed += 1
                continue
            kinds[row.pop("kind", "polynomial")] += 1
        for name, value in row.items():
            histograms.setdefault(name, Counter())[value] += 1
    return {"examples": len(records) - malformed, "malformed": malformed, "kinds": kinds,
            "histograms": histograms}


def _histogram_lines(counter: Counter, width: int = 40, bins: int = 12) -> list[str]:
    values = sorted(counter)
    if len(values) > bins:  # group into equal-width bins
        low, high = values[0], values[-1]
        step = max(1, -(-(high - low + 1) // bins))
        grouped: Counter = Counter()
        for value, count in counter.items():
            start = low + (value - low) // step * step
            grouped[(start, start + step - 1)] += count
        rows = [(f"{a}-{b}", grouped[(a, b)]) for a, b in sorted(grouped)]
    else:
        rows = [(str(v), counter[v]) for v in values]
    top = max(count for _, count in rows)
    label = max(len(name) for name, _ in rows)
    return [f"    {name:>{label}} | {'#' * max(1, round(width * count / top)):<{width}} {count}" for name, count in rows]


def format_statistics(statistics: dict, skipped: int, path: str) -> str:
    lines = [f"{path}: {statistics['examples']} examples, {statistics['malformed'] + skipped} malformed lines skipped"]
    if statistics["kinds"]:
        lines.append("  " + ", ".join(f"{kind}: {count}" for kind, count in sorted(statistics["kinds"].items())))
    for name, counter in statistics["histograms"].items():
        if not counter:
            continue
        values = sorted(counter.elements())
        mean = sum(values) / len(values)
        lines.append(f"  {name}: min {values[0]}, median {values[len(values) // 2]}, mean {mean:.1f}, "
                     f"max {values[-1]}")
        lines.extend(_histogram_lines(counter))
    return "\n".join(lines)

"""``seq2math data dedup|split|mix|stats``: data-set tools for files of any task.

The command parses, calls ``seq2math.data.tools`` / ``seq2math.data.stats`` and prints. Files are
read by ``seq2math.data.files``: the prefix benchmark format (``COUNT|SOURCE<TAB>TARGET``), plain
``SOURCE<TAB>TARGET`` lines (the linear-algebra tasks) and JSONL (``{"input", "target"}``).
Malformed lines are reported with their line number and skipped, or stop the command with ``--strict``.
"""

from __future__ import annotations

import sys
from pathlib import Path

from seq2math.commands.options import add_input_files
from seq2math.config import ConfigError
from seq2math.data.files import read_records, write_lines
from seq2math.data.stats import collect_statistics, format_statistics
from seq2math.data.tools import deduplicate, mix, parse_mix_spec, split_by_source
from seq2math.tasks.base import DataFormatError

HELP = "data-set tools: dedup, split (no overlap), mix (e.g. backward + 300 forward), stats"
DESCRIPTION = """Data-set tools for files in the prefix format (COUNT|SRC<TAB>TGT), plain TSV or JSONL.

examples:
  seq2math data dedup bwd.txt --out bwd.dedup.txt
  seq2math data split bwd.dedup.txt --valid 200 --test 200 --seed 0 --out-dir splits/
  seq2math data mix splits/train.txt fwd.txt:300 --out polymixture.txt --seed 0
  seq2math data stats polymixture.txt
"""


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
    command = getattr(args, "data_command", None)
    if command is None:
        raise ConfigError("name a tool: dedup, split, mix or stats (seq2math data --help)")
    try:
        return {"dedup": _run_dedup, "split": _run_split, "mix": _run_mix, "stats": _run_stats}[command](args)
    except ValueError as err:
        if isinstance(err, DataFormatError):
            raise
        raise ConfigError(str(err)) from None


def _on_error(args) -> str:
    return "raise" if args.strict else "skip"


def _refuse_overwrite(path: str | Path, *inputs: str) -> None:
    if any(Path(path).resolve() == Path(i).resolve() for i in inputs):
        raise ValueError(f"the output {path} is also an input")


def _run_dedup(args) -> int:
    _refuse_overwrite(args.out, args.input)
    records, bad = read_records(args.input, _on_error(args))
    lines = deduplicate(records)
    write_lines(args.out, lines)
    print(f"dedup: {len(records)} examples -> {len(lines)} distinct ({bad} malformed lines skipped); "
          f"wrote {args.out}", file=sys.stderr)
    return 0


def _run_split(args) -> int:
    records, bad = read_records(args.input, _on_error(args))
    splits = split_by_source(records, args.valid, args.test, args.seed)
    suffix = Path(args.input).suffix or ".txt"
    for name, part in splits.items():
        target = Path(args.out_dir) / f"{name}{suffix}"
        _refuse_overwrite(target, args.input)
        write_lines(target, [record.text for record in part])
        print(f"split: {name}: {len(part)} examples, {len({r.source_text for r in part})} sources -> {target}",
              file=sys.stderr)
    if bad:
        print(f"split: {bad} malformed lines skipped", file=sys.stderr)
    return 0


def _run_mix(args) -> int:
    _refuse_overwrite(args.out, *[parse_mix_spec(s).path for s in args.inputs])
    mixture = mix(args.inputs, args.seed, args.count, shuffle=not args.no_shuffle, on_error=_on_error(args))
    for path, count in mixture.drawn:
        print(f"mix: {count} examples from {path}", file=sys.stderr)
    write_lines(args.out, mixture.lines)
    print(f"mix: wrote {len(mixture.lines)} examples to {args.out}", file=sys.stderr)
    return 0


def _run_stats(args) -> int:
    records, bad = read_records(args.input, _on_error(args))
    print(format_statistics(collect_statistics(records, args.input, _on_error(args)), bad, args.input))
    return 0

"""``seq2math data dedup|split|exclude|mix|stats|merge``: data-set tools for files of any task.

The command parses, calls ``seq2math.data.tools`` / ``seq2math.data.stats`` and prints. Files are
read by ``seq2math.data.files``: the prefix benchmark format (``COUNT|SOURCE<TAB>TARGET``), plain
``SOURCE<TAB>TARGET`` lines (the linear-algebra tasks) and JSONL (``{"input", "target"}``).
Malformed lines are reported with their line number and skipped, or stop the command with ``--strict``.
``merge`` joins the outputs of ``--shard i/N`` runs (``seq2math.data.shards``, docs/scale.md).
"""

from __future__ import annotations

import sys
from pathlib import Path

from seq2math.commands.options import add_input_files
from seq2math.config import ConfigError
from seq2math.data.files import read_records, write_lines
from seq2math.data.stats import collect_statistics, format_statistics
from seq2math.data.tools import deduplicate, exclude_sources, mix, parse_mix_spec, split_by_source
from seq2math.tasks.base import DataFormatError

HELP = "data-set tools: dedup, split (no overlap), mix (e.g. backward + 300 forward), stats, merge (shards)"
DESCRIPTION = """Data-set tools for files in the prefix format (COUNT|SRC<TAB>TGT), plain TSV or JSONL.

examples:
  seq2math data dedup bwd.txt --out bwd.dedup.txt
  seq2math data split bwd.dedup.txt --valid 200 --test 200 --seed 0 --out-dir splits/
  seq2math data exclude fbarr400.txt --against tests/data/lyapunov-*-test200.txt --keep 300 --out fbarr300.txt
  seq2math data mix splits/train.txt fwd.txt:300 --out polymixture.txt --seed 0
  seq2math data stats polymixture.txt
  seq2math data merge bwd.0.txt bwd.1.txt --out bwd.txt     (outputs of --shard 0/2 and 1/2)
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
    excluder = sub.add_parser("exclude", help="drop the examples whose system (source) occurs in other files, "
                                               "e.g. the test sets")
    add_input_files(excluder, dest="input", help="data file")
    excluder.add_argument("--against", nargs="+", required=True, metavar="FILE",
                          help="files whose sources must not occur in the output (e.g. test sets)")
    excluder.add_argument("--keep", type=int, default=None, help="keep at most the first N remaining lines")
    excluder.add_argument("--out", required=True)
    mixer = sub.add_parser("mix", help="mix files: FILE (all), FILE:N (N lines), FILE:0.3 (weight, needs --count)")
    add_input_files(mixer, dest="inputs", many=True, metavar="FILE[:all|:N|:WEIGHT]",
                    help="data files, each whole (FILE, FILE:all), its first N lines or a weight")
    mixer.add_argument("--out", required=True)
    mixer.add_argument("--seed", type=int, default=0)
    mixer.add_argument("--count", type=int, default=None, help="total number of lines (with weights)")
    mixer.add_argument("--no-shuffle", action="store_true", help="concatenate in the given order")
    stats = sub.add_parser("stats", help="number of variables, degrees, token lengths, terms (histograms)")
    add_input_files(stats, dest="input", help="data file")
    for tool in (dedup, split, excluder, mixer, stats):
        tool.add_argument("--strict", action="store_true", help="stop at the first malformed line")
    merge = sub.add_parser("merge", help="join the outputs of --shard i/N runs of generate, verify, solve, report "
                                         "into the one-process output")
    add_input_files(merge, dest="inputs", many=True, metavar="SHARD",
                    help="the output files (report: directories) of every shard, in any order")
    merge.add_argument("--out", required=True, help="merged file (report: directory)")


def run(args) -> int:
    command = getattr(args, "data_command", None)
    if command is None:
        raise ConfigError("name a tool: dedup, split, exclude, mix, stats or merge (seq2math data --help)")
    try:
        return {"dedup": _run_dedup, "split": _run_split, "exclude": _run_exclude, "mix": _run_mix,
                "stats": _run_stats, "merge": _run_merge}[command](args)
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


def _run_exclude(args) -> int:
    _refuse_overwrite(args.out, args.input, *args.against)
    records, bad = read_records(args.input, _on_error(args))
    against = []
    for path in args.against:
        against.extend(read_records(path, _on_error(args))[0])
    lines, dropped = exclude_sources(records, against, args.keep)
    write_lines(args.out, lines)
    print(f"exclude: {len(records)} examples, {dropped} with a source in {len(args.against)} excluded file(s); "
          f"wrote {len(lines)} to {args.out} ({bad} malformed lines skipped)", file=sys.stderr)
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


def _run_merge(args) -> int:
    _refuse_overwrite(args.out, *args.inputs)
    if Path(args.out).exists():
        raise ValueError(f"{args.out} exists; remove it first (merge never overwrites)")
    sidecars = merge_outputs(args.inputs, args.out)
    print(f"merge: {len(sidecars)} shards of `seq2math {sidecars[0]['command']}` "
          f"({sum(s['lines'] for s in sidecars)} lines) -> {args.out}", file=sys.stderr)
    return 0


def merge_outputs(inputs: list[str], out: str) -> list[dict]:
    """Check that ``inputs`` are the complete shards of one job, join them into ``out`` and write
    the one-process run's side files; returns the shards' sidecars in shard order."""
    import json

    from seq2math.config import command_line
    from seq2math.data.shards import check_shards, concatenate, read_sidecar

    command = read_sidecar(inputs[0])["command"]
    if command == "report":
        from seq2math.lyapunov.report_shards import merge_reports

        return merge_reports(inputs, out)
    sidecars = check_shards(inputs, "records" if command in ("verify", "solve") else "lines")
    concatenate([side["path"] for side in sidecars], out)
    if command == "generate":              # the data file's config, as one run writes it, naming this merge
        first = Path(sidecars[0]["path"])
        config = json.loads(first.with_name(first.name + ".config.json").read_text())
        config = {"command": command_line()} | {k: v for k, v in config.items() if k not in ("command", "shard")}
        Path(out).with_name(Path(out).name + ".config.json").write_text(json.dumps(config, indent=2) + "\n")
    else:                                  # verify, solve: the summary of all records
        from seq2math.lyapunov.batch import summary

        with open(out, encoding="utf-8") as handle:
            records = [json.loads(line) for line in handle]
        data = summary(records, key=sidecars[0]["identity"]["summary"])
        Path(str(out) + ".summary.json").write_text(json.dumps(data, indent=1) + "\n")
    return sidecars

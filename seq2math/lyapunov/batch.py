"""Shared plumbing of the file commands (verify, baseline findlyap, solve --file).

Input files hold one problem per line: ``[COUNT|]SYSTEM<TAB>V`` in prefix tokens, or with
``--infix`` ``SYSTEM<TAB>V`` in human syntax (``x0' = -x0; x1' = -x1<TAB>x0^2 + x1^2``).
Blank lines and lines starting with ``#`` are skipped. Output is JSONL, one record per
input line carrying its ``line`` number, so ``--resume`` can skip what is already written.
With ``--shard i/N`` a run does the contiguous block ``Shard.block(T)`` of the file's ``T``
problem lines (``seq2math.data.shards``), numbered as in the whole file.
"""

from __future__ import annotations

import json
import math
import statistics
import sys
from fractions import Fraction
from pathlib import Path
from typing import Any, Callable, Iterator, TextIO

import numpy as np

from seq2math.data.shards import Shard, write_sidecar
from seq2math.jobs.files import drop_torn_tail, write_atomically
from seq2math.jobs.workers import TIMED_OUT, JobError, run_jobs
from seq2math.symbolic.calculus import evaluate
from seq2math.symbolic.expr import Expr, is_polynomial, to_infix, to_poly, variables
from seq2math.symbolic.poly import value_at_zero


class InputError(ValueError):
    """A malformed input line; the message names the file, the line and the problem."""


def read_lines(path: str | Path) -> Iterator[tuple[int, str]]:
    """(number, text) of each problem line; a line that is not UTF-8 raises ``DataFormatError``
    (``seq2math.data.files.text_lines``: FILE:LINE and the byte)."""
    from seq2math.data.files import text_lines

    path = Path(path)
    if not path.exists():
        raise FileNotFoundError(f"{path}: no such file")
    for number, text in text_lines(path):
        stripped = text.strip()
        if stripped and not stripped.startswith("#"):
            yield number, text.rstrip("\r\n")


def shard_lines(path: str | Path, shard: Shard | None) -> Iterator[tuple[int, str]]:
    """The problem lines of ``path`` that ``shard`` does (all of them without a shard)."""
    if shard is None:
        yield from read_lines(path)
        return
    block = shard.block(count_problems(path))
    for index, item in enumerate(read_lines(path)):
        if index >= block.stop:
            return
        if index >= block.start:
            yield item


def count_problems(path: str | Path) -> int:
    """Number of problem lines of ``path`` (blank and ``#`` lines left out)."""
    return sum(1 for _ in read_lines(path))


def start_shard(out: str | None, shard: Shard | None, command: str, path: str | Path,
                settings: dict[str, Any]) -> None:
    """Write the sidecar of shard ``shard`` of a file command (``seq2math.data.shards``): the input
    file's name and size and the command's ``settings`` must agree between the shards."""
    if shard is None:
        return
    if out is None:
        raise ValueError(f"--shard {shard} needs --out FILE: the shard's records are merged from there")
    path = Path(path)
    if not path.exists():
        raise FileNotFoundError(f"{path}: no such file")
    identity = {"input": path.name, "input_bytes": path.stat().st_size} | settings
    write_sidecar(out, shard, command, identity, lines=len(shard.block(count_problems(path))))


def parse_problem(text: str, infix: bool, path: str | None = None, line: int | None = None,
                  need_target: bool = True) -> tuple[list, Any]:
    """(system as expression trees, V or None) of one line, after ``check_system``; raise
    ``InputError`` naming the line."""
    where = f"{path}:{line}: " if path else (f"line {line}: " if line else "")
    try:
        system, V = _parse(text, infix, path, line, need_target)
        check_system(system, V)
        return system, V
    except InputError:
        raise
    except ValueError as err:
        message = str(err)
        raise InputError(message if path and message.startswith(str(path)) else where + message) from None


def _parse(text: str, infix: bool, path: str | None, line: int | None, need_target: bool) -> tuple[list, Any]:
    if infix:
        from seq2math.tokens.infix import parse_infix, parse_infix_system

        source, tab, target = text.partition("\t")
        if need_target and not tab:
            raise ValueError("expected SYSTEM<TAB>V, found no tab")
        return parse_infix_system(source), (parse_infix(target) if target.strip() else None)
    from seq2math.tokens.prefix import parse_system

    if need_target:
        _, system, V = parse_benchmark_line(text, path, line)
        return system, V
    head = text.split("\t", 1)[0]
    source = head.split("|", 1)[1] if "|" in head else head
    return parse_system(source.split()), None


def check_system(system: list[Expr], V: Expr | None = None) -> None:
    """What a parsed system must satisfy before anything is solved or verified (a ``ValueError``
    otherwise): its variables are its own (``x0 .. x{n-1}`` for n equations, in V too), and the
    origin is an equilibrium (every ``f_i(0) = 0``, exactly for polynomials, to 1e-12 otherwise:
    a Lyapunov function proves the stability of the origin, docs/reliability.md)."""
    n = len(system)
    named = [(f"the equation of x{i}'", f) for i, f in enumerate(system)] + ([("V", V)] if V is not None else [])
    for what, e in named:
        beyond = sorted(v for v in variables(e) if v >= n)
        if beyond:
            raise ValueError(f"x{beyond[0]} in {what} ({to_infix(e)}) is not a variable of this system of "
                             f"{n} equation{'s' if n > 1 else ''} (x0..x{n - 1})")
    for i, f in enumerate(system):
        value = _value_at_origin(f, n)
        if value is not None and value != 0:
            raise ValueError(f"the origin is not an equilibrium: f_{i}(0) = {value} (x{i}' = {to_infix(f)})")


def _value_at_origin(f: Expr, n: int) -> Fraction | float | None:
    """f(0): exact for a polynomial; a float for other expressions (None where it is not a finite
    number, or within 1e-12 of 0: those are not rejected here)."""
    if is_polynomial(f):
        return value_at_zero(to_poly(f, n))
    value = float(evaluate(f, np.zeros((1, n)))[0])
    return value if math.isfinite(value) and abs(value) > 1e-12 else None


def parse_benchmark_line(text: str, path: str | None = None, line: int | None = None) -> tuple[int, list, Any]:
    """``[COUNT|]SYSTEM<TAB>V`` in prefix tokens -> (COUNT, 1 when absent; equations; V).

    The line is split by ``seq2math.data.files.parse_text_line`` (the one reader of the line
    format: ``DataFormatError`` for a bad count, tab or empty source), the tokens are read by
    ``seq2math.tokens.prefix.parse_benchmark_example`` (``PrefixParseError`` naming the token).
    Both errors are ``ValueError`` and start with ``path:line:``.
    """
    from seq2math.data.files import parse_text_line
    from seq2math.tokens.prefix import parse_benchmark_example

    record = parse_text_line(text, path, line)
    system, V = parse_benchmark_example(record.source, record.target, path, line)
    return (1 if record.count is None else record.count), system, V


class ResultWriter:
    """JSONL records to a file (append with ``resume``) or to stdout; knows which lines are done."""

    def __init__(self, out: str | None, resume: bool):
        self.done: set[int] = set()
        self.previous: list[dict] = []
        self.handle: TextIO
        if out is None:
            self.handle, self.close_handle = sys.stdout, False
            return
        path = Path(out)
        if path.exists() and not resume:
            raise FileExistsError(f"{path} exists; pass --resume to continue it or remove it first")
        # a torn last line (a killed run) is cut off the file and redone; the cut is in place
        # (os.truncate), so a second kill cannot lose the complete records before it
        for number, raw in enumerate(drop_torn_tail(path), start=1):
            try:
                record = json.loads(raw)
                line = int(record["line"])
            except (ValueError, KeyError, TypeError):
                raise InputError(f"{path}:{number}: not a result record of this command; "
                                 "remove the file or choose another --out") from None
            self.previous.append(record)
            self.done.add(line)
        path.parent.mkdir(parents=True, exist_ok=True)
        self.handle, self.close_handle = open(path, "a", encoding="utf-8"), True

    def write(self, record: dict) -> None:
        self.handle.write(json.dumps(record) + "\n")
        self.handle.flush()

    def close(self) -> None:
        if self.close_handle:
            self.handle.close()


def run_file(job: Callable[[tuple[int, str]], dict], path: str | Path, out: str | None, resume: bool,
             workers: int, hard_limit: float | None, failed: Callable[[int, JobError | None], dict],
             command: str, shard: Shard | None = None) -> list[dict]:
    """Run ``job`` on every problem line of ``path`` (with ``shard``: of its block) not already in
    ``out`` (``--resume``), in
    ``workers`` processes killed past ``hard_limit`` seconds, writing one record per line as it comes.

    A line whose worker was killed or failed gets ``failed(line, None)`` (timed out) or
    ``failed(line, error)``; records with ``"error"`` are also reported on stderr as
    ``seq2math COMMAND: line N: reason``. Returns every record: the earlier run's and the new ones.
    """
    writer = ResultWriter(out, resume)
    records = list(writer.previous)
    items = (item for item in shard_lines(path, shard) if item[0] not in writer.done)
    try:
        for (line, _), record in run_jobs(job, items, workers, hard_limit):
            if record is TIMED_OUT or isinstance(record, JobError):
                record = failed(line, None if record is TIMED_OUT else record)
            if record.get("error"):
                print(f"seq2math {command}: line {line}: {record.get('reason')}", file=sys.stderr)
            writer.write(record)
            records.append(record)
    finally:
        writer.close()
    return records


def percentile(values: list[float], q: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    position = (len(ordered) - 1) * q
    low = int(position)
    high = min(low + 1, len(ordered) - 1)
    return ordered[low] + (ordered[high] - ordered[low]) * (position - low)


def summary(records: list[dict], key: str = "valid") -> dict:
    """Counts of each answer of ``key`` plus time statistics."""
    counts: dict[str, int] = {}
    for record in records:
        label = json.dumps(record.get(key)) if not isinstance(record.get(key), str) else record[key]
        counts[label] = counts.get(label, 0) + 1
    seconds = [float(r["seconds"]) for r in records if isinstance(r.get("seconds"), (int, float))]
    return {"lines": len(records), "counts": counts,
            "median_seconds": round(statistics.median(seconds), 6) if seconds else None,
            "p90_seconds": round(percentile(seconds, 0.9), 6) if seconds else None,
            "total_seconds": round(sum(seconds), 3)}


def print_summary(title: str, data: dict, out: str | None) -> None:
    """One line on stderr (counts, time statistics: "no timed lines" when no record has seconds)."""
    counts = ", ".join(f"{k}: {v}" for k, v in sorted(data["counts"].items()))
    times = ("no timed lines" if data["median_seconds"] is None else
             f"median {data['median_seconds']} s, p90 {data['p90_seconds']} s, total {data['total_seconds']} s")
    print(f"{title}: {data['lines']} lines ({counts}); {times}", file=sys.stderr)
    if out:
        write_atomically(str(out) + ".summary.json", json.dumps(data, indent=1) + "\n")

"""Statistics of a data file (``seq2math data stats``): histograms of sizes, printed as text.

Every file gets the token lengths of sources and targets. A Lyapunov example (its source holds
``EQUATION_SEPARATOR``) also gets its number of variables and, when it is polynomial, the degrees
and numbers of terms of the system and of V; a non-polynomial one is counted as such.
"""

from __future__ import annotations

import sys
from collections import Counter
from dataclasses import dataclass

from seq2math.data.files import ON_ERROR, Record
from seq2math.symbolic.expr import NotPolynomialError, to_poly
from seq2math.tasks.base import DataFormatError
from seq2math.tokens.prefix import PrefixParseError, parse_full_expression, parse_system
from seq2math.tokens.vocab import EQUATION_SEPARATOR

HISTOGRAM_WIDTH = 40  # characters of the longest bar
HISTOGRAM_BINS = 12  # more distinct values than this are grouped into equal-width bins


@dataclass
class Statistics:
    examples: int  # records counted (malformed systems excluded)
    malformed: int  # records whose system or V could not be read
    kinds: Counter  # "polynomial" / "non-polynomial" -> number of Lyapunov examples
    histograms: dict[str, Counter]  # name -> (value -> count), in first-seen order


def system_statistics(record: Record, path: str = "") -> dict[str, int | str]:
    """Sizes of one Lyapunov example; degrees and terms only when it is polynomial."""
    try:
        system = parse_system(record.source)
        V = parse_full_expression(record.target) if record.target else None
    except PrefixParseError as err:
        raise DataFormatError(str(err), path, record.line) from None
    n = len(system)
    row: dict[str, int | str] = {"variables": n}
    try:
        polys = [to_poly(f, n) for f in system]
        nonzero = [p for p in polys if not p.is_zero()]
        row["system degree"] = max(int(p.total_degree()) for p in nonzero) if nonzero else 0
        row["system terms"] = sum(len(p) for p in polys)
        if V is not None:
            target = to_poly(V, n)
            row["V degree"] = int(target.total_degree())
            row["V terms"] = len(target)
    except NotPolynomialError:
        row["kind"] = "non-polynomial"
    return row


def collect_statistics(records: list[Record], path: str = "", on_error: str = "skip") -> Statistics:
    """Histograms (value -> count) of token lengths and, for systems, variables/degrees/terms."""
    if on_error not in ON_ERROR:
        raise ValueError(f"on_error must be one of {ON_ERROR}, got {on_error!r}")
    histograms: dict[str, Counter] = {"source tokens": Counter(), "target tokens": Counter()}
    kinds: Counter = Counter()
    malformed = 0
    for record in records:
        row: dict[str, int | str] = {"source tokens": len(record.source), "target tokens": len(record.target)}
        if EQUATION_SEPARATOR in record.source:
            try:
                row |= system_statistics(record, path)
            except DataFormatError as err:
                if on_error == "raise":
                    raise
                print(f"warning: skipping malformed line {err}", file=sys.stderr)
                malformed += 1
                continue
            kinds[row.pop("kind", "polynomial")] += 1
        for name, value in row.items():
            histograms.setdefault(name, Counter())[value] += 1
    return Statistics(len(records) - malformed, malformed, kinds, histograms)


def histogram_lines(counter: Counter, width: int = HISTOGRAM_WIDTH, bins: int = HISTOGRAM_BINS) -> list[str]:
    """Text bars ``    LABEL | ####  COUNT``, one per value or, past ``bins`` values, per bin."""
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


def format_statistics(statistics: Statistics, skipped: int, path: str) -> str:
    """The report: counts, kinds, then min/median/mean/max and a histogram per quantity."""
    lines = [f"{path}: {statistics.examples} examples, {statistics.malformed + skipped} malformed lines skipped"]
    if statistics.kinds:
        lines.append("  " + ", ".join(f"{kind}: {count}" for kind, count in sorted(statistics.kinds.items())))
    for name, counter in statistics.histograms.items():
        if not counter:
            continue
        values = sorted(counter.elements())
        mean = sum(values) / len(values)
        lines.append(f"  {name}: min {values[0]}, median {values[len(values) // 2]}, mean {mean:.1f}, "
                     f"max {values[-1]}")
        lines.extend(histogram_lines(counter))
    return "\n".join(lines)

"""The comparison table of the Lyapunov paper (Table 5, docs/published.md), run on our test files.

``run_report`` runs every method on every system of every test file with the same verifier
and time limit and writes into ``out``:

- ``records.jsonl``: one record per (method, file, line); a rerun skips the keys already
  there (resumable at any point) except worker crashes, which it retries;
- ``certificates/METHOD/FILE/line-K.CHECK.json``: the exact certificate of every certified V,
  re-proved from the file before it is counted;
- ``report.json`` and ``report.md``: rows = test sets, columns = methods, the % (and
  count) of systems with a certified V under the ``lyapunov`` and the ``barrier`` check.

Every column is a registered method (``seq2math.lyapunov.methods``: model, findlyap, sos,
neural, ...) and every cell goes through the one solve loop (``run_cell``): for each check
the method gets ``time_limit`` seconds, and a V counts only when its certificate file was
re-proved exactly, or (non-polynomial systems) when a prover of the check's chain proved it
globally and re-checked its own certificate (``proof`` names it). A proof on a region only and a
numerical "no counterexample" are counted in their own columns (``region``, ``numerical``),
never as certified. The neural method's region claim is recorded apart (``region``), never mixed
with the global columns.

Batched methods (the model) decode all their hypotheses first, in batches in this process;
checking runs in ``workers`` processes, each (method, line) killed at a hard time limit.
The other methods run first, so no worker is forked from a process that has run torch.
With a ``Shard`` (``--shard i/N``) every test file contributes only its block of systems
(``seq2math.data.shards``); ``seq2math.lyapunov.report_shards`` merges such directories.
"""

from __future__ import annotations

import json
import re
import sys
import time
from collections import defaultdict
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from seq2math.data.shards import Shard, write_sidecar
from seq2math.jobs.files import drop_torn_tail, write_atomically
from seq2math.jobs.progress import Progress
from seq2math.jobs.workers import TIMED_OUT, JobError, run_jobs
from seq2math.lyapunov.batch import InputError, parse_problem, read_lines
from seq2math.lyapunov.methods.base import METHODS, Method, MethodOptions, make_method, method_names
from seq2math.lyapunov.methods.solve import Attempt, attempt_method, float_range_reason
from seq2math.lyapunov.result import CHECKS

#: the `proof` of a non-polynomial V proved globally by a prover of the chain (check.NONPOLY_PROVERS)
NONPOLY_PROOFS = ("substitution+sos", "cvc5")


@dataclass
class ReportOptions:
    time_limit: float = 60.0       # seconds per system and check, every method
    beam: int = 50                 # hypotheses per system for model methods
    views: int = MethodOptions.views  # model: orderings and sign flips of each system's variables read
    workers: int = 1
    max_degree: int = 6            # findlyap / sos: largest degree of V
    limit: int | None = None       # first N systems of each file
    seed: int = 0                  # neural baseline
    memory_limit: int | None = None  # bytes per SOS search and check (docs/reliability.md); None: no limit

    def method_options(self, model: str | None = None) -> MethodOptions:
        return MethodOptions(max_degree=self.max_degree, beam=self.beam, seed=self.seed, model=model,
                             memory_limit=self.memory_limit, views=self.views)


@dataclass(frozen=True)
class MethodSpec:
    label: str                     # column name
    kind: str                      # a registered method ("model", "findlyap", "sos", "neural", ...)
    model: str | None = None       # model: run directory or export (None: the committed checkpoint)

    def make(self, options: ReportOptions) -> Method:
        return make_method(self.kind, options.method_options(self.model))


#: the methods that decode with a trained model (``model:RUN``, ``guided:RUN``; default: the shipped one)
MODEL_METHODS = ("model", "guided")


def parse_methods(text: str) -> list[MethodSpec]:
    """``model:RUN,guided,findlyap,sos,neural`` -> specs; unknown names raise naming the choices."""

    specs = []
    for item in (part.strip() for part in text.split(",")):
        if not item:
            continue
        kind, _, argument = item.partition(":")
        if kind in MODEL_METHODS:
            name = "+".join(Path(part).name for part in argument.split("+"))    # RUN+RUN: several models
            specs.append(MethodSpec(f"{kind}:{name}" if argument else kind, kind, argument or None))
        elif argument:
            raise ValueError(f"method {item!r}: only {' and '.join(MODEL_METHODS)} take an argument (model:RUN)")
        elif kind in method_names():
            specs.append(MethodSpec(kind, kind))
        else:
            raise ValueError(f"unknown method {kind!r}; choose from model[:RUN], guided[:RUN], "
                             f"{', '.join(m for m in method_names() if m not in MODEL_METHODS)}")
    labels = [s.label for s in specs]
    if not specs or len(set(labels)) != len(labels):
        raise ValueError(f"--methods needs distinct methods, got {text!r}")
    return specs


def test_label(path: str | Path) -> str:
    return Path(path).stem


def _safe(name: str) -> str:
    return re.sub(r"[^A-Za-z0-9_.-]+", "_", name)


def _read_records(path: Path) -> list[dict[str, Any]]:
    if not path.exists():
        return []
    records = []
    # a line torn by a killed run is cut off the file (it would otherwise be glued to the next
    # record appended) and its cell redone on this run
    for number, line in enumerate(drop_torn_tail(path), start=1):
        try:
            records.append(json.loads(line))
        except json.JSONDecodeError:
            raise ValueError(f"{path}:{number}: not a JSON record; remove the line or the file") from None
    return records


class _Job:
    """Runs one (method, line) in a worker process."""

    def __init__(self, spec: MethodSpec, test: str, path: str, options: ReportOptions, out: Path):
        self.spec, self.test, self.path, self.options, self.out = spec, test, path, options, out

    def __call__(self, item: tuple[int, str, Any]) -> dict[str, Any]:

        line, text, prepared = item
        key = {"method": self.spec.label, "test": self.test, "line": line}
        try:
            system, _ = parse_problem(text, False, self.path, line, need_target=False)
        except InputError as err:
            return key | {"error": f"input error: {err}"}
        stem = self.out / "certificates" / _safe(self.spec.label) / _safe(self.test) / f"line-{line}"
        cell = run_cell(self.spec.make(self.options), system, self.options.time_limit, stem, prepared)
        return key | {"n": len(system)} | cell


def _problems(path: str, limit: int | None, shard: Shard | None = None) -> list[tuple[int, str]]:
    """The first ``limit`` systems of a file; with ``shard``, its block of them."""
    problems = list(read_lines(path))
    problems = problems[:limit] if limit is not None else problems
    if shard is None:
        return problems
    block = shard.block(len(problems))
    return problems[block.start:block.stop]


def run_cell(method: Method, system: list, time_limit: float, certificate_stem: Path, prepared: Any = None
             ) -> dict[str, Any]:
    """Both checks of one method on one system: {...method fields, "lyapunov": {...}, "barrier": {...}, "seconds"}.

    The method starts once (``Method.start``, e.g. the neural learner with the whole time limit);
    then each check gets ``time_limit`` seconds of the solve loop, which saves the certificate of
    the V it accepts under ``certificate_stem``.CHECK.json and re-proves that file.
    """
    started = time.perf_counter()
    too_large = float_range_reason(system)
    if too_large:                                # no method can write the system down in floats
        undecided = {check: Attempt(method.name, check, reason=too_large, interrupted=True) for check in CHECKS}
        return {check: attempt.record() for check, attempt in undecided.items()} | {"seconds": 0.0}
    search = method.start(system, time_limit, prepared)
    record: dict[str, Any] = dict(search.record)
    for check in CHECKS:
        deadline = time.perf_counter() + time_limit
        path = certificate_stem.with_name(f"{certificate_stem.name}.{check}.json")
        attempt = attempt_method(method, search, check, deadline, path, require_certificate=True)
        if attempt.found:
            search.proved[check], search.proofs[check] = attempt.V, attempt.proof
        record[check] = attempt.record()
    record["seconds"] = round(time.perf_counter() - started, 4)
    return record


def _prepare_all(method: Method, path: str, problems: list[tuple[int, str]]) -> dict[int, Any]:
    """Line -> what ``method.prepare`` computed for its system (the model's ranked hypotheses)."""

    systems, lines = [], []
    for line, text in problems:
        try:
            system, _ = parse_problem(text, False, path, line, need_target=False)
        except InputError:
            continue  # reported by the job
        systems.append(system)
        lines.append(line)
    return dict(zip(lines, method.prepare(systems)))


def run_report(tests: list[str], specs: list[MethodSpec], options: ReportOptions, out: str | Path,
               progress: bool = True, shard: Shard | None = None) -> dict[str, Any]:
    """Run the missing (method, file, line) cells (with ``shard``: of each file's block), then
    write report.json and report.md."""

    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    labels = [test_label(t) for t in tests]
    if len(set(labels)) != len(labels):
        raise ValueError(f"test files need distinct names (rows of the table), got {', '.join(labels)}")
    if shard is not None:
        _start_shard(out, shard, tests, labels, specs, options)
    records_path = out / "records.jsonl"
    records = _read_records(records_path)
    # a worker crash ("failure: ...") is retried on the next run; time limits and input errors are final
    done = {(r["method"], r["test"], r["line"]) for r in records if not r.get("error", "").startswith("failure")}
    hard_limit = 2 * options.time_limit * 1.5 + 30
    method_names()                                   # registers the built-in methods
    batched = {s.label: METHODS[s.kind].batched for s in specs}
    ordered = [s for s in specs if not batched[s.label]] + [s for s in specs if batched[s.label]]
    with open(records_path, "a", encoding="utf-8") as sink:
        for spec in ordered:
            for test, path in zip(labels, tests):
                todo = [(line, text) for line, text in _problems(path, options.limit, shard)
                        if (spec.label, test, line) not in done]
                if not todo:
                    continue
                decode_share, prepared = 0.0, {}
                if batched[spec.label]:  # decoding time is shared out over the systems of the batch
                    started = time.perf_counter()
                    prepared = _prepare_all(spec.make(options), path, todo)
                    decode_share = (time.perf_counter() - started) / len(todo)
                items = [(line, text, prepared.get(line)) for line, text in todo]
                job = _Job(spec, test, path, options, out)
                with Progress(len(items), f"report {spec.label} on {test}", "system", disable=not progress) as bar:
                    for (line, _, _), result in run_jobs(job, items, options.workers, hard_limit):
                        if result is TIMED_OUT or isinstance(result, JobError):
                            why = "hard time limit" if result is TIMED_OUT else f"failure: {result.message}"
                            result = {"method": spec.label, "test": test, "line": line, "error": why}
                        elif decode_share and "seconds" in result:
                            result["decode_seconds"] = round(decode_share, 4)
                            result["seconds"] = round(result["seconds"] + decode_share, 4)
                        sink.write(json.dumps(result) + "\n")
                        sink.flush()
                        records.append(result)
                        bar.update(1)
    totals = {test: len(_problems(path, options.limit, shard)) for test, path in zip(labels, tests)}
    report = tabulate(records, labels, [s.label for s in specs], totals)
    report["settings"] = asdict(options) | {"tests": [str(Path(t).resolve()) for t in tests],
                                            "methods": [asdict(s) for s in specs]}
    write_atomically(out / "report.json", json.dumps(report, indent=2) + "\n")
    write_atomically(out / "report.md", markdown(report) + "\n")
    return report


def _start_shard(out: Path, shard: Shard, tests: list[str], labels: list[str], specs: list[MethodSpec],
                 options: ReportOptions) -> None:
    """The sidecar ``out/shard.json``: every shard of a report shares the test files (names and
    sizes), the columns and the options (``workers`` apart); ``lines`` counts its cells."""
    blocks = {label: len(_problems(path, options.limit, shard)) for label, path in zip(labels, tests)}
    identity = {"tests": {label: Path(path).stat().st_size for label, path in zip(labels, tests)},
                "methods": [asdict(s) for s in specs],
                "options": {k: v for k, v in asdict(options).items() if k != "workers"}}
    write_sidecar(out, shard, "report", identity, lines=len(specs) * sum(blocks.values()), extra={"totals": blocks})


def tabulate(records: list[dict[str, Any]], tests: list[str], methods: list[str], totals: dict[str, int]
             ) -> dict[str, Any]:
    """Counts per (test, method): certified under each check, undecided, errors, mean seconds."""
    latest: dict[tuple, dict] = {}
    for record in records:
        latest[(record["method"], record["test"], record["line"])] = record
    grouped: dict[tuple[str, str], list[dict]] = defaultdict(list)
    for (method, test, _), record in latest.items():
        grouped[(test, method)].append(record)
    cells: dict[str, dict[str, Any]] = {}
    for test in tests:
        cells[test] = {}
        for method in methods:
            rows = grouped.get((test, method), [])
            cell: dict[str, Any] = {"total": totals.get(test, len(rows)), "done": len(rows),
                                    "errors": sum(1 for r in rows if "error" in r)}
            for check in CHECKS:
                entries = [r.get(check, {}) for r in rows if "error" not in r]
                outcomes = [_certified(entry) for entry in entries]
                cell[check] = sum(1 for o in outcomes if o is True)
                cell[f"{check}_undecided"] = sum(1 for o in outcomes if o is None)
                for column in ("region", "numerical"):
                    count = sum(1 for entry in entries if entry.get(column))
                    if count:
                        cell[f"{check}_{column}"] = count
            timed = [r["seconds"] for r in rows if "seconds" in r]
            cell["mean_seconds"] = round(sum(timed) / len(timed), 3) if timed else None
            if any("region" in r for r in rows):
                cell["region"] = sum(1 for r in rows if r.get("region") is True)
            cells[test][method] = cell
    columns = list(methods)
    if "model" in methods and "guided" in methods:       # the mission's comparison: model alone, model + guided
        columns.insert(columns.index("model") + 1, COMBINED)
        for test in tests:
            cells[test][COMBINED] = _combined_cell(grouped.get((test, "model"), []), grouped.get((test, "guided"), []),
                                                   totals.get(test, 0))
    return {"tests": tests, "methods": columns, "checks": list(CHECKS), "cells": cells}


#: the derived column of a report with both model and guided: a system counts when either certified it
COMBINED = "model + guided"


def _combined_cell(model_rows: list[dict], guided_rows: list[dict], total: int) -> dict[str, Any]:
    """The "model + guided" cell: per line, certified by model or by guided (undecided when neither
    certified and either was undecided); its seconds are the two methods' added (guided runs after model)."""
    by_line: dict[int, list[dict]] = defaultdict(list)
    for row in model_rows + guided_rows:
        by_line[row["line"]].append(row)
    cell: dict[str, Any] = {"total": total or len(by_line), "done": len(by_line),
                            "errors": sum(1 for rows in by_line.values() if all("error" in r for r in rows))}
    for check in CHECKS:
        outcomes = [[r.get(check, {}).get("certified") for r in rows if "error" not in r] for rows in by_line.values()]
        cell[check] = sum(1 for o in outcomes if True in o)
        cell[f"{check}_undecided"] = sum(1 for o in outcomes if True not in o and None in o)
    timed = [sum(r.get("seconds", 0.0) for r in rows) for rows in by_line.values()]
    cell["mean_seconds"] = round(sum(timed) / len(timed), 3) if timed else None
    return cell


def _certified(entry: dict[str, Any]) -> bool | None:
    """A record's certified flag; a non-polynomial V proved by a named prover of the chain counts
    (its prover re-checked its certificate in rationals before answering)."""
    if entry.get("certified") is None and entry.get("valid") is True and entry.get("proof") in NONPOLY_PROOFS:
        return True
    return entry.get("certified")


CHECK_TITLES = {"lyapunov": "lyapunov check: V(0) = 0, V - eps*sum x^2k SOS (positive definite, proper), -dV/dt SOS",
                "barrier": "barrier check: V SOS, -dV/dt SOS"}


def markdown(report: dict[str, Any]) -> str:
    """Table 5 layout: rows = test sets, columns = methods; % of systems certified (count)."""
    settings = report.get("settings", {})
    lines = ["# Certified Lyapunov functions: % of test systems (count)", ""]
    if settings:
        lines.append(f"Same exact verifier for every method; time limit {settings.get('time_limit')} s per system "
                     f"and check; model beam {settings.get('beam')}. Every counted V has a certificate file that "
                     "was re-proved exactly (a non-polynomial V: a proof by a named prover of the chain, "
                     "which re-checks its own certificate; docs/provers.md).")
        lines.append("")
    for check in report["checks"]:
        lines += [f"## {CHECK_TITLES.get(check, check)}", "",
                  "| test set | " + " | ".join(report["methods"]) + " |",
                  "|---|" + "---|" * len(report["methods"])]
        for test in report["tests"]:
            row = []
            for method in report["methods"]:
                cell = report["cells"][test][method]
                total = cell["total"] or 1
                mark = "" if cell["done"] == cell["total"] else f" [{cell['done']}/{cell['total']} run]"
                row.append(f"{100 * cell[check] / total:.1f} ({cell[check]}){mark}")
            lines.append(f"| {test} ({report['cells'][test][report['methods'][0]]['total']}) | " + " | ".join(row) + " |")
        lines.append("")
        lines += _apart_table(report, check)
    lines += ["## undecided (lyapunov / barrier), errors and mean seconds per system", "",
              "| test set | " + " | ".join(report["methods"]) + " |", "|---|" + "---|" * len(report["methods"])]
    for test in report["tests"]:
        row = []
        for method in report["methods"]:
            cell = report["cells"][test][method]
            region = f", region {cell['region']}" if "region" in cell else ""
            region += "".join(f", {check} {column} {cell[f'{check}_{column}']}" for check in report["checks"]
                              for column in ("region", "numerical") if f"{check}_{column}" in cell)
            row.append(f"{cell['lyapunov_undecided']}/{cell['barrier_undecided']}, {cell['errors']} err, "
                       f"{cell['mean_seconds']} s{region}")
        lines.append(f"| {test} | " + " | ".join(row) + " |")
    return "\n".join(lines)


def _apart_table(report: dict[str, Any], check: str) -> list[str]:
    """Non-polynomial systems: certified globally, proved on a region only, numerical only (no
    counterexample found), each method in its own column; nothing when no cell has the last two."""
    keys = (f"{check}_region", f"{check}_numerical")
    if not any(key in cell for cells in report["cells"].values() for cell in cells.values() for key in keys):
        return []
    lines = [f"### {check} check: certified globally / proved on a region only / numerical only (count)", "",
             "| test set | " + " | ".join(report["methods"]) + " |", "|---|" + "---|" * len(report["methods"])]
    for test in report["tests"]:
        row = [f"{cell[check]} / {cell.get(keys[0], 0)} / {cell.get(keys[1], 0)}"
               for cell in (report["cells"][test][method] for method in report["methods"])]
        lines.append(f"| {test} | " + " | ".join(row) + " |")
    return lines + [""]


def print_summary(report: dict[str, Any], out: Path) -> None:
    print(markdown(report))
    print(f"wrote {out / 'report.md'}, {out / 'report.json'} (records: {out / 'records.jsonl'})", file=sys.stderr)

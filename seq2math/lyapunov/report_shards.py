"""Merge the directories of ``seq2math report --shard i/N`` runs into one report (docs/scale.md).

Each shard directory holds ``records.jsonl`` for its block of every test file, its
certificates and ``shard.json`` (``seq2math.data.shards``). The merge checks that the shards
make one complete job, writes every record in the order a one-process run writes them
(method columns in run order, then test files, then lines), copies the certificate trees
(their paths never collide: a line belongs to one shard) and tabulates ``report.json`` and
``report.md`` over all systems.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

from seq2math.data.shards import check_shards
from seq2math.lyapunov.methods.base import METHODS, method_names
from seq2math.lyapunov.report import _read_records, markdown, tabulate
from seq2math.lyapunov.result import CHECKS


def _cells(directory: str | Path) -> int:
    """Distinct (method, test, line) cells recorded in a shard directory."""
    return len({(r["method"], r["test"], r["line"]) for r in _read_records(Path(directory) / "records.jsonl")})


def _moved(record: dict[str, Any], out: Path) -> dict[str, Any]:
    """The record with its certificate paths (``SHARD/certificates/METHOD/FILE/line-K.CHECK.json``) under ``out``."""
    for check in CHECKS:
        cell = record.get(check)
        if isinstance(cell, dict) and cell.get("certificate"):
            cell["certificate"] = str(out.joinpath("certificates", *Path(cell["certificate"]).parts[-3:]))
    return record


def merge_reports(directories: list[str], out: str | Path) -> list[dict[str, Any]]:
    """Join shard directories into ``out`` (see the module docstring); returns the sidecars in shard order."""
    sidecars = check_shards(directories, "cells", lines_of=_cells)
    identity = sidecars[0]["identity"]
    out = Path(out)
    out.mkdir(parents=True)
    method_names()                                   # registers the built-in methods
    columns = [spec["label"] for spec in identity["methods"]]
    # one process runs the unbatched methods first, then the batched ones (the model decodes in-process)
    kinds = {spec["label"]: spec["kind"] for spec in identity["methods"]}
    ordered = sorted(columns, key=lambda label: METHODS[kinds[label]].batched)
    tests = list(identity["tests"])
    records: list[dict[str, Any]] = []
    for side in sidecars:
        records += [_moved(record, out) for record in _read_records(Path(side["path"]) / "records.jsonl")]
        certificates = Path(side["path"]) / "certificates"
        if certificates.is_dir():
            shutil.copytree(certificates, out / "certificates", dirs_exist_ok=True)
    records.sort(key=lambda r: (ordered.index(r["method"]), tests.index(r["test"]), r["line"]))
    with open(out / "records.jsonl", "w", encoding="utf-8") as sink:
        sink.writelines(json.dumps(record) + "\n" for record in records)
    totals = {test: sum(side["totals"][test] for side in sidecars) for test in tests}
    report = tabulate(records, tests, columns, totals)
    settings = json.loads((Path(sidecars[0]["path"]) / "report.json").read_text()).get("settings", {})
    report["settings"] = settings
    (out / "report.json").write_text(json.dumps(report, indent=2) + "\n")
    (out / "report.md").write_text(markdown(report) + "\n")
    return sidecars

"""Sweeps (``potpyri --multirun``): the values each job swept, and the sweep's summary table.

Every job runs in ``red/multirun/<time>/<job>/`` and records its swept values in its ``run.json``
(key ``sweep``). When the sweep ends, :class:`SweepSummary` (a Hydra callback registered in
``conf/potpyri_base.yaml``) reads those records and the jobs' stacks, prints one table, writes it
to ``sweep_summary.csv`` and ``sweep_summary.md`` in the sweep's folder, and exits with the worst
job's exit code (a job cannot: ``sys.exit`` in a job would stop the jobs after it).
"""

from __future__ import annotations

import csv
import io
import json
import logging
import sys
from pathlib import Path
from typing import Any

import yaml
from astropy.io import fits
from hydra.core.override_parser.overrides_parser import OverridesParser
from hydra.experimental.callback import Callback
from omegaconf import DictConfig

from potpyri.files import write_atomic
from potpyri.framework.outcome import ExitCode

__all__ = [
    "SWEEP_SUMMARY",
    "SweepSummary",
    "job_sweep",
    "summarise_sweep",
    "swept_values",
    "worst_code",
]

log = logging.getLogger("potpyri")

#: Base name of the sweep's summary table (``.csv`` and ``.md``) in the sweep's folder.
SWEEP_SUMMARY = "sweep_summary"

#: Exit codes from best to worst: the sweep exits with its worst job's.
_SEVERITY = (
    ExitCode.success,
    ExitCode.partial,
    ExitCode.failure,
    ExitCode.config_error,
    ExitCode.interrupted,
)

#: Stack header keyword -> summary column.
_COLUMNS = {"NSOURCES": "nsources", "M5SIGMA": "m5sigma_mag", "ZPTMAG": "zeropoint_mag"}


def swept_values(job_overrides: list[str], sweep_overrides: list[str]) -> dict[str, Any]:
    """The value this job takes for each key the sweep varies (``{}`` when nothing is swept).

    Examples
    --------
    >>> swept_values(["instrument=gmos", "photometry.sn_min=5"],
    ...              ["instrument=gmos", "photometry.sn_min=3,5,10"])
    {'photometry.sn_min': 5}
    """
    parser = OverridesParser.create()
    parsed = parser.parse_overrides(sweep_overrides)
    swept = {o.get_key_element() for o in parsed if o.is_sweep_override()}
    values = {}
    for override in parser.parse_overrides(job_overrides):
        key = override.get_key_element()
        if key in swept:
            value = override.value()
            plain = isinstance(value, bool | int | float | str | list)
            values[key] = value if plain else str(value)
    return values


def job_sweep(run_dir: Path, job_overrides: list[str]) -> dict[str, Any]:
    """The swept values of the job running in ``run_dir``, read against the sweep's own
    overrides in ``multirun.yaml`` one folder up (written by Hydra before any job starts)."""
    try:
        saved = yaml.safe_load((run_dir.parent / "multirun.yaml").read_text())
        sweep_overrides = saved["hydra"]["overrides"]["task"]
    except (OSError, KeyError, TypeError, yaml.YAMLError):
        return {}
    return swept_values(list(job_overrides), list(sweep_overrides))


def worst_code(codes: list[int]) -> ExitCode:
    """The worst of the jobs' exit codes (success < partial < failure < config error <
    interrupted); success for an empty sweep."""
    return _SEVERITY[max((_rank(c) for c in codes), default=0)]


def _rank(code: int) -> int:
    try:
        return _SEVERITY.index(ExitCode(code))
    except ValueError:  # a code potpyri does not use (a crash): as bad as a failure
        return _SEVERITY.index(ExitCode.failure)


def summarise_sweep(sweep_dir: Path) -> tuple[list[dict[str, Any]], ExitCode]:
    """One row per job and stack (a job without a stack gets one row): the swept values, the
    stack's source count, 5-sigma limiting magnitude and zero point, and the job's exit code.

    Writes the rows to ``sweep_summary.csv`` and ``sweep_summary.md`` in ``sweep_dir``; returns
    them with the sweep's exit code (its worst job's).
    """
    jobs = sorted((p for p in sweep_dir.iterdir() if p.name.isdigit()), key=lambda p: int(p.name))
    rows, codes = [], []
    for job in jobs:
        try:
            record = json.loads((job / "run.json").read_text())
        except (OSError, ValueError):  # the job died before writing its record
            record = {"exit_code": int(ExitCode.failure), "outcome": "no run.json"}
        codes.append(int(record.get("exit_code", ExitCode.failure)))
        base = {"job": job.name, **record.get("sweep", {})}
        tail = {"exit_code": record.get("exit_code"), "outcome": record.get("outcome", "")}
        stacks = [p for p in record.get("products", []) if p.endswith(".stk.fits")]
        for name in stacks:
            header = fits.getheader(job / "products" / name)
            measured = {col: header.get(key, "") for key, col in _COLUMNS.items()}
            rows.append({**base, "stack": name, **measured, **tail})
        if not stacks:
            rows.append({**base, "stack": "", **dict.fromkeys(_COLUMNS.values(), ""), **tail})
    write_atomic(_csv(rows), sweep_dir / f"{SWEEP_SUMMARY}.csv")
    write_atomic(markdown_table(rows), sweep_dir / f"{SWEEP_SUMMARY}.md")
    return rows, worst_code(codes)


def markdown_table(rows: list[dict[str, Any]]) -> str:
    """The rows as a Markdown table (also what the terminal shows)."""
    header = _header(rows)
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(_text(row.get(k, "")) for k in header) + " |" for row in rows]
    return "\n".join(lines) + "\n"


def _header(rows: list[dict[str, Any]]) -> list[str]:
    keys: list[str] = []
    for row in rows:
        keys += [k for k in row if k not in keys]
    return keys


def _text(value: Any) -> str:
    return str(round(value, 3)) if isinstance(value, float) else str(value)


def _csv(rows: list[dict[str, Any]]) -> str:
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=_header(rows), lineterminator="\n")
    writer.writeheader()
    writer.writerows(rows)
    return out.getvalue()


class SweepSummary(Callback):
    """At the end of a sweep: print and write its summary table, exit with the worst job's code."""

    def on_multirun_end(self, config: DictConfig, **kwargs: Any) -> None:
        sweep_dir = Path(str(config.hydra.sweep.dir))
        if not sweep_dir.is_dir():
            return
        rows, code = summarise_sweep(sweep_dir)
        print(f"\nsweep summary ({sweep_dir / SWEEP_SUMMARY}.csv):\n{markdown_table(rows)}")
        if code is not ExitCode.success:
            print(f"potpyri: sweep: worst job exit code {int(code)} ({code.name})", file=sys.stderr)
            sys.exit(code)

"""A run's outcome and the exit code that tells it: success, partial success or failure.

A run *succeeds* when every task was done (or passed its frames through with a warning) and no
input file was refused; it is a *partial success* when it made its final products but some task
failed, some input file was rejected or some product was made by a fallback (flagged, e.g. aperture
photometry without a usable PSF); it *fails* when it made nothing useful: no target product
(stack) where the pipeline has a target step, else no task done at all (every file rejected at
ingest, astrometry failed on every frame, ...).
"""

from __future__ import annotations

import enum
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from astropy.io import fits

from potpyri.files import write_atomic
from potpyri.framework.runner import RunResult
from potpyri.framework.step import STEPS, Scope

__all__ = [
    "ExitCode",
    "Outcome",
    "earlier_products",
    "product_run_id",
    "run_outcome",
    "write_run_record",
]


class ExitCode(enum.IntEnum):
    """Exit codes of the ``potpyri`` command (documented in docs/cli.rst)."""

    success = 0  #: every task done; nothing set aside
    failure = 1  #: nothing useful made, or the run stopped (a product could not be written)
    config_error = 2  #: the command line or recipe was refused before any work
    partial = (
        3  #: final products made, but some tasks failed, files were rejected or products flagged
    )
    interrupted = 130  #: Ctrl-C (finished tasks are kept in the cache)


#: Task statuses that mean the task's products (or its frames) went on.
DONE = ("ran", "cached", "passed")


@dataclass
class Outcome:
    """What a run amounts to: its exit code and the one line that says why."""

    code: ExitCode
    line: str


def run_outcome(result: RunResult) -> Outcome:
    """The outcome of a finished run (see the module docstring)."""
    records = result.records
    targets_wanted = any(
        r.step in STEPS and STEPS[r.step].scope is Scope.target and r.status != "skipped"
        for r in records
    )
    if targets_wanted:
        made = [i for i in result.items if i.kind == "target" and i.ok and i.files]
        useful = f"{len(made)} target product(s)"
    else:
        made = [r for r in records if r.status in DONE]
        useful = f"{len(made)} task(s) done"
    failed = sum(r.status == "failed" for r in records)
    rejected = sum(r.status == "rejected" for r in records)
    passed = sum(r.status == "passed" for r in records)
    flagged = sum(r.flagged for r in records)
    problems = ", ".join(
        f"{n} {what}"
        for n, what in (
            (rejected, "file(s) rejected at ingest"),
            (failed, "task(s) failed"),
            (flagged, "product(s) flagged (made by a fallback)"),
            (passed, "task(s) passed frames through"),
        )
        if n
    )
    if not made:
        why = problems or "no inputs"
        return Outcome(ExitCode.failure, f"failure: nothing useful was made ({why})")
    if failed or rejected or flagged:
        return Outcome(ExitCode.partial, f"partial success: {useful}; {problems}")
    extra = f"; {problems}" if problems else ""
    return Outcome(ExitCode.success, f"success: {useful}{extra}")


def earlier_products(result: RunResult) -> list[Path]:
    """Files under the run's product folder that this run did not publish: products an earlier
    run left (the cache, logs, sweeps and the QA report's own files are not products)."""
    root = result.publish_root
    if not root.is_dir():
        return []
    ours = {Path(p) for p in result.published}
    found = []
    for path in sorted(root.rglob("*")):
        parts = path.relative_to(root).parts
        if (
            path.is_file()
            and parts[0] not in ("cache", "log", "multirun", "qa")
            and not any(p.startswith(".") for p in parts)
            and path not in ours
        ):
            found.append(path)
    return found


def product_run_id(path: Path) -> str:
    """The id of the run that wrote a FITS product (its ``PPRUNID``), or "" when it has none."""
    if not path.name.endswith((".fits", ".fits.gz")):
        return ""
    try:
        return str(fits.getval(path, "PPRUNID"))
    except (OSError, KeyError):
        return ""


def write_run_record(result: RunResult, path: Path, sweep: dict[str, Any] | None = None) -> Outcome:
    """Write ``run.json`` next to the run's ``summary.json``: the run id, its outcome and exit
    code, the values a sweep job swept (``sweep``, empty for a single run), the files it
    published and those an earlier run left; returns the outcome."""
    outcome = run_outcome(result)
    root = result.publish_root
    record = {
        "run_id": result.run_id,
        "exit_code": int(outcome.code),
        "outcome": outcome.line,
        "sweep": dict(sweep or {}),
        "rejected": {r.task: r.note for r in result.records if r.status == "rejected"},
        "excluded": {r.task: r.note for r in result.records if r.status == "excluded"},
        "products": [str(p.relative_to(root)) for p in result.published if p.is_relative_to(root)],
        "earlier_products": [str(p.relative_to(root)) for p in earlier_products(result)],
    }
    write_atomic(json.dumps(record, indent=1), path)
    return outcome

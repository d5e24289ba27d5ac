"""The end-of-run summary: one row per step, then every task that failed, with its reason."""

from __future__ import annotations

from rich.table import Table

from potpyri.framework.logutil import CONSOLE
from potpyri.framework.runner import RunResult, TaskRecord
from potpyri.framework.step import STEPS, Scope

__all__ = ["STATUSES", "frame_table", "print_summary", "step_totals", "summary_table"]

#: task fates counted in the summary (flagged: ran or cached, but made by a fallback)
STATUSES = ("ran", "cached", "flagged", "skipped", "failed")


def step_totals(
    result: RunResult, statuses: tuple[str, ...] = STATUSES
) -> dict[str, dict[str, float]]:
    """Per step, in pipeline order: the number of tasks of each of ``statuses`` and their total
    wall time (``"seconds"``); a flagged task counts as ``flagged``, not as ran or cached."""
    steps: dict[str, dict[str, float]] = {}
    for rec in result.records:
        row = steps.setdefault(rec.step, {s: 0 for s in (*statuses, "seconds")})
        status = "flagged" if rec.flagged and "flagged" in statuses else rec.status
        if status in statuses:
            row[status] += 1
        row["seconds"] += rec.seconds
    return steps


def summary_table(result: RunResult) -> Table:
    """Counts of ran/cached/flagged/skipped/failed tasks and wall time per step."""
    table = Table(title="potpyri run summary", header_style="bold")
    table.add_column("step")
    for status in STATUSES:
        table.add_column(status, justify="right")
    table.add_column("time [s]", justify="right")
    for step, row in step_totals(result).items():
        table.add_row(step, *(str(int(row[s])) for s in STATUSES), f"{row['seconds']:.2f}")
    return table


def frame_table(result: RunResult) -> Table:
    """One row per frame: the status and time of every per-frame step."""
    steps = [
        s
        for s in dict.fromkeys(r.step for r in result.records)
        if s in STEPS and STEPS[s].scope is Scope.frame
    ]
    cells: dict[str, dict[str, str]] = {}
    for rec in result.records:
        if rec.step in steps and rec.task != "*":
            cells.setdefault(rec.task, {})[rec.step] = f"{rec.status} {rec.seconds:.1f}s"
        elif rec.step in steps and rec.status == "skipped":
            for row in cells.values():
                row[rec.step] = "skipped"
    table = Table(title="frames", header_style="bold")
    table.add_column("frame")
    for step in steps:
        table.add_column(step)
    for frame, row in sorted(cells.items()):
        table.add_row(frame, *(row.get(step, "-") for step in steps))
    return table


def print_summary(result: RunResult) -> None:
    """Print the summary, the per-frame fates and the failed tasks on the shared console."""
    CONSOLE.print(summary_table(result))
    CONSOLE.print(frame_table(result))
    warned = [r for r in result.records if r.status in ("ran", "cached") and r.note]
    if warned:
        title = "warnings (QC flags and notes; see red/qa/index.html)"
        CONSOLE.print(_notes_table(warned, title, "bold yellow", "warning"))
    failed = [r for r in result.records if r.status == "failed"]
    if failed:
        CONSOLE.print(_notes_table(failed, "set aside", "bold red", "reason"))


def _notes_table(records: list[TaskRecord], title: str, style: str, note: str) -> Table:
    """One row per task: its step, its id and its note (under the heading ``note``)."""
    table = Table(title=title, header_style=style)
    for column in ("step", "task", note):
        table.add_column(column)
    for rec in records:
        table.add_row(rec.step, rec.task, rec.note)
    return table

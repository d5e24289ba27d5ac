"""The end-of-run summary: one row per step and per frame, the warnings (each once, where it
arose), the frames passed through, the files rejected and the tasks failed with their reasons, the
products of this run and of earlier ones, and the outcome line."""

from __future__ import annotations

from pathlib import Path

from rich.table import Table

from potpyri.framework.logutil import CONSOLE
from potpyri.framework.outcome import earlier_products, product_run_id, run_outcome
from potpyri.framework.runner import RunResult, TaskRecord
from potpyri.framework.step import STEPS, Scope

__all__ = [
    "FATE_LISTS",
    "STATUSES",
    "frame_table",
    "print_summary",
    "products_table",
    "step_totals",
    "summary_table",
]

#: task fates counted in the summary (flagged: ran or cached, but made by a fallback; passed: the
#: frames went on without the step's correction; rejected: an input file the run cannot use;
#: excluded: an input file the instrument's rules set aside, e.g. a spectrum)
STATUSES = ("ran", "cached", "flagged", "passed", "skipped", "failed", "rejected", "excluded")
#: The tasks listed by fate after the summary (and in the QA report): status, title, the note's
#: column heading, colour.
FATE_LISTS = (
    (
        "passed",
        "passed through (frames went on without this correction or with its fallback)",
        "warning",
        "yellow",
    ),
    ("rejected", "rejected input files", "reason", "red"),
    (
        "excluded",
        "input files set aside by the instrument's rules (see file_list.txt)",
        "reason",
        "yellow",
    ),
    ("failed", "set aside", "reason", "red"),
)


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
    """Print the summary, the per-frame fates, the warnings, the frames passed through, the files
    rejected, the failed tasks, the products (this run's and earlier ones) and the outcome."""
    CONSOLE.print(summary_table(result))
    CONSOLE.print(frame_table(result))
    warned = [r for r in result.records if r.status in ("ran", "cached") and r.note]
    if warned:
        title = "warnings (QC flags and notes; see red/qa/index.html)"
        CONSOLE.print(_notes_table(warned, title, "bold yellow", "warning"))
    for status, title, note, style in FATE_LISTS:
        records = [r for r in result.records if r.status == status]
        if records:
            CONSOLE.print(_notes_table(records, title, f"bold {style}", note))
    CONSOLE.print(products_table(result))
    CONSOLE.print(run_outcome(result).line, highlight=False)


def products_table(result: RunResult) -> Table:
    """The final products this run published (stacks, catalogs: ``red/`` itself), then every
    product file an earlier run left that this run did not make or reuse."""
    root = result.publish_root
    table = Table(title=f"products (run {result.run_id})", header_style="bold")
    table.add_column("file")
    table.add_column("made by")
    for path in result.published:
        if path.parent == root:
            table.add_row(str(path.relative_to(root)), "this run")
    folders: dict[str, int] = {}
    for path in earlier_products(result):
        if path.parent == root:
            table.add_row(path.name, _earlier(path))
        else:
            folder = path.relative_to(root).parts[0]
            folders[folder] = folders.get(folder, 0) + 1
    for folder, count in folders.items():
        table.add_row(f"{folder}/ ({count} files)", "an earlier run: not this run's")
    return table


def _earlier(path: Path) -> str:
    """How a product of an earlier run is described: with that run's id when it has one."""
    run_id = product_run_id(path)
    return f"an earlier run{f' ({run_id})' if run_id else ''}: not this run's"


def _notes_table(records: list[TaskRecord], title: str, style: str, note: str) -> Table:
    """One row per task: its step, its id and its note (under the heading ``note``)."""
    table = Table(title=title, header_style=style)
    for column in ("step", "task", note):
        table.add_column(column)
    for rec in records:
        table.add_row(rec.step, rec.task, rec.note)
    return table

"""``potpyri catalogs fetch data_path=DIR instrument=NAME [key=value ...]``: the command line of
:mod:`potpyri.catalogs.fetch` (compose the config as a reduction would, fill the cache, print a
table, exit with the codes of docs/cli.rst)."""

from __future__ import annotations

import sys
from collections.abc import Callable
from pathlib import Path

from omegaconf import DictConfig, OmegaConf
from rich.console import Console
from rich.table import Table

from potpyri.catalogs.cache import NIGHT_CACHE, run_cache_dir
from potpyri.catalogs.fetch import FetchRow, fetch, night_fields, wanted_cones
from potpyri.framework.outcome import ExitCode
from potpyri.pipeline import ConfigError, make_reader, step_list

__all__ = ["main"]

USAGE = (
    "usage: potpyri catalogs fetch data_path=DIR instrument=NAME [catalog.cache_dir=DIR] "
    "[catalog.offline=true] [key=value ...]"
)


def main(argv: list[str], compose: Callable[[list[str]], DictConfig]) -> int:
    """Run ``potpyri catalogs ARGV``; ``compose`` turns overrides into a validated config (the
    command line's :func:`potpyri.cli.preflight`). Returns the exit code."""
    if argv[:1] != ["fetch"]:
        print(f"potpyri: error: {USAGE}", file=sys.stderr)
        return ExitCode.config_error
    try:
        cfg = compose(argv[1:])
    except ConfigError as exc:
        print(f"potpyri: error: {exc}", file=sys.stderr)
        return ExitCode.config_error
    folder, why = _fetch_cache_dir(cfg)
    print(f"potpyri: catalog cache: {folder} ({why})", file=sys.stderr)
    fields, notes = night_fields(cfg, make_reader(cfg.instrument, None))
    for note in notes:
        print(f"potpyri: warning: {note}", file=sys.stderr)
    if not fields:
        print(f"potpyri: error: no science frame in {cfg.data_path}/raw", file=sys.stderr)
        return ExitCode.failure
    steps = {n for n in step_list(cfg) if OmegaConf.select(cfg, f"{n}.enabled", default=True)}
    rows = fetch(wanted_cones(cfg, fields, steps), folder, offline=bool(cfg.catalog.offline))
    _print_table(rows, f"catalogs for {cfg.data_path}")
    failed = [row for row in rows if row.status == "failed"]
    for row in failed:
        print(
            f"potpyri: error: {row.catalog} cone {row.cone} of {row.field} not in the cache: "
            f"{row.file}",
            file=sys.stderr,
        )
    if not failed:
        return ExitCode.success
    return ExitCode.partial if len(failed) < len(rows) else ExitCode.failure


def _print_table(rows: list[FetchRow], title: str) -> None:
    table = Table(title=title)
    for column in ("catalog", "field", "cone", "rows", "status", "file"):
        table.add_column(column)
    for row in rows:
        cone = str(row.cone) if row.status != "skipped" else ""
        count = "" if row.rows is None else str(row.rows)
        table.add_row(row.catalog, row.field, cone, count, row.status, row.file)
    Console(width=200, soft_wrap=True).print(table)


def _fetch_cache_dir(cfg: DictConfig) -> tuple[Path, str]:
    """Where fetch writes: ``catalog.cache_dir``, else the night's own ``catalog_cache/`` (made
    here, so that the run finds it: :func:`potpyri.catalogs.run_cache_dir`)."""
    if not cfg.catalog.cache_dir:
        (Path(str(cfg.data_path)).expanduser().absolute() / NIGHT_CACHE).mkdir(exist_ok=True)
    return run_cache_dir(cfg.catalog.cache_dir, cfg.data_path)

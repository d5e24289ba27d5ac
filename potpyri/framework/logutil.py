"""One console for log lines and progress bars, plain lines where there is no terminal.

Rich's handler hard-wraps at 80 columns when output is not a terminal (pipes, batch logs), and a
progress bar must share the console its log lines go to, or they garble each other.
"""

from __future__ import annotations

import logging
import os
import sys

from rich.console import Console
from rich.logging import RichHandler
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

__all__ = ["CONSOLE", "console_handler", "interactive", "progress"]

CONSOLE = Console(stderr=True)
_PLAIN_FORMAT = "[%(asctime)s][%(name)s][%(levelname)s] %(message)s"


def interactive() -> bool:
    """True when a person is watching a terminal (and no test or batch system captures output)."""
    return CONSOLE.is_terminal and not os.environ.get("POTPYRI_PLAIN_LOG")


def console_handler(**rich_kwargs) -> logging.Handler:
    """Rich handler on a terminal; a plain timestamped stderr handler otherwise (and in sweep jobs,
    whose lines interleave with other jobs' and are read as logs, not watched)."""
    if interactive() and not _multirun_job():
        return RichHandler(console=CONSOLE, **rich_kwargs)
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(logging.Formatter(_PLAIN_FORMAT, "%H:%M:%S"))
    return handler


def _multirun_job() -> bool:
    """True inside a Hydra sweep job (Hydra sets its config before it configures logging)."""
    try:
        from hydra.core.hydra_config import HydraConfig
        from hydra.types import RunMode

        return HydraConfig.initialized() and HydraConfig.get().mode == RunMode.MULTIRUN
    except Exception:  # no Hydra config at all (library use): not a sweep job
        return False


def progress(enabled: bool) -> Progress:
    """A progress display on the shared console; disabled (invisible) when ``enabled`` is False."""
    return Progress(
        TextColumn("[bold]{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        console=CONSOLE,
        disable=not enabled,
        transient=False,
    )

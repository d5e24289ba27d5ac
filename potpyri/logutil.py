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
    """Rich handler on a terminal; a plain timestamped stderr handler otherwise."""
    if interactive():
        return RichHandler(console=CONSOLE, **rich_kwargs)
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(logging.Formatter(_PLAIN_FORMAT, "%H:%M:%S"))
    return handler


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

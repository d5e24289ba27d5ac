"""The fault suite's ledger: raw folders hashed before and after, products compared, cases tried."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from pathlib import Path

from tests.framework.tiny import write_tiny_night

#: The fault classes of issue #9, in report order (a test declares its class with
#: ``pytest.mark.fault(<class>)``), and issue #18's silent failures (``pytest.mark.fault("silent
#: failures", item=<n>)``, n = the issue's item number).
CLASSES = (
    "bad input",
    "names",
    "interruptions",
    "concurrency",
    "untrusted recipes",
    "silent failures",
)
#: Issue #18's items: what each fault is, as the ledger reports it.
SILENT_FAILURES = {
    1: "broken PSF published as a success",
    2: "one bad calibration file disables a correction",
    3: "wrong read noise silently masks data",
    4: "frames dropped instead of passed through",
    5: "no catalog where aperture photometry could give one",
    6: "exit code 0 when nothing useful was made",
    7: "stale products shown as current",
    8: "false satellite trails at the edges",
    9: "cross-host cache cleaning",
    10: "smaller silent defaults found in the code",
    11: "false detections in the catalogs",
    12: "a satellite trail missed",
}


@dataclass
class Ledger:
    """Counts kept over the session and printed at its end."""

    raw_dirs: dict[Path, dict[str, str]] = field(default_factory=dict)
    raw_checked: int = 0
    raw_files_checked: int = 0
    raw_files_changed: int = 0
    products_compared: int = 0
    products_lost: int = 0
    #: per interrupted run: (case, cache entries complete when the signal came, entries of a
    #: full run)
    interrupted: list[tuple[str, int, int]] = field(default_factory=list)


LEDGER = Ledger()


def raw_digest(raw: Path) -> dict[str, str]:
    """Name -> sha256 of the bytes, size and modification time of every file under ``raw``."""
    out = {}
    for path in sorted(p for p in raw.rglob("*") if p.is_file()):
        stat = path.stat()
        out[str(path.relative_to(raw))] = (
            f"{hashlib.sha256(path.read_bytes()).hexdigest()}:{stat.st_size}:{stat.st_mtime_ns}"
        )
    return out


def watch(data_path: Path) -> Path:
    """Record ``data_path/raw`` now (before any run); the suite's fixture checks it after the
    test."""
    raw = Path(data_path) / "raw"
    LEDGER.raw_dirs[raw] = raw_digest(raw)
    return raw


def check_raw(raw: Path, *, forget: bool) -> list[str]:
    """Files of ``raw`` added, removed or changed since :func:`watch`; updates the ledger."""
    before = LEDGER.raw_dirs.pop(raw) if forget else LEDGER.raw_dirs[raw]
    after = raw_digest(raw)
    changed = sorted(n for n in before.keys() | after.keys() if before.get(n) != after.get(n))
    LEDGER.raw_checked += 1
    LEDGER.raw_files_checked += len(before)
    LEDGER.raw_files_changed += len(changed)
    return changed


def night(data_path: Path, **kwargs) -> Path:
    """A tiny toycam night (tests/framework/tiny.py) in ``data_path``, watched; returns
    data_path."""
    write_tiny_night(data_path, **kwargs)
    watch(data_path)
    return data_path


def compared(n: int, lost: int = 0) -> None:
    """Count products compared against a reference (and how many were missing or different)."""
    LEDGER.products_compared += n
    LEDGER.products_lost += lost

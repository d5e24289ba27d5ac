"""Running the real command line in a subprocess, as a user would."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path


def potpyri(
    *args: str,
    cwd: Path | None = None,
    check: bool = False,
    entry: str = "main",
    timeout: float = 300,
) -> subprocess.CompletedProcess:
    """Run ``potpyri`` (or ``main_pipeline`` with entry='main_pipeline') and capture its output."""
    env = {**os.environ, "POTPYRI_PLAIN_LOG": "1", "HYDRA_FULL_ERROR": "0"}
    cmd = [sys.executable, "-c", f"import sys; from potpyri.cli import {entry}; {entry}()", *args]
    proc = subprocess.run(cmd, cwd=cwd, env=env, capture_output=True, text=True, timeout=timeout)
    if check and proc.returncode != 0:
        raise AssertionError(
            f"potpyri {' '.join(args)} failed ({proc.returncode}):\n{proc.stderr[-3000:]}"
        )
    return proc


def run_dirs(data_path: Path) -> list[Path]:
    """Single-run folders under red/log, oldest first."""
    return sorted(p for p in (data_path / "red" / "log").iterdir() if p.is_dir())


def sweep_jobs(data_path: Path) -> list[Path]:
    """The job folders of the one sweep under red/multirun, in job order."""
    (sweep,) = (data_path / "red" / "multirun").iterdir()
    return sorted((p for p in sweep.iterdir() if p.name.isdigit()), key=lambda p: int(p.name))


def summary(run_dir: Path) -> list[dict]:
    """The per-task records a run wrote."""
    return json.loads((run_dir / "summary.json").read_text())


def statuses(records: list[dict], step: str) -> list[str]:
    """Statuses of one step's tasks."""
    return [r["status"] for r in records if r["step"] == step]

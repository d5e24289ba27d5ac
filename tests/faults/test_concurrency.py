"""Concurrency: two runs on one data path at once, and a joblib sweep of 4 jobs sharing upstream
steps.

Every upstream task must be produced exactly once over all the runs (the others find it cached,
never half-written), and every product must equal the one an undisturbed run makes.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections import Counter
from pathlib import Path

import pytest
from astropy.io import fits

from potpyri.pipeline import run_pipeline, validate
from tests.conftest import compose_config
from tests.faults.ledger import compared, night
from tests.framework.helpers import potpyri, sweep_jobs
from tests.framework.tiny import SEARCHPATH

pytestmark = pytest.mark.fault("concurrency")

STEPS = "pipeline.steps=[ingest,process,skysub,stack]"
BASE = (SEARCHPATH, "instrument=toycam", STEPS)
UPSTREAM = ("ingest", "process", "skysub")


def _records(summary: Path) -> list[dict]:
    return json.loads(summary.read_text())


def _pixels(path: Path) -> list[bytes]:
    with fits.open(path) as hdul:
        hdul.verify("exception")
        return [hdul[name].data.tobytes() for name in ("SCI", "MASK", "ERR")]


def _leftovers(data_path: Path) -> list[Path]:
    return [
        p
        for p in data_path.rglob("*")
        if p.name.startswith(".tmp-") or p.name.endswith((".tmp", ".link"))
    ]


def _once_each(runs: list[list[dict]], steps: tuple[str, ...]) -> dict[str, Counter]:
    """Per step: how many times each task ran over all runs (and check every run has every task)."""
    ran: dict[str, Counter] = {}
    for step in steps:
        ran[step] = Counter(
            r["task"] for run in runs for r in run if r["step"] == step and r["status"] == "ran"
        )
        tasks = [sorted(r["task"] for r in run if r["step"] == step) for run in runs]
        assert all(t == tasks[0] for t in tasks) and tasks[0], (step, tasks)
        assert {r["status"] for run in runs for r in run if r["step"] == step} <= {"ran", "cached"}
        assert sorted(ran[step]) == tasks[0] and set(ran[step].values()) == {1}, (step, ran[step])
    return ran


def test_two_runs_on_one_data_path_at_once(tmp_path):
    alone = night(tmp_path / "alone", n_frames=3)
    cfg = compose_config(*BASE, f"data_path={alone}")  # the reference, undisturbed (in-process)
    validate(cfg)
    run_pipeline(cfg, recipe_yaml="data_path: x\n")
    shared = night(tmp_path / "shared", n_frames=3)
    env = {**os.environ, "POTPYRI_PLAIN_LOG": "1"}
    cmd = [
        sys.executable,
        "-c",
        "from potpyri.cli import main; main()",
        *BASE,
        f"data_path={shared}",
    ]
    outs = [
        (tmp_path / f"run{n}.stderr").open("w") for n in range(2)
    ]  # files: a full pipe would stall a run
    procs = [subprocess.Popen(cmd, env=env, stdout=subprocess.DEVNULL, stderr=out) for out in outs]
    for proc, out in zip(procs, outs, strict=True):
        proc.wait(timeout=300)
        out.close()
    errors = [(tmp_path / f"run{n}.stderr").read_text()[-2000:] for n in range(2)]
    assert [p.returncode for p in procs] == [0, 0], errors
    logs = sorted(p for p in (shared / "red" / "log").iterdir() if p.is_dir())
    assert len(logs) == 2  # each run its own log folder, recipe and summary
    runs = [_records(log / "summary.json") for log in logs]
    _once_each(runs, (*UPSTREAM, "stack"))
    (stack,) = (shared / "red").glob("*.stk.fits")
    (reference,) = (alone / "red").glob("*.stk.fits")
    frames = sorted((shared / "red" / "workspace").glob("*.fits"))
    assert [f.name for f in frames] == sorted(
        f.name for f in (alone / "red" / "workspace").glob("*.fits")
    )
    lost = int(_pixels(stack) != _pixels(reference))
    for frame in frames:
        with (
            fits.open(frame) as mine,
            fits.open(alone / "red" / "workspace" / frame.name) as theirs,
        ):
            lost += any(
                mine[n].data.tobytes() != theirs[n].data.tobytes() for n in range(1, len(mine))
            )
    compared(1 + len(frames), lost)
    assert lost == 0 and _leftovers(shared) == []


def test_joblib_sweep_of_four_jobs_produces_upstream_once(tmp_path):
    data_path = night(tmp_path, n_frames=2)
    # The sweep changes only the sigclip threshold, which the median ignores: four equal stacks.
    proc = potpyri(
        "--multirun",
        "hydra/launcher=joblib",
        "hydra.launcher.n_jobs=4",
        *BASE,
        f"data_path={data_path}",
        "stack.method=median",
        "stack.sigma=2.0,2.5,3.0,3.5",
        check=True,
    )
    jobs = sweep_jobs(data_path)
    assert len(jobs) == 4, proc.stderr
    runs = [_records(job / "summary.json") for job in jobs]
    ran = _once_each(runs, UPSTREAM)
    assert sum(ran["process"].values()) == 2  # one per frame over the four jobs, not one per job
    assert [sum(r["status"] == "ran" for r in run if r["step"] == "stack") for run in runs] == [
        1,
        1,
        1,
        1,
    ]
    stacks = [next((job / "products").glob("*.stk.fits")) for job in jobs]
    pixels = [_pixels(s) for s in stacks]
    lost = sum(p != pixels[0] for p in pixels[1:])
    compared(len(stacks) - 1, lost)
    assert lost == 0
    assert [fits.getheader(s)["STKSIGMA"] for s in stacks] == [2.0, 2.5, 3.0, 3.5]
    assert _leftovers(data_path) == []

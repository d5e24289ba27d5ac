"""Whole runs through the command line: interruption, sweeps, recipes, the reference CLI."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
from astropy.io import fits
from omegaconf import OmegaConf

from tests.conftest import compose_config
from tests.framework.helpers import potpyri, run_dirs, statuses, summary, sweep_jobs
from tests.framework.tiny import SEARCHPATH, TOY_STEPS, write_tiny_night

BASE = (SEARCHPATH, "instrument=toycam", TOY_STEPS)


def _science(path: Path) -> list[bytes]:
    with fits.open(path) as hdul:
        return [hdul[name].data.tobytes() for name in ("SCI", "MASK", "ERR")]


def _stack(folder: Path) -> Path:
    (found,) = folder.glob("*.stk.fits")
    return found


def _committed(step_cache) -> int:
    """Complete cache entries of a step; hidden staging folders hold a manifest for an instant
    before their rename and are not entries yet."""
    return sum(
        (d / "MANIFEST.json").exists()
        for d in step_cache.iterdir()
        if d.is_dir() and not d.name.startswith(".")
    )


def test_sigkill_mid_step_then_resume(tmp_path):
    """Kill the run once cosmic_rays has finished some frames, re-run, compare with a clean run."""
    clean, killed = tmp_path / "clean", tmp_path / "killed"
    for folder in (clean, killed):
        write_tiny_night(folder, n_frames=6, size=1024)
    # Untrimmed 1024² frames make cosmic_rays slow enough (~0.5 s a frame) to be caught mid-step.
    base = (*BASE, "instrument.datasec=[]", "instrument.biassec=[]")
    potpyri(*base, f"data_path={clean}", check=True)

    env = {**os.environ, "POTPYRI_PLAIN_LOG": "1"}
    cmd = [
        sys.executable,
        "-c",
        "from potpyri.cli import main; main()",
        *base,
        f"data_path={killed}",
    ]
    proc = subprocess.Popen(cmd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    cr_cache = killed / "red" / "cache" / "cosmic_rays"
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline and proc.poll() is None:
        if cr_cache.is_dir() and _committed(cr_cache):
            break
        time.sleep(0.005)
    assert proc.poll() is None, "the run finished before it could be interrupted"
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    assert not list(killed.glob("red/*.stk.fits"))
    done_before = _committed(cr_cache)
    assert 1 <= done_before < 6

    potpyri(*base, f"data_path={killed}", check=True)
    records = summary(run_dirs(killed)[-1])
    assert statuses(records, "process") == ["cached"] * 6
    assert statuses(records, "cosmic_rays").count("cached") >= done_before
    assert statuses(records, "stack") == ["ran"]
    assert _science(_stack(killed / "red")) == _science(_stack(clean / "red"))
    leftovers = [
        p
        for p in killed.rglob("*")
        if p.name.startswith(".tmp-") or p.name.endswith((".tmp", ".link"))
    ]
    assert leftovers == []


def test_sweep_runs_upstream_once_and_keeps_jobs_apart(tmp_path):
    write_tiny_night(tmp_path, n_frames=3)
    proc = potpyri(
        "--multirun",
        *BASE,
        f"data_path={tmp_path}",
        "stack.method=sigclip",
        "stack.sigma=2.0,3.0,4.0",
        check=True,
    )
    jobs = sweep_jobs(tmp_path)
    assert len(jobs) == 3, proc.stderr
    ran = {
        step: sum(statuses(summary(j), step).count("ran") for j in jobs)
        for step in ("ingest", "process", "cosmic_rays", "stack")
    }
    assert ran == {"ingest": 1, "process": 3, "cosmic_rays": 3, "stack": 3}
    sigmas = []
    for job in jobs:
        with fits.open(_stack(job / "products")) as hdul:
            sigmas.append(hdul[0].header["STKSIGMA"])
    assert sigmas == [2.0, 3.0, 4.0]
    # sweep jobs publish into their own folders
    assert not list((tmp_path / "red").glob("*.stk.fits"))


def test_parallel_sweep_with_joblib_shares_upstream(tmp_path):
    write_tiny_night(tmp_path, n_frames=3)
    potpyri(
        "--multirun",
        "hydra/launcher=joblib",
        "hydra.launcher.n_jobs=3",
        *BASE,
        f"data_path={tmp_path}",
        "stack.method=median,mean,sigclip",
        check=True,
    )
    jobs = sweep_jobs(tmp_path)
    process = [s for j in jobs for s in statuses(summary(j), "process")]
    assert len(jobs) == 3 and process.count("ran") == 3 and process.count("cached") == 6


def test_recipe_round_trips_from_a_product(tmp_path):
    write_tiny_night(tmp_path, n_frames=2)
    potpyri(*BASE, f"data_path={tmp_path}", "stack.method=mean", check=True)
    stack = _stack(tmp_path / "red")
    original = _science(stack)
    recipe = run_dirs(tmp_path)[-1] / "recipe.yaml"
    assert "method: mean" in recipe.read_text()
    # From the product, with the cache off so that every step really runs again.
    potpyri("--recipe-from", str(stack), "cache.enabled=false", check=True)
    records = summary(run_dirs(tmp_path)[-1])
    assert set(statuses(records, "process")) == {"ran"}
    assert _science(_stack(tmp_path / "red")) == original
    potpyri("--recipe", str(recipe), check=True)
    assert {r["status"] for r in summary(run_dirs(tmp_path)[-1])} - {"empty"} == {"cached"}


def test_recipe_from_a_file_without_recipe_is_one_line(tmp_path):
    bare = tmp_path / "bare.fits"
    fits.PrimaryHDU(np.zeros((2, 2))).writeto(bare)
    proc = potpyri("--recipe-from", str(bare))
    assert proc.returncode == 2
    assert proc.stderr.strip().splitlines() == [
        f"potpyri: error: --recipe-from {bare}: bare.fits: no PPRECIPE extension; "
        "it is not a final potpyri product"
    ]


def test_main_pipeline_translates_reference_options(tmp_path):
    write_tiny_night(tmp_path, n_frames=2)
    proc = potpyri(
        "TOYCAM",
        str(tmp_path),
        "--skip-cr",
        "--phot-sn-min",
        "5",
        SEARCHPATH,
        TOY_STEPS,
        entry="main_pipeline",
    )
    assert proc.returncode == 0, proc.stderr
    recipe = OmegaConf.load(run_dirs(tmp_path)[-1] / "recipe.yaml")
    assert recipe.photometry.sn_min == 5.0 and recipe.cosmic_rays.enabled is False
    records = summary(run_dirs(tmp_path)[-1])
    assert statuses(records, "cosmic_rays") == ["skipped"]
    assert statuses(records, "stack") == ["ran"]


@pytest.mark.parametrize("option", ["--skip-crr", "--bogus"])
def test_main_pipeline_rejects_unknown_options(tmp_path, option):
    proc = potpyri("GMOS", str(tmp_path), option, entry="main_pipeline")
    assert proc.returncode == 2 and "unrecognized arguments" in proc.stderr


def test_a_run_leaves_its_log_recipe_and_summary(tmp_path):
    write_tiny_night(tmp_path, n_frames=2)
    proc = potpyri(*BASE, f"data_path={tmp_path}", check=True)
    (run,) = run_dirs(tmp_path)
    log_text = (run / "potpyri.log").read_text()
    assert "[stack] stack ran in" in log_text or "[stack] field1_r_1_11 ran" in log_text
    assert "recipe saved to" in log_text and (run / "recipe.yaml").is_file()
    pipeline = compose_config(*BASE, f"data_path={tmp_path}").pipeline.steps
    assert [r["step"] for r in summary(run) if r["task"] in ("*", "run") or r["step"] != "ingest"][
        0
    ] == "ingest"
    assert list(dict.fromkeys(r["step"] for r in summary(run))) == [p.value for p in pipeline]
    assert "potpyri run summary" in proc.stderr and proc.stdout == ""


def test_process_pool_gives_the_same_products(tmp_path):
    serial, pooled = tmp_path / "serial", tmp_path / "pooled"
    for folder in (serial, pooled):
        write_tiny_night(folder, n_frames=3)
    potpyri(*BASE, f"data_path={serial}", check=True)
    potpyri(*BASE, f"data_path={pooled}", "executor=processes", "executor.workers=2", check=True)
    assert _science(_stack(serial / "red")) == _science(_stack(pooled / "red"))

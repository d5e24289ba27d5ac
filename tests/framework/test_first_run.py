"""A new user's first hour: a sweep's summary and exit code, one-line multirun typos,
``--version``, recipes without machine paths, and files that follow the umask."""

from __future__ import annotations

import csv
import json
import os
import shutil
import stat
from importlib.metadata import version

import numpy as np
import pytest
import yaml
from astropy.io import fits
from omegaconf import OmegaConf

from potpyri.files import write_atomic
from potpyri.framework.cache import Cache
from potpyri.framework.sweep import worst_code
from tests.framework.helpers import potpyri, run_dirs, sweep_jobs
from tests.framework.tiny import SEARCHPATH, TOY_STEPS, write_tiny_night

TOY = (SEARCHPATH, "instrument=toycam")
SHORT = "pipeline.steps=[ingest,process,stack]"
#: The toy night cannot be plate-solved: a job with astrometry fails (offline, empty cache).
FAILS = "pipeline.steps=[ingest,process,astrometry,stack]"


def test_sweep_writes_its_summary_and_exits_with_the_worst_job(tmp_path):
    write_tiny_night(tmp_path, n_frames=2)
    proc = potpyri(
        "--multirun",
        *TOY,
        f"data_path={tmp_path}",
        "catalog.offline=true",
        f"catalog.cache_dir={tmp_path / 'no_catalogs'}",
        f"{SHORT[:-1]}],{FAILS.split('=', 1)[1]}",
    )
    assert proc.returncode == 1, proc.stderr[-2000:]
    assert "worst job exit code 1" in proc.stderr
    jobs = sweep_jobs(tmp_path)
    records = [json.loads((j / "run.json").read_text()) for j in jobs]
    assert [r["exit_code"] for r in records] == [0, 1]
    assert records[0]["sweep"] == {"pipeline.steps": ["ingest", "process", "stack"]}
    assert (
        "sweep: pipeline.steps=['ingest', 'process', 'astrometry', 'stack']"
        in (jobs[1] / "potpyri.log").read_text()
    )
    with open(jobs[0].parent / "sweep_summary.csv") as handle:
        rows = list(csv.DictReader(handle))
    assert [(r["job"], r["exit_code"]) for r in rows] == [("0", "0"), ("1", "1")]
    assert rows[0]["stack"] == "field1.r.20240619.1.11.stk.fits" and rows[1]["stack"] == ""
    assert (jobs[0].parent / "sweep_summary.md").read_text() in proc.stdout


def test_a_single_run_records_an_empty_sweep(tmp_path):
    write_tiny_night(tmp_path, n_frames=2)
    potpyri(*TOY, f"data_path={tmp_path}", SHORT, check=True)
    (run,) = run_dirs(tmp_path)
    assert json.loads((run / "run.json").read_text())["sweep"] == {}


def test_worst_code_ranks_failures_above_partial_success():
    assert worst_code([0, 3, 0]) == 3 and worst_code([3, 1]) == 1 and worst_code([]) == 0
    assert worst_code([1, 2]) == 2 and worst_code([0, 137]) == 1


@pytest.mark.parametrize("sweep", ["photometry.snmin=3,5", "photometry.sn_min=3,5,abc"])
def test_a_multirun_typo_is_the_single_run_line(tmp_path, sweep):
    (tmp_path / "x" / "raw").mkdir(parents=True)
    key, values = sweep.split("=")
    single = potpyri(
        "instrument=gmos", "data_path=x", f"{key}={values.split(',')[-1]}", cwd=tmp_path
    )
    multi = potpyri("--multirun", "instrument=gmos", "data_path=x", sweep, cwd=tmp_path)
    assert multi.returncode == single.returncode == 2
    assert multi.stderr == single.stderr and len(multi.stderr.splitlines()) == 1, multi.stderr
    assert key in multi.stderr and "+photometry" not in multi.stderr
    assert not (tmp_path / "x" / "red").exists()


def test_version_names_potpyri():
    proc = potpyri("--version", check=True)
    assert proc.stdout.strip() == f"potpyri {version('potpyri')}"


def test_a_recipe_replays_from_a_copied_night(tmp_path):
    first, second = tmp_path / "mine", tmp_path / "colleague"
    write_tiny_night(first, n_frames=2)
    (first / "catalog_cache").mkdir()
    potpyri(*TOY, f"data_path={first}", SHORT, f"catalog.cache_dir={first / 'catalog_cache'}",
            check=True)  # fmt: skip
    (run,) = run_dirs(first)
    text = (run / "recipe.yaml").read_text()
    assert str(tmp_path) not in text and "data_path" not in text
    assert yaml.safe_load(text)["catalog"]["cache_dir"] == "catalog_cache"
    (stack,) = (first / "red").glob("*.stk.fits")
    pixels = fits.getdata(stack, "SCI")
    shutil.copytree(first, second)
    shutil.rmtree(first)  # nothing may point back at the first machine's folder
    recipe = second / "red" / "log" / run.name / "recipe.yaml"
    potpyri("--recipe", str(recipe), "cache.enabled=false", check=True)
    replay = run_dirs(second)[-1]
    assert replay != recipe.parent
    used = OmegaConf.to_container(OmegaConf.load(replay / ".hydra" / "config.yaml"), resolve=True)
    assert used["data_path"] == str(second)
    assert used["catalog"]["cache_dir"] == f"{second}/catalog_cache"
    np.testing.assert_array_equal(fits.getdata(second / "red" / stack.name, "SCI"), pixels)


@pytest.mark.parametrize(
    ("umask", "file_mode", "product_mode"), [(0o022, 0o644, 0o444), (0o077, 0o600, 0o400)]
)
def test_shared_files_follow_the_umask(tmp_path, umask, file_mode, product_mode):
    old = os.umask(umask)
    try:
        path = write_atomic("recipe: 1\n", tmp_path / "recipe.yaml")
        cache = Cache(tmp_path / "cache")
        staged = cache.staging("stack")
        (staged / "x.stk.fits").write_bytes(b"0")
        cache.commit("stack", "k" * 64, staged, {})
        entry = cache.entry("stack", "k" * 64)
    finally:
        os.umask(old)
    assert stat.S_IMODE(path.stat().st_mode) == file_mode
    assert stat.S_IMODE((entry / "x.stk.fits").stat().st_mode) == product_mode
    assert stat.S_IMODE(entry.stat().st_mode) == 0o777 & ~umask


def test_a_run_under_umask_022_shares_its_report_recipe_and_products(tmp_path):
    write_tiny_night(tmp_path, n_frames=2)
    old = os.umask(0o022)
    try:
        potpyri(*TOY, f"data_path={tmp_path}", TOY_STEPS, check=True)
    finally:
        os.umask(old)
    (run,) = run_dirs(tmp_path)
    shared = [run / "recipe.yaml", run / "run.json", run / "summary.json"]
    shared += [tmp_path / "red" / "qa" / "index.html", *(tmp_path / "red").glob("*.stk.fits")]
    modes = {p.name: stat.S_IMODE(p.stat().st_mode) & 0o044 for p in shared}
    assert modes == dict.fromkeys(modes, 0o044) and len(modes) == 5, modes

"""Scale-out paths give the serial run's products: the dask executor on a LocalCluster, and a
Hydra multirun through the submitit launcher's local executor (one job per target)."""

from __future__ import annotations

import logging
import os
import shutil
from pathlib import Path

import numpy as np
import pytest
from astropy.io import fits

from potpyri.framework.executors import DaskExecutor
from potpyri.pipeline import run_pipeline, validate
from tests.conftest import compose_config
from tests.framework.helpers import potpyri
from tests.framework.tiny import SEARCHPATH, write_tiny_night

pytest.importorskip("distributed", reason="the dask executor needs potpyri[dask]")

STEPS = "pipeline.steps=[ingest,process,cosmic_rays,skysub,stack]"
TARGETS = ("field1", "field2")


def _sci_bytes(red: Path) -> dict[str, bytes]:
    """SCI pixels of every published FITS product (frames, backgrounds, stacks) by file name."""
    found = {}
    for path in sorted(red.rglob("*.fits")):
        if "cache" in path.relative_to(red).parts:
            continue
        with fits.open(path) as hdul:
            if "SCI" in hdul:
                found[path.name] = np.ascontiguousarray(hdul["SCI"].data).tobytes()
    return found


@pytest.fixture(scope="module")
def night(tmp_path_factory) -> Path:
    """Two targets × 3 frames, plus one frame flagged bad (ingest logs that it is set aside)."""
    folder = tmp_path_factory.mktemp("scale_night")
    write_tiny_night(folder, n_frames=3, targets=TARGETS)
    bad = folder / "raw" / "toy0000.fits"
    with fits.open(bad) as hdul:
        hdul[0].header["QUALITY"] = "bad"
        hdul.writeto(folder / "raw" / "toy9bad.fits")
    return folder


def _copy(night: Path, dest: Path) -> Path:
    shutil.copytree(night / "raw", dest / "raw")
    return dest


@pytest.fixture(scope="module")
def serial(night, tmp_path_factory) -> dict[str, bytes]:
    folder = _copy(night, tmp_path_factory.mktemp("serial"))
    cfg = compose_config(SEARCHPATH, "instrument=toycam", f"data_path={folder}", STEPS)
    validate(cfg)
    result = run_pipeline(cfg)
    assert result.by_status("stack") == {"ran": 2} and result.by_status("process") == {"ran": 6}
    products = _sci_bytes(folder / "red")
    assert sum(n.endswith(".stk.fits") for n in products) == 2
    return products


def test_dask_local_cluster_gives_the_serial_products(night, serial, tmp_path, caplog):
    folder = _copy(night, tmp_path)
    cfg = compose_config(
        SEARCHPATH,
        "instrument=toycam",
        f"data_path={folder}",
        STEPS,
        "executor=dask",
        "executor.workers=2",
    )
    validate(cfg)
    with caplog.at_level(logging.INFO, logger="potpyri"):
        result = run_pipeline(cfg)
    assert result.by_status("process") == {"ran": 6}
    assert result.by_status("stack") == {"ran": 2}
    assert _sci_bytes(folder / "red") == serial
    # The ingest task ran on a worker process; its warning reached this process's log.
    replayed = [
        r
        for r in caplog.records
        if "toy9bad.fits" in r.getMessage() and "set aside" in r.getMessage()
    ]
    assert replayed and all(r.process != os.getpid() for r in replayed)
    assert all(
        rec.cpu_seconds > 0 and rec.peak_rss_mb > 0 for rec in result.records if rec.status == "ran"
    )


def _explode(n: int) -> int:
    if n == 2:
        raise ValueError("frame 2 is broken")
    return n * n


def test_dask_failures_come_back_per_task_in_order():
    with DaskExecutor(workers=1) as executor:
        got = list(executor.map(_explode, range(5), on_error=lambda n, exc: f"failed {n}: {exc}"))
        assert got == [0, 1, "failed 2: frame 2 is broken", 9, 16]
        address = executor.client().scheduler.address
        with DaskExecutor(address=address) as remote:  # an existing scheduler: connect, do not own
            assert list(remote.map(_explode, [3, 4])) == [9, 16]
        assert executor.client().status == "running"


def test_submitit_local_multirun_gives_the_serial_products(night, serial, tmp_path):
    pytest.importorskip("hydra_plugins.hydra_submitit_launcher", reason="needs potpyri[slurm]")
    folder = _copy(night, tmp_path)
    proc = potpyri(
        "--multirun",
        "hydra/launcher=submitit_local",
        "hydra.launcher.timeout_min=5",
        SEARCHPATH,
        "instrument=toycam",
        f"data_path={folder}",
        STEPS,
        f"target={','.join(TARGETS)}",
        timeout=120,
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    (sweep,) = (folder / "red" / "multirun").iterdir()
    jobs = sorted(p for p in sweep.iterdir() if p.is_dir() and p.name.isdigit())
    assert len(jobs) == 2
    assert (
        len([p for p in (sweep / ".submitit").iterdir() if p.name.isdigit()]) == 2
    )  # submitit ran both
    stacks = {}
    for job, target in zip(jobs, TARGETS, strict=True):
        products = _sci_bytes(job / "products")
        mine = {n: b for n, b in products.items() if n.endswith(".stk.fits")}
        assert len(mine) == 1 and next(iter(mine)).startswith(target)
        stacks.update(mine)
        frames = {n: b for n, b in products.items() if not n.endswith(".stk.fits")}
        assert frames and all(serial[n] == b for n, b in frames.items())
    assert stacks == {n: b for n, b in serial.items() if n.endswith(".stk.fits")}

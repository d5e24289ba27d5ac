"""The real Lick Nickel night (``../shared/data/nickel_lick_raw``) reduced once per test session.

Three suites look at the same offline reduction (no reference catalog of these fields is
available offline, so the chain stops at skysub): the calibration chain (tests/pixels), the
satellite trails (tests/faults, issue 18 item 8) and the photometry of every field (item 5).
"""

from __future__ import annotations

import hashlib
import shutil
from pathlib import Path
from typing import NamedTuple

import numpy as np
import pytest
from astropy.io import fits

from potpyri.framework.runner import RunResult
from potpyri.pipeline import run_pipeline, validate
from tests.conftest import SHARED, compose_config

RAW = SHARED / "data" / "nickel_lick_raw"
NAN_FLAT = "d1034.fits"  #: a NaN-only sky flat written next to the real ones (issue 18, item 2)
STEPS = "pipeline.steps=[ingest,bias,dark,flat,process,cosmic_rays,satellites,skysub]"


class NickelNight(NamedTuple):
    data_path: Path
    result: RunResult
    #: sha256 of every file of the night's raw/ before the run
    raw_before: dict[str, str]


def raw_hashes(folder: Path) -> dict[str, str]:
    """Name -> sha256 of every file in ``folder``."""
    return {p.name: hashlib.sha256(p.read_bytes()).hexdigest() for p in sorted(folder.iterdir())}


@pytest.fixture(scope="session")
def nickel_night(tmp_path_factory) -> NickelNight:
    """The 19 real files plus a NaN-only flat (in this copy of raw/ only), reduced to skysub."""
    if not RAW.is_dir():
        pytest.skip(f"shared data not found at {RAW}")
    data_path = tmp_path_factory.mktemp("nickel")
    shutil.copytree(RAW, data_path / "raw")
    with fits.open(RAW / "d1035.fits") as flat:
        fits.PrimaryHDU(np.full(flat[0].data.shape, np.nan, np.float32), flat[0].header).writeto(
            data_path / "raw" / NAN_FLAT
        )
    before = raw_hashes(data_path / "raw")
    cfg = compose_config("instrument=nickel", f"data_path={data_path}", STEPS)
    validate(cfg)
    return NickelNight(data_path, run_pipeline(cfg), before)

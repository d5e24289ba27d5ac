"""The six real raw Flamingos-2 darks (2 × 3 s, 2 × 5 s, 2 × 10 s) combine into master darks."""

from __future__ import annotations

import shutil

import numpy as np
import pytest
from astropy.io import fits

from potpyri.pipeline import run_pipeline, validate
from tests.conftest import SHARED, compose_config

DARKS = SHARED / "data" / "f2_darks"
pytestmark = pytest.mark.skipif(not DARKS.is_dir(), reason=f"shared data not found at {DARKS}")


def test_real_f2_darks_make_one_master_per_exposure_time(tmp_path):
    shutil.copytree(DARKS, tmp_path / "raw")
    # The shared files are gzip-compressed; the archive's (and reference's) F2 raw files are .bz2.
    cfg = compose_config(
        "instrument=f2",
        f"data_path={tmp_path}",
        "instrument.raw_format.default=*.fits.gz",
        "dark.min_frames=2",
        "pipeline.steps=[ingest,dark]",
    )
    validate(cfg)
    result = run_pipeline(cfg)
    assert result.by_status("dark") == {"ran": 3}
    masters = sorted((tmp_path / "red" / "cals").glob("mdark_*.fits"))
    assert [m.name for m in masters] == [
        "mdark_1_11_10s.fits",
        "mdark_1_11_3s.fits",
        "mdark_1_11_5s.fits",
    ]
    levels = {}
    for master in masters:
        with fits.open(master) as hdul:
            sci, err = hdul["SCI"].data, hdul["UNCERT"].data
            assert sci.shape == (2048, 2048) and hdul[0].header["NCOMBINE"] == 2
            # Pixels where both exposures were rejected (cosmic rays, unstable pixels) have no
            # value; they must be flagged bad, and be few.
            undefined = ~np.isfinite(sci)
            assert (hdul["MASK"].data[undefined] & 1).all() and undefined.mean() < 0.01
            assert np.nanmedian(err) > 0
            levels[master.name] = float(np.nanmedian(sci))
    # The dark pedestal (electrons) is the same order at every exposure time: it is a reset level,
    # not accumulated current; real F2 darks show it at a few hundred ADU x 4.44 e-/ADU.
    assert len(set(np.sign(list(levels.values())))) == 1

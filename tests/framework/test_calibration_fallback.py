"""Calibrations a night lacks are taken from the compatible masters an earlier run left in
red/cals."""

from __future__ import annotations

import numpy as np
from astropy.io import fits

from potpyri.framework.runner import run_pipeline
from potpyri.framework.validate import validate
from tests.conftest import compose_config
from tests.framework.tiny import SEARCHPATH, write_tiny_night


def _run(data_path, *overrides):
    cfg = compose_config(
        SEARCHPATH,
        "instrument=toycam",
        f"data_path={data_path}",
        "pipeline.steps=[ingest,bias,process,stack]",
        *overrides,
    )
    validate(cfg)
    return run_pipeline(cfg)


def test_missing_calibrations_come_from_an_earlier_runs_masters(tmp_path):
    """A night with no biases of its own uses the compatible master bias an earlier run left in
    red/cals, says so in the summary, and records the file in BIASCOR."""
    write_tiny_night(tmp_path, n_frames=2)
    rng = np.random.default_rng(3)
    for n in range(3):
        header = fits.Header(
            {
                "OBJECT": "bias",
                "OBSTYPE": "bias",
                "FILTER": "r",
                "EXPTIME": 0.0,
                "MJD-OBS": 60480.0 + n * 0.001,
            }
        )
        fits.PrimaryHDU(rng.normal(500.0, 2.5, (128, 128)).astype(np.float32), header).writeto(
            tmp_path / "raw" / f"bias{n}.fits"
        )
    bias_rule = [
        "instrument.bias=true",
        "instrument.classify.bias.keywords=[OBSTYPE]",
        "instrument.classify.bias.values=[bias]",
        "cosmic_rays.enabled=false",
    ]
    first = _run(tmp_path, *bias_rule)
    assert first.by_status("bias") == {"ran": 1}
    assert (tmp_path / "red" / "cals" / "mbias_1_11.fits").is_file()
    for n in range(3):  # the next night in this folder has science frames only
        (tmp_path / "raw" / f"bias{n}.fits").unlink()
    second = _run(tmp_path, *bias_rule)
    assert second.by_status("bias") == {"empty": 1}
    notes = [r.note for r in second.records if r.step == "process"]
    assert (
        notes
        == ["no bias exposures in this run: used red/cals/mbias_1_11.fits from an earlier run"] * 2
    )
    frame = next(i for i in second.items if i.id == "toy0000.fits")
    with fits.open(frame.path("image")) as hdul:
        assert hdul[0].header["BIASCOR"] == "mbias_1_11.fits"
    # The same master in both runs: identical calibrated pixels.
    before = next(i for i in first.items if i.id == "toy0000.fits")
    assert np.array_equal(
        fits.getdata(before.path("image"), "SCI"), fits.getdata(frame.path("image"), "SCI")
    )

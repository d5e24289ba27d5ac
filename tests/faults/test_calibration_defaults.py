"""Smaller silent defaults of the calibration code (issue 18, item 10).

- A master dark of another exposure time that still holds the detector pedestal (NIR: no biases)
  was subtracted unscaled without a word. It still is (as DRAGONS does: such a dark cannot be
  scaled), but with one warning naming both exposure times; a bias-subtracted dark is scaled.
- Masters were cached in-process by path: a master rewritten in a long-lived session was served
  stale. The cache is now keyed on the file's identity (inode, size, modification time).
"""

from __future__ import annotations

import numpy as np
import pytest
from astropy.io import fits

from potpyri.calibration.apply import read_master
from potpyri.pipeline import run_pipeline, validate
from tests.conftest import compose_config
from tests.faults.calnight import NX, NY, bias_adu
from tests.faults.ledger import night, watch
from tests.framework.tiny import GAIN, SEARCHPATH

pytestmark = pytest.mark.fault("silent failures", item=10)

DARK_E_PER_S = 3.0


def _dark_night(data_path, with_biases: bool):
    """The tiny night (science of 10 s and 20 s) with three 10 s darks (and five biases)."""
    night(data_path, n_frames=2)
    rng = np.random.default_rng(4)
    for n in range(3):
        pixels = bias_adu(rng, 5.0)
        pixels[:, :120] += rng.poisson(DARK_E_PER_S * 10.0, (NY, 120)) / GAIN
        head = fits.Header({"OBJECT": "dark", "OBSTYPE": "dark", "FILTER": "r", "EXPTIME": 10.0})
        head["MJD-OBS"] = 60480.0 + n * 0.001
        fits.PrimaryHDU(pixels.astype(np.float32), head).writeto(
            data_path / "raw" / f"dark{n}.fits"
        )
    for n in range(5 if with_biases else 0):
        head = fits.Header({"OBJECT": "bias", "OBSTYPE": "bias", "FILTER": "r", "EXPTIME": 0.0})
        head["MJD-OBS"] = 60480.0 + n * 0.001
        fits.PrimaryHDU(bias_adu(rng, 5.0), head).writeto(data_path / "raw" / f"bias{n}.fits")
    watch(data_path)
    cfg = compose_config(
        SEARCHPATH,
        "instrument=toycam",
        f"data_path={data_path}",
        "pipeline.steps=[ingest,bias,dark,process]",
        f"instrument.bias={str(with_biases).lower()}",
        "instrument.dark=true",
        "instrument.classify.dark={keywords:[OBSTYPE],values:[dark]}",
        "instrument.classify.bias={keywords:[OBSTYPE],values:[bias]}",
        "process.sky_noise=false",
    )
    validate(cfg)
    return run_pipeline(cfg)


def test_unscalable_dark_of_another_exposure_time_is_warned(tmp_path):
    result = _dark_night(tmp_path, with_biases=False)
    notes = {r.task: r.note for r in result.records if r.step == "process"}
    assert notes == {
        "toy0000.fits": "",  # 10 s, as the dark
        "toy0001.fits": "mdark_1_11_10s.fits (10 s, not bias-subtracted, cannot be scaled) "
        "subtracted unscaled from a 20 s exposure: take darks of 20 s",
    }


def test_bias_subtracted_dark_is_scaled_without_warning(tmp_path):
    result = _dark_night(tmp_path, with_biases=True)
    notes = {r.task: r.note for r in result.records if r.step == "process"}
    assert notes == {"toy0000.fits": "", "toy0001.fits": ""}
    with fits.open(tmp_path / "red" / "cals" / "mdark_1_11_10s.fits") as hdul:
        assert hdul[0].header["BIASSUB"] is True
        assert np.median(hdul["SCI"].data) == pytest.approx(DARK_E_PER_S * 10.0, rel=0.05)


def test_rewritten_master_is_read_again(tmp_path):
    """A long-lived session (a notebook, a service) reads a master, the file is then rewritten
    (same name, same size): the next read returns the new pixels, not the cached old ones."""
    path = tmp_path / "mbias_1_11.fits"

    def write(level: float) -> None:
        fits.HDUList(
            [
                fits.PrimaryHDU(),
                fits.ImageHDU(np.full((NY, NX), level, np.float32), name="SCI"),
                fits.ImageHDU(np.zeros((NY, NX), np.uint8), name="MASK"),
                fits.ImageHDU(np.ones((NY, NX), np.float32), name="UNCERT"),
            ]
        ).writeto(path, overwrite=True)

    write(1.0)
    assert read_master(path).data[0, 0] == 1.0
    size = path.stat().st_size
    write(2.0)
    assert path.stat().st_size == size
    assert read_master(path).data[0, 0] == 2.0
    assert read_master(str(path)).data[0, 0] == 2.0

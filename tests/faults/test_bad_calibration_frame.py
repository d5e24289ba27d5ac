"""One bad calibration exposure is set aside by name; the master is made from the others.

Before: a NaN-only flat among good ones failed the master flat with "exposure 5 has no positive
signal to normalise by" (no file name) and the night was reduced without flat-fielding, the run
counting as a success. Now the bad exposure is one failed record (its name and reason), the master
holds the good ones, and every frame is flat-fielded. Only when too few good exposures remain
does the master fail, naming the exposures set aside.
"""

from __future__ import annotations

import re

import numpy as np
import pytest
from astropy.io import fits

from potpyri.pipeline import run_pipeline, validate
from tests.conftest import compose_config
from tests.faults.calnight import CALIBRATED, NX, NY, bias_adu, write_calibrated_night

pytestmark = pytest.mark.fault("silent failures", item=2)

_RNG = np.random.default_rng(11)


def _saturated() -> np.ndarray:
    """A flat taken too long: the data columns at saturation but for 16 vignetted rows."""
    pixels = bias_adu(_RNG, 5.0)
    pixels[16:, :120] = 60000.0
    pixels[:16, :120] += 30000.0
    return pixels


#: name -> (OBSTYPE, pixels, the reason its record must give)
BAD = {
    "nan_flat.fits": ("flat", np.full((NY, NX), np.nan), r"no finite pixel \(a NaN-filled frame\)"),
    "zero_flat.fits": ("flat", np.zeros((NY, NX)), r"every pixel is 0 ADU \(a constant frame"),
    "saturated_flat.fits": (
        "flat",
        _saturated(),
        r"88% of its pixels saturated \(>= 95% of 60000 ADU\)",
    ),
    "leaky_bias.fits": (
        "bias",
        bias_adu(_RNG, 5.0) + np.where(np.arange(NX) < 120, 400.0, 0.0),  # light leak, 800 e-
        r"level 80\d\.\d e- against \d\.\d e- of the others",
    ),
    "noisy_bias.fits": (
        "bias",
        bias_adu(_RNG, 40.0),
        r"pixel noise \d+\.\d e- against \d\.\d e- of",
    ),
}


def _run(data_path, *overrides):
    cfg = compose_config(*CALIBRATED, f"data_path={data_path}", *overrides)
    validate(cfg)
    return run_pipeline(cfg)


@pytest.mark.parametrize("name", sorted(BAD))
def test_bad_calibration_exposure_set_aside_by_name(tmp_path, name):
    obstype, pixels, reason = BAD[name]
    data_path = write_calibrated_night(tmp_path, bad={name: (obstype, pixels)})
    result = _run(data_path)
    step = obstype
    (record,) = [r for r in result.records if r.task == name]
    assert record.step == step and record.status == "failed", record
    assert re.search(reason, record.note), record.note
    assert f"set aside, m{step}_" in record.note
    # The master is made from the good exposures only (4 flats, 5 biases) ...
    master = data_path / "red" / "cals" / f"m{step}_{'r_' if step == 'flat' else ''}1_11.fits"
    with fits.open(master) as hdul:
        header = hdul[0].header
        assert header["NCOMBINE"] == (4 if step == "flat" else 5)
        assert name not in [header[k] for k in header if k.startswith("IMCMB")]
        assert np.isfinite(hdul["SCI"].data).all()
    # ... and every frame is calibrated with it, without a "skipped" note.
    assert result.by_status(step)["ran"] == 1
    assert result.by_status("process") == {"ran": 2}
    for frame in (i for i in result.items if i.kind == "frame" and i.meta["type"] == "SCIENCE"):
        card = f"{step.upper()}COR"
        assert fits.getheader(frame.path("image"))[card] == master.name
    # The exposure is set aside for the rest of the run, with its reason.
    item = next(i for i in result.items if i.id == name)
    assert not item.ok and re.search(reason, item.failed)


def test_master_fails_naming_the_exposures_when_too_few_are_good(tmp_path):
    """Three flats, two of them NaN-only: one good flat is fewer than flat.min_frames=3."""
    bad = {
        "nan_a.fits": ("flat", np.full((NY, NX), np.nan)),
        "nan_b.fits": ("flat", np.full((NY, NX), np.nan)),
    }
    data_path = write_calibrated_night(tmp_path, n_flat=1, bad=bad)
    result = _run(data_path)
    (record,) = [r for r in result.records if r.step == "flat"]
    assert record.status == "failed"
    assert record.note == (
        "mflat_r_1_11: 1 usable exposure(s) of 3, fewer than flat.min_frames=3; set aside: "
        "nan_a.fits: no finite pixel (a NaN-filled frame); "
        "nan_b.fits: no finite pixel (a NaN-filled frame)"
    )
    notes = {r.note for r in result.records if r.step == "process"}
    assert notes == {"flat correction skipped (no master)"}

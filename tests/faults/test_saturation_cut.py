"""Issue 18, item 10 (part): the photometry's saturation cut was never passed in.

``measure_stack`` keeps stars peaking above 80% of the saturation level out of the PSF stars, but
the photometry step called it with the default (infinite) level. The process step now records the
flagged level (SATLEVEL, e-), the stack its level in e-/s above the sky for the shallowest frame,
and the photometry step passes that in.
"""

from __future__ import annotations

import numpy as np
import pytest
from astropy.io import fits
from astropy.table import Table

from potpyri.photometry.flags import FLAG_MASKED
from potpyri.photometry.measure import detect_and_measure
from potpyri.photometry.psf_stars import psf_stamp_half, select_psf_stars
from tests.faults.stack_field import simulated_stack

pytestmark = pytest.mark.fault("silent failures", item=10)


def _psf_stars(det, saturation: float) -> Table:
    chosen, _ = select_psf_stars(
        det.apphot[det.isolated],
        det.bad,
        det.fwhm,
        psf_stamp_half(det.fwhm),
        sn_min=3.0,
        sn_max=20.0,
        psf_sn_floor=10.0,
        min_psf_stars=25,
        max_psf_stars=150,
        saturation=saturation,
        notes=[],
    )
    return chosen


def test_stars_near_saturation_are_not_psf_stars():
    stack = simulated_stack(seed=1, density_r22=15)
    det = detect_and_measure(stack.sci, stack.err, stack.mask, sn_min=3, coverage=stack.coverage)
    free = _psf_stars(det, np.inf)
    level = float(np.median(free["peak"])) / 0.8  # the brighter half is in the non-linear range
    cut = _psf_stars(det, level)
    assert len(free) >= 6 and 3 <= len(cut) < len(free)
    assert (cut["peak"] < 0.8 * level).all()
    assert set(free["id"][free["peak"] >= 0.8 * level]).isdisjoint(cut["id"])


def test_the_configured_saturation_reaches_the_photometry(tmp_path):
    """A toycam night with instrument.saturation = 3150 ADU: the brightest star (peak ~2990 ADU
    above the overscan in the 20 s frames) is not masked, but it lies above 80% of the stack's
    saturation level, so it is no PSF star; two stars are left and the stack gets its flagged
    aperture catalog."""
    from potpyri.pipeline import run_pipeline, validate
    from tests.conftest import compose_config
    from tests.faults.ledger import watch
    from tests.framework.tiny import GAIN, SEARCHPATH, write_tiny_night

    data_path = tmp_path / "night"
    write_tiny_night(data_path, n_frames=3)
    watch(data_path)
    steps = (
        "pipeline.steps=[ingest,bias,dark,flat,process,cosmic_rays,satellites,fringe,skysub,"
        "resample_grid,resample,stack,photometry]"
    )
    cfg = compose_config(
        SEARCHPATH,
        "instrument=toycam",
        steps,
        f"data_path={data_path}",
        "instrument.saturation=3150",
    )
    validate(cfg)
    result = run_pipeline(cfg, recipe_yaml="data_path: x\n")
    frames = [i for i in result.items if i.kind == "frame" and i.meta.get("type") == "SCIENCE"]
    levels = []
    for frame in frames:
        header = fits.getheader(frame.path("image"))
        assert header["SATLEVEL"] == pytest.approx(3150 * GAIN)
        levels.append((header["SATLEVEL"] - header["SKYLEVEL"]) / header["EXPTIME"])
    (stack,) = (data_path / "red").glob("*.stk.fits")
    with fits.open(stack) as hdul:
        header = hdul[0].header
        apphot = Table(hdul["APPPHOT"].data)
        psfstars = Table(hdul["PSFSTARS"].data)
    assert header["SATLEVEL"] == pytest.approx(min(levels), rel=1e-4)
    brightest = apphot[np.argmax(apphot["peak"])]
    assert brightest["peak"] > 0.8 * header["SATLEVEL"]
    assert not brightest["flags"] & FLAG_MASKED  # not masked: the cut alone keeps it out
    assert header["PHOTWHY"] == "only 2 PSF star(s) pass the cuts down to S/N 3"
    assert brightest["id"] not in set(psfstars["id"])

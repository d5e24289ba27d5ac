"""Cosmic rays on a simulated GMOS-N night: injected hits found, clean sky and star cores left
alone."""

from __future__ import annotations

import numpy as np
from astropy.io import fits
from astropy.table import Table
from astropy.wcs import WCS

from potpyri.calibration.masks import COSMIC_RAY
from potpyri.pipeline import run_pipeline, validate
from potpyri.sim.night import simulate_night
from tests.conftest import compose_config


def test_cosmic_ray_detection_against_truth(tmp_path, measured):
    night = simulate_night("gmos-n", tmp_path, seed=32, frames=3, rejects=False)
    cfg = compose_config(
        "instrument=gmos",
        f"data_path={tmp_path}",
        "pipeline.steps=[ingest,bias,flat,process,cosmic_rays]",
    )
    validate(cfg)
    result = run_pipeline(cfg)
    stars = Table.read(night.truth_dir / "stars.ecsv")
    frames = Table.read(night.truth_dir / "frames.ecsv")
    injected = found = clean = false_flags = cores = cores_flagged = 0
    for item in result.items:
        if item.kind != "frame" or "image" not in item.files:
            continue
        row = frames[list(frames["file"]).index(item.id)]
        with fits.open(item.path("image")) as hdul:
            mask = hdul["MASK"].data
        truth = fits.getdata(night.truth_dir / "maps" / f"{item.id.split('.fits')[0]}_cr.fits.fz")
        usable = (mask & ~np.uint8(COSMIC_RAY | 8)) == 0  # not bad/saturated for other reasons
        hit = (truth & 1) > 0
        flagged = (mask & COSMIC_RAY) > 0
        injected += (hit & usable).sum()
        found += (hit & usable & flagged).sum()
        # Star cores: pixels within one FWHM of stars brighter than r = 21 (not saturated).
        wcs = WCS(fits.Header.fromstring(row["wcs"]))
        x, y = wcs.all_world2pix(stars["ra"], stars["dec"], 0)
        bright = (stars[f"mag_{row['band']}"] < 21) & (stars[f"mag_{row['band']}"] > 17)
        core = np.zeros(mask.shape, bool)
        yy, xx = np.mgrid[0 : mask.shape[0], 0 : mask.shape[1]]
        for xs, ys in zip(x[bright], y[bright], strict=True):
            if 0 <= xs < mask.shape[1] and 0 <= ys < mask.shape[0]:
                near = (
                    slice(max(int(ys) - 8, 0), int(ys) + 9),
                    slice(max(int(xs) - 8, 0), int(xs) + 9),
                )
                core[near] |= (xx[near] - xs) ** 2 + (yy[near] - ys) ** 2 <= row[
                    "seeing_fwhm_px"
                ] ** 2
        cores += (core & usable & ~hit).sum()
        cores_flagged += (core & usable & ~hit & flagged).sum()
        clean_pixels = usable & ~hit & ~core
        clean += clean_pixels.sum()
        false_flags += (clean_pixels & flagged).sum()
    recall, false_rate = found / injected, false_flags / clean
    measured(
        f"cosmic rays: {found}/{injected} injected pixels flagged ({recall:.1%}); "
        f"{false_flags}/{clean} clean pixels flagged ({false_rate:.4%}); "
        f"star-core pixels flagged: {cores_flagged}/{cores}"
    )
    assert injected > 100
    # The parameters were chosen on another night (seed 31); the bound lies below the spread of
    # recall over nights of the physical-PSF simulator (CHANGES.rst, issue 19).
    assert recall >= 0.94
    assert false_rate <= 1e-3
    assert cores_flagged == 0

"""Satellite trails on a simulated GMOS-N night: the one injected trail is masked, nothing else
is."""

from __future__ import annotations

import numpy as np
from astropy.io import fits
from astropy.table import Table

from potpyri.calibration.masks import BAD
from potpyri.pipeline import run_pipeline, validate
from potpyri.sim.night import simulate_night
from potpyri.sim.scene import trail_image
from tests.conftest import compose_config


def test_the_injected_trail_is_masked_and_only_it(tmp_path):
    night = simulate_night("gmos-n", tmp_path, seed=41, frames=3, rejects=False)
    cfg = compose_config(
        "instrument=gmos",
        f"data_path={tmp_path}",
        "pipeline.steps=[ingest,bias,flat,process,cosmic_rays,satellites]",
    )
    validate(cfg)
    result = run_pipeline(cfg)
    frames = Table.read(night.truth_dir / "frames.ecsv")
    trails = 0
    for item in result.items:
        if item.kind != "frame" or "image" not in item.files:
            continue
        row = frames[list(frames["file"]).index(item.id)]
        with fits.open(item.path("image")) as hdul:
            mask, found = hdul["MASK"].data, hdul[0].header["NTRAILS"]
        if row["trail"] == "none":
            assert found == 0, item.id
            continue
        trails += 1
        x0, y0, angle, width, rate = (float(v) for v in row["trail"].split(","))
        light = trail_image(mask.shape, x0, y0, angle, width, rate * row["exptime"] / 100.0)
        noise = np.sqrt(row["sky_e_s"] * row["exptime"])
        visible = light > noise  # where the trail adds at least one sky sigma
        assert found == 1 and visible.sum() > 500
        assert ((mask[visible] & BAD) > 0).mean() > 0.95
        assert ((mask & BAD) > 0).mean() < 0.05  # the mask is a band, not a blanket
    assert trails == 1

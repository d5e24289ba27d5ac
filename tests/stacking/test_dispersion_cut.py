"""The reference's astrometric cut, applied where a target's frames first meet (resample_grid):
a frame whose RADISP/DEDISP stands far above its siblings' is left out, unless keep_all_astro."""

from __future__ import annotations

import logging

import numpy as np
import pytest
from astropy.io import fits
from astropy.wcs import WCS
from potpyri.steps.resample import Resample, ResampleGrid

from potpyri.framework.step import Item, StepContext, StepFailed, Task
from tests.conftest import compose_config

RADISP = {"f1.fits": 0.010, "f2.fits": 0.012, "f3.fits": 0.011, "f4.fits": 0.500}  # arcsec


def _frames(folder) -> list[Item]:
    wcs = WCS(naxis=2)
    wcs.wcs.ctype = ["RA---TAN", "DEC--TAN"]
    wcs.wcs.crval, wcs.wcs.crpix = [150.0, 2.0], [32.5, 32.5]
    wcs.wcs.cdelt = [-0.1606 / 3600, 0.1606 / 3600]
    items = []
    for name, dispersion in RADISP.items():
        primary = fits.PrimaryHDU(header=fits.Header({"RADISP": dispersion, "DEDISP": 0.011}))
        hdus = [primary] + [
            fits.ImageHDU(np.zeros((64, 64), dtype), wcs.to_header(), name=ext)
            for ext, dtype in (("SCI", np.float32), ("MASK", np.uint8), ("UNCERT", np.float32))
        ]
        fits.HDUList(hdus).writeto(folder / name)
        meta = {
            "targtype": "x_r_12_22",
            "target": "x",
            "filter": "r",
            "amp": "12",
            "binning": "22",
            "time": "60480.1",
        }
        items.append(Item(name, "frame", meta, {"image": str(folder / name)}))
    return items


def _grid(tmp_path, *overrides):
    cfg = compose_config("instrument=gmos", f"data_path={tmp_path}", *overrides)
    context = StepContext(
        cfg=cfg, instrument=cfg.instrument, data_path=tmp_path, log=logging.getLogger("test")
    )
    frames = _frames(tmp_path)
    (grid,) = ResampleGrid(ResampleGrid.Config(), context).run(Task("x_r_12_22", frames))
    return context, frames, grid


def test_a_frame_far_above_its_siblings_dispersion_is_dropped(tmp_path, caplog):
    with caplog.at_level(logging.WARNING, logger="test"):
        context, frames, grid = _grid(tmp_path)
    assert list(grid.meta["rejected"]) == ["f4.fits"]
    assert grid.meta["frames"] == ["f1.fits", "f2.fits", "f3.fits"]
    assert "f4.fits: RADISP 0.500\" beyond the target's cut" in caplog.text
    # resample sets the frame aside with that reason; its siblings go on.
    grid_item = Item(grid.id, "grid", grid.meta, {"grid": str(tmp_path / "grid.fits")})
    fits.HDUList([fits.PrimaryHDU(header=grid.products["grid"].content[0].header)]).writeto(
        tmp_path / "grid.fits"
    )
    step = Resample(Resample.Config(), context)
    with pytest.raises(StepFailed, match="RADISP 0.500"):
        step.run(Task("f4.fits", [frames[3]], [grid_item]))
    assert step.run(Task("f1.fits", [frames[0]], [grid_item]))[0].id == "f1.fits"


def test_keep_all_astro_keeps_it(tmp_path):
    _, _, grid = _grid(tmp_path, "align.keep_all_astro=true")
    assert grid.meta["rejected"] == {} and len(grid.meta["frames"]) == 4


def test_small_spreads_drop_nothing(tmp_path):
    """Excellent solutions with a tiny spread: the floor (0.1 px) keeps a 0.05 px frame."""
    RADISP["f4.fits"] = 0.008  # 0.05 px at 0.16"/px
    try:
        _, _, grid = _grid(tmp_path)
    finally:
        RADISP["f4.fits"] = 0.500
    assert grid.meta["rejected"] == {}

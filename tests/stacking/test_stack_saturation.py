"""A stack pixel where any input frame was saturated is flagged SATURATED (its value is the
combination of the other frames only, biased for a star core seen best in the saturated frame)."""

from __future__ import annotations

import logging

import numpy as np
from astropy.io import fits
from potpyri.steps.stack import Stack

from potpyri.calibration.masks import BAD, COSMIC_RAY, SATURATED
from potpyri.framework.step import Item, StepContext, Task
from potpyri.stacking.combine import CombineMethod


def test_saturation_in_any_input_is_kept_in_the_stack_mask(tmp_path):
    shape = (12, 10)
    masks = [np.zeros(shape, np.uint8) for _ in range(3)]
    masks[0][3, 4] = SATURATED  # saturated in one frame: the other two still give a value
    masks[1][7, 2] = COSMIC_RAY  # other bits leave the output unflagged where frames remain
    for m in masks:
        m[10, 8] = BAD  # no frame at all
    items = []
    for k, mask in enumerate(masks):
        path = tmp_path / f"f{k}_reproj.fits"
        fits.HDUList(
            [
                fits.PrimaryHDU(header=fits.Header({"EXPTIME": 10.0})),
                fits.ImageHDU(np.full(shape, 100.0 + k, np.float32), name="SCI"),
                fits.ImageHDU(mask, name="MASK"),
                fits.ImageHDU(np.full(shape, 5.0, np.float32), name="UNCERT"),
            ]
        ).writeto(path)
        meta = {
            "exp": 10.0,
            "target": "t",
            "filter": "K",
            "amp": "1",
            "binning": "11",
            "time": "60480",
        }
        items.append(Item(path.name, "frame", meta, {"image": str(path)}))
    context = StepContext(
        cfg=None, instrument=None, data_path=tmp_path, log=logging.getLogger("test")
    )
    for method in (CombineMethod.median, CombineMethod.mean):
        (out,) = Stack(Stack.Config(method=method, memory_mb=0.001), context).run(Task("t", items))
        hdul = out.products["stack"].content
        mask, sci = hdul["MASK"].data, hdul["SCI"].data
        assert mask[3, 4] == SATURATED and np.isclose(
            sci[3, 4], 10.15
        )  # frames 1 and 2: (101 + 102) / 2 / 10
        assert mask[7, 2] == 0 and mask[10, 8] == BAD
        assert np.count_nonzero(mask) == 2


def test_coverage_counts_the_frames_combined_in_each_pixel(tmp_path):
    """COVERAGE: how many frames each stack pixel combines (dither edges, chip gaps, rejections)."""
    shape = (8, 6)
    items = []
    for k in range(3):
        mask = np.zeros(shape, np.uint8)
        mask[:, : 2 * k] = BAD  # frame k misses the first 2k columns
        path = tmp_path / f"c{k}_reproj.fits"
        fits.HDUList(
            [
                fits.PrimaryHDU(),
                fits.ImageHDU(np.ones(shape, np.float32), name="SCI"),
                fits.ImageHDU(mask, name="MASK"),
                fits.ImageHDU(np.ones(shape, np.float32), name="UNCERT"),
            ]
        ).writeto(path)
        items.append(Item(path.name, "frame", {"exp": 1.0}, {"image": str(path)}))
    context = StepContext(
        cfg=None, instrument=None, data_path=tmp_path, log=logging.getLogger("test")
    )
    (out,) = Stack(Stack.Config(memory_mb=0.001), context).run(Task("t", items))
    coverage = out.products["stack"].content["COVERAGE"].data
    assert coverage.dtype == np.int16
    assert (
        (coverage[:, :2] == 1).all()
        and (coverage[:, 2:4] == 2).all()
        and (coverage[:, 4:] == 3).all()
    )

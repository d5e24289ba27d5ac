"""The combination and the stack step: noise against the input uncertainties, masked pixels,
clipping, the median's efficiency, row-block independence and the memory of a block."""

from __future__ import annotations

import logging
import tracemalloc
from pathlib import Path

import numpy as np
import pytest
from astropy.io import fits
from potpyri.steps.stack import Stack

from potpyri.framework.step import Item, StepContext, Task
from potpyri.stacking.combine import (
    BYTES_PER_ELEMENT,
    CombineMethod,
    combine_block,
    median_variance_ratio,
)

SHAPE = (200, 240)


def _frames(n: int, rng: np.random.Generator, *, exptimes=None):
    """n frames of a constant 2 e-/s scene with Poisson-like noise, in electrons, and their
    errors."""
    exptimes = np.asarray(
        exptimes if exptimes is not None else [60.0 * (1 + k % 3) for k in range(n)], np.float32
    )
    rate = 2.0 + np.zeros(SHAPE, np.float32)
    sky = 5.0  # e-/s
    truth = rate[None] * exptimes[:, None, None]
    error = np.sqrt((rate + sky)[None] * exptimes[:, None, None] + 16.0).astype(np.float32)
    data = (truth + rng.standard_normal((n, *SHAPE), np.float32) * error).astype(np.float32)
    return data, error, exptimes, rate


def _corrupt(data: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Cosmic rays, a satellite trail and bad columns, all flagged: the valid array."""
    valid = np.ones(data.shape, bool)
    for k in range(data.shape[0]):
        hits = rng.integers(0, SHAPE, (300, 2))
        data[k, hits[:, 0], hits[:, 1]] += rng.uniform(500, 50000, 300)
        valid[k, hits[:, 0], hits[:, 1]] = False
        column = (17 * k + 5) % SHAPE[1]
        data[k, :, column] = 1e5
        valid[k, :, column] = False
    yy, xx = np.mgrid[0 : SHAPE[0], 0 : SHAPE[1]]
    trail = np.abs(yy - 0.6 * xx - 20) < 2.5
    data[0][trail] += 3000.0
    valid[0][trail] = False
    return valid


@pytest.mark.parametrize("method", ["mean", "sigclip", "median"])
def test_noise_matches_input_uncertainties_and_masked_pixels_leave_nothing(method):
    rng = np.random.default_rng(5)
    data, error, exptimes, rate = _frames(9, rng)
    valid = _corrupt(data, rng)
    scale = (1.0 / exptimes)[:, None, None]
    value, uncertainty, n_used = combine_block(data * scale, error * scale, valid.copy(), method)
    pull = (value - rate) / uncertainty
    assert n_used.min() >= 4 and n_used.max() == 9
    # The sky noise the uncertainties predict, within 5 % (measured: mean 0.994, sigclip 1.014,
    # median 1.026).
    assert abs(pull.std() - 1.0) < 0.05, pull.std()
    assert abs(pull.mean()) < 0.05
    assert np.abs(pull).max() < 5.5  # 48 000 pixels: a 5σ Gaussian tail is ~0.03 pixels
    touched = (~valid).any(axis=0)  # every pixel a CR, the trail or a bad column hit in some frame
    assert touched.mean() > 0.1 and np.abs(pull[touched]).max() < 5.0


def test_sigclip_rejects_unflagged_outliers_and_keeps_star_cores():
    rng = np.random.default_rng(6)
    data, error, exptimes, rate = _frames(7, rng, exptimes=[100.0] * 7)
    valid = np.ones(data.shape, bool)
    data[2, 50, 60] += 2000.0  # an unflagged cosmic ray
    # A star whose peak differs by ±25 % between frames (seeing): far beyond its noise.
    peak = 1e5 * (1 + 0.25 * np.linspace(-1, 1, 7)).astype(np.float32)
    data[:, 120, 120] += peak
    scale = np.float32(1 / 100.0)
    clipped, _, n_clip = combine_block(
        data * scale, error * scale, valid.copy(), "sigclip", clip_frac=0.3
    )
    plain, _, _ = combine_block(data * scale, error * scale, valid.copy(), "mean")
    assert abs(clipped[50, 60] - rate[50, 60]) < 0.2 < abs(plain[50, 60] - rate[50, 60])
    assert n_clip[50, 60] == 6 and n_clip[120, 120] == 7  # the core survives with clip_frac
    _, _, n_strict = combine_block(
        data * scale, error * scale, valid.copy(), "sigclip", clip_frac=0.0
    )
    assert n_strict[120, 120] < 7  # without it, error-only clipping eats the core


def test_sigclip_equals_a_plain_iterative_implementation():
    rng = np.random.default_rng(7)
    data, error, _, _ = _frames(8, rng, exptimes=[50.0] * 8)
    data[rng.random(data.shape) < 0.02] += 400.0
    valid = rng.random(data.shape) > 0.05
    got, _, n_got = combine_block(
        data, error, valid.copy(), "sigclip", sigma=2.5, maxiters=4, clip_frac=0.1
    )
    keep = valid.copy()
    for _ in range(4):
        center = np.nanmedian(np.where(keep, data, np.nan), axis=0)
        new = keep & ((data - center) ** 2 <= 2.5**2 * (error**2 + (0.1 * center) ** 2))
        if np.array_equal(new, keep):
            break
        keep = new
    weight = np.where(keep, 1 / error.astype(np.float64) ** 2, 0)
    expected = (weight * np.where(keep, data, 0)).sum(0) / weight.sum(0)
    assert np.array_equal(n_got, keep.sum(0))
    np.testing.assert_allclose(got, expected, rtol=1e-5)


@pytest.mark.parametrize("n", [3, 4, 5, 9, 30])
def test_median_uncertainty_is_the_median_scatter(n):
    rng = np.random.default_rng(n)
    data = rng.standard_normal((n, 200, 500)).astype(np.float32)
    value, uncertainty, _ = combine_block(
        data, np.ones_like(data), np.ones(data.shape, bool), "median"
    )
    assert abs(value.std() / np.median(uncertainty) - 1) < 0.02, (
        n,
        value.std(),
        median_variance_ratio(n),
    )


def test_block_working_memory_is_within_the_budget():
    """Peak numpy allocations of one block stay below BYTES_PER_ELEMENT per input pixel (the inputs
    included), which row_blocks uses to size blocks from stack.memory_mb."""
    rng = np.random.default_rng(8)
    for method in ("median", "mean", "sigclip"):
        data, error, _, _ = _frames(12, rng, exptimes=[60.0] * 12)
        data[rng.random(data.shape) < 0.01] += 1000.0
        tracemalloc.start()
        tracemalloc.reset_peak()
        base = tracemalloc.get_traced_memory()[0]
        valid = np.ones(data.shape, bool)
        combine_block(data, error, valid, method)
        peak = tracemalloc.get_traced_memory()[1] - base
        tracemalloc.stop()
        per_element = (peak + data.nbytes + error.nbytes) / data.size
        assert per_element < BYTES_PER_ELEMENT, (method, per_element)


def _write(folder: Path, data, error, valid, exptimes) -> list[Item]:
    items = []
    for k in range(data.shape[0]):
        path = folder / f"f{k}_reproj.fits"
        fits.HDUList(
            [
                fits.PrimaryHDU(header=fits.Header({"EXPTIME": float(exptimes[k])})),
                fits.ImageHDU(data[k], name="SCI"),
                fits.ImageHDU((~valid[k]).astype(np.uint8) * 2, name="MASK"),
                fits.ImageHDU(error[k], name="UNCERT"),
            ]
        ).writeto(path)
        meta = {
            "exp": float(exptimes[k]),
            "target": "t",
            "filter": "r",
            "amp": "1",
            "binning": "11",
            "time": "60480",
        }
        items.append(Item(path.name, "frame", meta, {"image": str(path)}))
    return items


def test_stack_step_is_independent_of_the_row_blocks(tmp_path):
    rng = np.random.default_rng(9)
    data, error, exptimes, rate = _frames(5, rng)
    valid = _corrupt(data, rng)
    items = _write(tmp_path, data, error, valid, exptimes)
    context = StepContext(
        cfg=None, instrument=None, data_path=tmp_path, log=logging.getLogger("test")
    )
    results = []
    for memory_mb in (0.05, 1000.0):  # 1 row a block vs the largest blocks the step allows
        step = Stack(Stack.Config(method=CombineMethod.sigclip, memory_mb=memory_mb), context)
        (out,) = step.run(Task("t", items))
        hdul = out.products["stack"].content
        results.append([hdul[name].data.copy() for name in ("SCI", "MASK", "ERR")])
        assert (
            hdul[0].header["EXPTIME"] == float(exptimes.sum()) and hdul[0].header["NCOMBINE"] == 5
        )
        assert (
            hdul[0].header["IMCMB005"] == "f4_reproj.fits"
            and hdul[0].header["BUNIT"] == "electron/s"
        )
    for a, b in zip(*results, strict=True):
        np.testing.assert_array_equal(a, b)
    sci, _, err = results[0]
    assert abs(((sci - rate) / err).std() - 1) < 0.05


def test_frames_on_different_grids_are_flagged(tmp_path):
    rng = np.random.default_rng(10)
    data, error, exptimes, _ = _frames(2, rng)
    items = _write(tmp_path, data, error, np.ones(data.shape, bool), exptimes)
    context = StepContext(
        cfg=None, instrument=None, data_path=tmp_path, log=logging.getLogger("test")
    )

    def stack_warnings(shift_px: float) -> list[str]:
        for k, item in enumerate(items):
            with fits.open(item.path("image"), mode="update") as hdul:
                for hdu in hdul[1:]:
                    hdu.header.update(
                        {
                            "CTYPE1": "RA---TAN",
                            "CTYPE2": "DEC--TAN",
                            "CRVAL1": 150.0,
                            "CRVAL2": 2.0,
                            "CRPIX1": 100.0 + k * shift_px,
                            "CRPIX2": 90.0,
                            "CD1_1": -0.2 / 3600,
                            "CD2_2": 0.2 / 3600,
                        }
                    )
        (out,) = Stack(Stack.Config(), context).run(Task("t", items))
        return out.meta["warnings"]

    assert stack_warnings(0.0) == []
    (warning,) = stack_warnings(3.0)
    assert (
        "not on one pixel grid" in warning and "3.00 px" in warning and "f1_reproj.fits" in warning
    )

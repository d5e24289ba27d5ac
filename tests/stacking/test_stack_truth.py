"""A simulated GMOS-N night reduced to calibrated, sky-subtracted frames, given the TRUE WCS of
every exposure (what ``align`` is to deliver), then resample_grid -> resample -> stack, checked
against the truth: sky noise against the propagated uncertainty, residuals where inputs were
masked, and the PSF of the stack against its inputs' (alignment must not blur).

Slow (~1 min: the night's reduction dominates); run with ``-m slow``.
"""

from __future__ import annotations

import logging
import warnings
from dataclasses import replace

import numpy as np
import pytest
from astropy.io import fits
from astropy.stats import sigma_clipped_stats
from astropy.table import Table
from omegaconf import OmegaConf
from photutils.psf import fit_fwhm

from potpyri.astrometry.wcsio import header_wcs
from potpyri.files import write_content
from potpyri.framework.step import STEPS, Item, StepContext, Task
from potpyri.pipeline import run_pipeline, validate
from potpyri.sim.night import simulate_night
from potpyri.sim.psf import FieldPsf, PsfParams
from potpyri.sim.scene import render_sources
from potpyri.stacking.resample import Grid, resample_frame
from tests.conftest import compose_config

pytestmark = pytest.mark.slow
WCS_PREFIXES = (
    "CRPIX",
    "CRVAL",
    "CDELT",
    "CD1_",
    "CD2_",
    "PC1_",
    "PC2_",
    "CTYPE",
    "CUNIT",
    "A_",
    "B_",
    "AP_",
    "BP_",
)


@pytest.fixture(scope="module")
def reduced(tmp_path_factory):
    folder = tmp_path_factory.mktemp("gmos_truth")
    night = simulate_night("gmos-n", folder, seed=3, frames=3, bands=["r"])
    cfg = compose_config(
        "instrument=gmos",
        f"data_path={folder}",
        "catalog.offline=true",
        "pipeline.steps=[ingest,bias,dark,flat,process,cosmic_rays,satellites,skysub]",
    )
    validate(cfg)
    result = run_pipeline(cfg)
    truth = {r["file"]: fits.Header.fromstring(str(r["wcs"])) for r in night.frames}
    items = []
    for item in sorted(result.items, key=lambda i: i.id):
        if (
            item.kind != "frame"
            or item.meta.get("type") != "SCIENCE"
            or not item.ok
            or item.meta.get("excluded")
        ):
            continue
        with fits.open(item.path("image")) as hdul:
            hdul = fits.HDUList([h.copy() for h in hdul])
        cards = header_wcs(truth[item.id], celestial=False).to_header(relax=True)
        for hdu in hdul[1:]:
            for key in [k for k in hdu.header if k.startswith(WCS_PREFIXES)]:
                hdu.header.remove(key, ignore_missing=True, remove_all=True)
            hdu.header.update(cards)
        path = folder / "truewcs" / item.path("image").name
        path.parent.mkdir(exist_ok=True)
        write_content(hdul, path)
        items.append(Item(item.id, "frame", dict(item.meta), {"image": str(path)}))
    assert len(items) == 3
    return night, cfg, items


def _run(name: str, cfg, task: Task, folder) -> list[Item]:
    context = StepContext(
        cfg=cfg, instrument=cfg.instrument, data_path=folder, log=logging.getLogger("test")
    )
    step = STEPS[name](OmegaConf.to_object(cfg[name]), context)
    made = []
    for out in step.run(task):
        files = {}
        for role, product in out.products.items():
            write_content(product.content, folder / product.filename)
            files[role] = str(folder / product.filename)
        made.append(Item(out.id, out.kind, out.meta, files))
    return made


@pytest.fixture(scope="module", params=["mean", "median", "sigclip"])
def stacked(request, reduced, tmp_path_factory):
    night, cfg, frames = reduced
    cfg = cfg.copy()
    cfg.stack.method = request.param
    folder = tmp_path_factory.mktemp(f"stack_{request.param}")
    targtype = frames[0].meta["targtype"]
    (grid,) = _run("resample_grid", cfg, Task(targtype, frames), folder)
    resampled = [_run("resample", cfg, Task(f.id, [f], [grid]), folder)[0] for f in frames]
    (stack,) = _run("stack", cfg, Task(targtype, resampled), folder)
    return request.param, night, frames, resampled, stack


def _truth_rate(night, frames, wcs, shape) -> np.ndarray:
    """Sources in e-/s on the stack grid: the mean over the exposures of each one's PSF."""
    rows = {r["file"]: r for r in night.frames}
    stars = Table.read(night.truth_dir / "stars.ecsv")
    scale = float(np.sqrt(abs(np.linalg.det(wcs.pixel_scale_matrix)))) * 3600
    rate = np.zeros(shape)
    for frame in frames:
        row = rows[frame.id]
        frame_scale = (
            float(
                np.sqrt(
                    abs(
                        np.linalg.det(
                            header_wcs(
                                fits.Header.fromstring(str(row["wcs"])), celestial=False
                            ).pixel_scale_matrix
                        )
                    )
                )
            )
            * 3600
        )
        k = frame_scale / scale
        # Interpolation keeps values per input pixel: render with the PSF in output pixels and
        # the flux of an input pixel's area.
        # The frame's own PSF (in arcsec) drawn at the grid's pixels; its field variation is
        # placed on the grid, which the dithers move by a few per cent of the field at most.
        params = replace(PsfParams.from_json(str(row["psf"])), pixscale=scale)
        psf = None if params.model == "moffat" else FieldPsf(params, shape)
        rate += render_sources(
            shape,
            wcs,
            stars,
            str(row["band"]),
            10 ** (0.4 * float(row["zeropoint"])) * k**2,
            float(row["seeing_fwhm_px"]) * k,
            scale,
            psf,
        )[0]
    return rate / len(frames)


def test_sky_noise_matches_the_propagated_uncertainty(stacked, measured):
    method, night, frames, _, stack = stacked
    with fits.open(stack.path("stack")) as hdul:
        sci, mask, err = hdul["SCI"].data, hdul["MASK"].data, hdul["ERR"].data
        truth = _truth_rate(
            night, frames, header_wcs(hdul["SCI"].header, celestial=False), sci.shape
        )
    sky = (mask == 0) & (truth < 0.3 * err)
    assert sky.mean() > 0.8
    _, _, pull_std = sigma_clipped_stats(((sci - truth) / err)[sky], sigma=5)
    _, _, noise = sigma_clipped_stats(sci[sky], sigma=5)
    predicted = float(np.sqrt(np.mean(err[sky] ** 2)))
    measured(f"{method}: pull sigma {pull_std:.3f}, noise / predicted {noise / predicted:.3f}")
    assert abs(pull_std - 1) < 0.05, (method, pull_std)
    assert abs(noise / predicted - 1) < 0.05, (method, noise, predicted)


def test_masked_pixels_leave_no_residual(stacked, tmp_path):
    """Masked input pixels (cosmic rays, the satellite trail, bad pixels, chip gaps) cannot reach
    the stack: set their values to 1e6 in every input and the stack does not change at all. And
    the stack, against the truth, shows no positive residual above 5σ where any input was masked,
    except where another frame holds a true cosmic ray the cosmic_rays step missed (an upstream
    miss, required to be rare)."""
    method, night, frames, resampled, stack = stacked
    poisoned = []
    for frame in frames:
        with fits.open(frame.path("image")) as hdul:
            hdul = fits.HDUList([h.copy() for h in hdul])
        hdul["SCI"].data = np.where(hdul["MASK"].data != 0, np.float32(1e6), hdul["SCI"].data)
        path = tmp_path / frame.path("image").name
        write_content(hdul, path)
        poisoned.append(Item(frame.id, "frame", frame.meta, {"image": str(path)}))
    cfg = compose_config("instrument=gmos", f"stack.method={method}", "data_path=.")
    (grid,) = _run("resample_grid", cfg, Task("t", poisoned), tmp_path)
    again = [_run("resample", cfg, Task(f.id, [f], [grid]), tmp_path)[0] for f in poisoned]
    (restack,) = _run("stack", cfg, Task("t", again), tmp_path)
    with fits.open(stack.path("stack")) as hdul, fits.open(restack.path("stack")) as other:
        sci, mask, err = hdul["SCI"].data, hdul["MASK"].data, hdul["ERR"].data
        wcs = header_wcs(hdul["SCI"].header, celestial=False)
        good = mask == 0
        np.testing.assert_array_equal(other["MASK"].data, mask)
        np.testing.assert_allclose(other["SCI"].data[good], sci[good], rtol=1e-5, atol=1e-6)

    truth = _truth_rate(night, frames, wcs, sci.shape)
    pull = (sci - truth) / err
    grid = Grid(wcs, sci.shape)
    masked_somewhere = np.zeros(sci.shape, bool)
    missed_cr = np.zeros(sci.shape, bool)
    for frame, out in zip(frames, resampled, strict=True):
        with fits.open(frame.path("image")) as hdul:
            in_mask = hdul["MASK"].data
            in_wcs = header_wcs(hdul["SCI"].header, celestial=False)
        true_cr = (
            fits.getdata(night.truth_dir / "maps" / f"{frame.id.split('.fits')[0]}_cr.fits.fz") & 1
        )
        missed = ((true_cr > 0) & (in_mask == 0)).astype(np.uint8) * 2
        ones = np.ones(in_mask.shape, np.float32)
        _, footprint, _ = resample_frame(ones, missed, ones, in_wcs, grid, order=1)
        missed_cr |= (footprint & 2) > 0
        out_mask = fits.getdata(out.path("image"), "MASK")
        _, off_frame, _ = resample_frame(ones, in_mask * 0, ones, in_wcs, grid, order=1)
        masked_somewhere |= (out_mask != 0) & (off_frame == 0)
    faint = good & (truth < 3 * err)  # star cores are left to the PSF test
    hit = masked_somewhere & faint
    assert hit.sum() > 5000
    clean = hit & ~missed_cr
    # Measured (seed 3): 114 661 such pixels, largest pull +4.42 (every method); one at -5.46 is a
    # deficit present in both unmasked inputs there (-3.7 and -3.3σ), not in the masked one.
    assert pull[clean].max() < 5.0, (method, float(pull[clean].max()))
    assert (np.abs(pull[clean]) > 5).sum() <= 3
    assert (pull[hit & missed_cr] > 5).sum() < 50


def _fwhm(sci, mask, wcs, stars, band, low, high) -> float:
    x, y = wcs.all_world2pix(np.asarray(stars["ra"]), np.asarray(stars["dec"]), 0)
    mag = np.asarray(stars[f"mag_{band}"])
    ny, nx = sci.shape
    positions = []
    for k in np.flatnonzero(np.isfinite(x) & (x > 10) & (x < nx - 11) & (y > 10) & (y < ny - 11)):
        if stars["is_galaxy"][k]:
            continue
        near = np.hypot(x - x[k], y - y[k])
        if ((near > 0) & (near < 12) & (mag < mag[k] + 3)).any():
            continue
        iy, ix = int(round(y[k])), int(round(x[k]))
        if mask[iy - 7 : iy + 8, ix - 7 : ix + 8].any() or not low < sci[iy, ix] < high:
            continue
        positions.append((x[k], y[k]))
    assert len(positions) >= 10
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return float(np.median(fit_fwhm(np.nan_to_num(sci), xypos=positions, fit_shape=9)))


def test_stack_psf_is_not_broader_than_its_inputs(stacked, measured):
    method, night, frames, _, stack = stacked
    stars = Table.read(night.truth_dir / "stars.ecsv")

    def fwhm_of(path, scale=None):
        with fits.open(path) as hdul:
            sci = hdul["SCI"].data if scale is None else hdul["SCI"].data * scale(hdul[0].header)
            wcs = header_wcs(hdul["SCI"].header, celestial=False)
            return _fwhm(sci, hdul["MASK"].data, wcs, stars, "r", 3e3, 1e5)

    widths = [fwhm_of(frame.path("image")) for frame in frames]
    width = fwhm_of(stack.path("stack"), lambda header: header["EXPTIME"] / header["NCOMBINE"])
    # Bilinear resampling (resample.order=1) broadens it by ~10 %: the cubic spline is the default.
    measured(
        f"{method}: stack {width:.3f} px, inputs {', '.join(f'{w:.3f}' for w in widths)} px, "
        f"ratio {width / np.mean(widths):.3f}"
    )
    assert width <= 1.05 * np.mean(widths), (method, width, widths)

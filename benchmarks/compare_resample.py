"""The resample step's interpolation against ``reproject.reproject_interp``: time and accuracy.

Two entry points:

* :func:`compare_resample` (called by ``benchmarks/run.py`` with a reduced night's frames): for up
  to ``max_frames`` frames, the time of :func:`potpyri.stacking.resample.resample_frame` (SCI,
  MASK and UNCERT together; cubic spline and bilinear) and of ``reproject_interp`` (SCI only,
  bilinear, its defaults, as the reference pipeline calls it) onto the same grid, and how far
  apart their images are. The grid is the frames' union grid turned by ``rotate_deg`` so that the
  mapping is never trivial, even for frames that are already on a common grid.
* :func:`truth_comparison` (run by this script): a noise-free frame rendered by the simulator
  through a TAN-SIP WCS (~1.5 px distortion at the corners), resampled by both, each compared
  with the same sources rendered directly on the output grid (the truth). Interpolation error is
  the RMS of the difference over pixels both cover (edges excluded).

``python benchmarks/compare_resample.py --size 4096`` prints both as JSON.
"""

from __future__ import annotations

import argparse
import json
import time
import warnings
from pathlib import Path

import numpy as np
from astropy.io import fits

from potpyri.astrometry.wcsio import header_wcs
from potpyri.stacking.resample import Grid, grid_for_frames, resample_frame, tan_wcs

__all__ = ["compare_resample", "truth_comparison"]


def _turned(grid: Grid, rotate_deg: float, shift_arcsec: tuple[float, float] = (5.0, 3.0)) -> Grid:
    """The grid rotated about its centre and shifted (a realistic, non-trivial output frame)."""
    wcs = grid.wcs.deepcopy()
    angle = np.deg2rad(rotate_deg)
    rotation = np.array([[np.cos(angle), -np.sin(angle)], [np.sin(angle), np.cos(angle)]])
    wcs.wcs.cd = rotation @ wcs.wcs.cd
    wcs.wcs.crval = wcs.wcs.crval + np.array(shift_arcsec) / 3600 / np.array(
        [np.cos(np.deg2rad(wcs.wcs.crval[1])), 1]
    )
    wcs.wcs.set()
    return Grid(wcs, grid.shape)


def _reproject(sci: np.ndarray, wcs, grid: Grid) -> tuple[np.ndarray, float]:
    from reproject import reproject_interp

    start, cpu = time.perf_counter(), time.process_time()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        image, _ = reproject_interp((sci, wcs), grid.wcs, shape_out=grid.shape)
    return image, time.perf_counter() - start, time.process_time() - cpu


def compare_resample(frames: list[Path], *, max_frames: int = 3, rotate_deg: float = 0.7) -> dict:
    """Time potpyri's resampling and ``reproject_interp`` on the same frames and grid.

    Parameters
    ----------
    frames : list of Path
        Frame files with SCI, MASK, UNCERT (or ERR) and a celestial WCS in the SCI header.
    max_frames : int
        Frames timed (the first ones).
    rotate_deg : float
        Rotation of the output grid relative to the frames' union grid.

    Returns
    -------
    dict
        Per method the total seconds, the speed-up over reproject, and the RMS difference of
        potpyri's images from reproject's (in units of the median UNCERT) where both have data.
    """
    frames = [Path(f) for f in frames][:max_frames]
    loaded = []
    for path in frames:
        with fits.open(path) as hdul:
            err = "UNCERT" if "UNCERT" in hdul else "ERR"
            loaded.append(
                (
                    hdul["SCI"].data.astype(np.float32),
                    hdul["MASK"].data.copy(),
                    hdul[err].data.astype(np.float32),
                    header_wcs(hdul["SCI"].header),
                )
            )
    scale = float(np.sqrt(abs(np.linalg.det(loaded[0][3].pixel_scale_matrix))) * 3600)
    grid, _ = grid_for_frames([f[3] for f in loaded], [f[0].shape for f in loaded], scale)
    grid = _turned(grid, rotate_deg)
    report: dict = {
        "frames": len(loaded),
        "shape_in": list(loaded[0][0].shape),
        "grid": list(grid.shape),
    }
    times = {"potpyri_cubic": 0.0, "potpyri_bilinear": 0.0, "reproject_interp": 0.0}
    cpu = dict.fromkeys(times, 0.0)
    diffs = {"potpyri_cubic": [], "potpyri_bilinear": []}
    for sci, mask, err, wcs in loaded:
        theirs, seconds, cpu_seconds = _reproject(sci, wcs, grid)
        times["reproject_interp"] += seconds
        cpu["reproject_interp"] += cpu_seconds
        for name, order in (("potpyri_cubic", 3), ("potpyri_bilinear", 1)):
            start, cpu_start = time.perf_counter(), time.process_time()
            ours, out_mask, _ = resample_frame(sci, mask, err, wcs, grid, order=order)
            times[name] += time.perf_counter() - start
            cpu[name] += time.process_time() - cpu_start
            both = (out_mask == 0) & np.isfinite(theirs)
            noise = float(np.median(err[mask == 0])) or 1.0
            diffs[name].append(float(np.sqrt(np.mean((ours[both] - theirs[both]) ** 2))) / noise)
    for name, seconds in times.items():
        report[f"{name}_seconds"] = round(seconds, 3)
        report[f"{name}_cpu_seconds"] = round(cpu[name], 3)
    for name in diffs:
        report[f"speedup_{name.removeprefix('potpyri_')}"] = round(
            times["reproject_interp"] / times[name], 2
        )
        report[f"cpu_speedup_{name.removeprefix('potpyri_')}"] = round(
            cpu["reproject_interp"] / cpu[name], 2
        )
        report[f"rms_vs_reproject_{name.removeprefix('potpyri_')}_in_sigma"] = round(
            float(np.mean(diffs[name])), 4
        )
    return report


def truth_comparison(
    size: int = 2048, seed: int = 3, fwhm_px: float = 2.6, rotate_deg: float = 0.7
) -> dict:
    """Interpolation error against the truth and timing, on a simulated noise-free frame.

    Parameters
    ----------
    size : int
        The frame is ``size × size`` pixels at 0.16"/px (GMOS 2×2-like).
    seed : int
        Star field.
    fwhm_px : float
        Seeing FWHM, pixels.
    rotate_deg : float
        Rotation of the output grid.
    """
    from potpyri.sim.formats.base import Geometry
    from potpyri.sim.night import true_wcs
    from potpyri.sim.scene import render_sources
    from potpyri.sim.truth import make_field

    pixscale = 0.16
    geometry = Geometry(shape=(size, size), pixscale=pixscale)
    ra, dec = 150.0, 2.0
    radius = size * pixscale / 3600
    stars = make_field(np.random.default_rng(seed), ra, dec, radius, r_bright=16.0)
    frame_wcs = true_wcs(geometry, (ra, dec), 0.3, 1.0)
    flux = 10 ** (0.4 * 28.0) * 60.0
    image = render_sources(geometry.shape, frame_wcs, stars, "r", flux, fwhm_px, pixscale)[
        0
    ].astype(np.float32)
    noise = float(
        np.sqrt(600.0 * 60.0 * pixscale**2 / 0.0256)
    )  # the sky noise such a frame would have
    grid = Grid(tan_wcs(ra, dec, pixscale / 3600, ((size + 1) / 2, (size + 1) / 2)), (size, size))
    grid = _turned(grid, rotate_deg)
    truth = render_sources(grid.shape, grid.wcs, stars, "r", flux, fwhm_px, pixscale)[0]
    mask = np.zeros(image.shape, np.uint8)
    err = np.full(image.shape, noise, np.float32)
    results: dict = {
        "size": size,
        "fwhm_px": fwhm_px,
        "stars": len(stars),
        "sky_noise_e": round(noise, 1),
    }
    theirs, seconds, cpu_seconds = _reproject(image, frame_wcs, grid)
    outputs = {"reproject_interp": (theirs, np.isfinite(theirs), seconds, cpu_seconds)}
    for name, order in (("potpyri_cubic", 3), ("potpyri_bilinear", 1)):
        start, cpu_start = time.perf_counter(), time.process_time()
        ours, out_mask, _ = resample_frame(image, mask, err, frame_wcs, grid, order=order)
        outputs[name] = (
            ours,
            out_mask == 0,
            time.perf_counter() - start,
            time.process_time() - cpu_start,
        )
    common = np.logical_and.reduce([ok for _, ok, _, _ in outputs.values()])
    common[:8], common[-8:], common[:, :8], common[:, -8:] = False, False, False, False
    for name, (img, _, seconds, cpu_seconds) in outputs.items():
        diff = (img - truth)[common]
        results[name] = {
            "seconds": round(seconds, 3),
            "cpu_seconds": round(cpu_seconds, 3),
            "rms_error_e": round(float(np.sqrt(np.mean(diff**2))), 2),
            "max_error_e": round(float(np.abs(diff).max()), 1),
            "rms_error_in_sky_sigma": round(float(np.sqrt(np.mean(diff**2))) / noise, 4),
        }
    base, base_cpu = outputs["reproject_interp"][2:]
    for name in ("potpyri_cubic", "potpyri_bilinear"):
        results[name]["speedup"] = round(base / results[name]["seconds"], 2)
        results[name]["cpu_speedup"] = round(base_cpu / results[name]["cpu_seconds"], 2)
        results[name]["error_ratio_to_reproject"] = round(
            results[name]["rms_error_e"] / results["reproject_interp"]["rms_error_e"], 3
        )
    return results


def main(argv: list[str] | None = None) -> None:
    """Script entry: the truth comparison (and ``--inputs`` frames through
    :func:`compare_resample`)."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size", type=int, default=2048, help="simulated frame size, pixels")
    parser.add_argument("--inputs", nargs="*", help="frame files to time as well")
    args = parser.parse_args(argv)
    report = {"truth": truth_comparison(args.size)}
    if args.inputs:
        report["frames"] = compare_resample([Path(p) for p in args.inputs])
    print(json.dumps(report, indent=1))


if __name__ == "__main__":
    main()

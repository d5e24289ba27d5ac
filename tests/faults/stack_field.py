"""A small simulated stack for the photometry fault tests: the simulator's field and renderer on a
dithered-stack pixel grid, with the stack's noise, coverage and mask, and its truth positions.

Four frames dithered by ``dither_px`` make a COVERAGE map of 1-4 frames (the stack's noise is the
single-frame noise over the square root of the coverage); a masked strip (a chip gap: BAD, no
frame) and the outer dither margin (coverage 0) are the zero-weight regions. Pixels are e-/s.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from astropy.table import Table
from astropy.wcs import WCS

from potpyri.calibration.masks import BAD, SATURATED
from potpyri.sim.scene import render_sources
from potpyri.sim.truth import make_field

PIXSCALE = 0.2  #: arcsec per pixel
CENTRE = (150.0, 2.0)  #: field centre, deg


@dataclass
class SimulatedStack:
    """Pixels of a simulated stack and the truth behind them."""

    sci: np.ndarray  #: e-/s
    err: np.ndarray  #: 1-sigma, e-/s (inf where no frame contributed)
    mask: np.ndarray  #: BAD where no frame, SATURATED where a frame saturated (uint8)
    coverage: np.ndarray  #: frames per pixel (int16)
    wcs: WCS
    truth: Table  #: every rendered source: x, y (0-based px), flux (e-/s), is_galaxy
    fwhm_px: float


def stack_wcs(shape: tuple[int, int]) -> WCS:
    """A north-up TAN WCS of ``shape`` pixels at :data:`CENTRE`."""
    ny, nx = shape
    wcs = WCS(naxis=2)
    wcs.wcs.ctype = ["RA---TAN", "DEC--TAN"]
    wcs.wcs.crval = list(CENTRE)
    wcs.wcs.crpix = [(nx + 1) / 2, (ny + 1) / 2]
    wcs.wcs.cd = np.array([[-PIXSCALE, 0.0], [0.0, PIXSCALE]]) / 3600
    return wcs


def simulated_stack(
    seed: int = 1,
    size: int = 400,
    fwhm_px: float = 4.0,
    density_r22: float = 4.0,
    r_bright: float = 15.5,
    sky_sigma: float = 0.05,
    flux_scale: float = 4.0e9,
    dither_px: int = 30,
    gap: bool = True,
    saturation: float = np.inf,
    correlated: bool = True,
) -> SimulatedStack:
    """A dithered 4-frame stack of a simulated field (see the module docstring).

    Parameters
    ----------
    density_r22 : float
        Stars per arcmin² brighter than r = 22 (the simulator's field; few for a sparse field).
    sky_sigma : float
        Per-pixel sky noise of one frame, e-/s.
    flux_scale : float
        e-/s per unit ``10**(-0.4 r)``: r = 22 gives ~6 e-/s.
    saturation : float
        Pixels above this (e-/s, one frame) are masked SATURATED, as the process step does.
    correlated : bool
        Correlate neighbouring pixels' noise as resampling does (each pixel's own scatter stays
        ERR; sums of many pixels scatter ~1.5 times what independent pixels would).
    """
    rng = np.random.default_rng(seed)
    shape = (size, size)
    wcs = stack_wcs(shape)
    radius = 0.75 * size * PIXSCALE / 3600
    field = make_field(
        rng, *CENTRE, radius, r_bright=r_bright, r_faint=25.0, density_r22=density_r22
    )
    image, x, y = render_sources(shape, wcs, field, "r", flux_scale, fwhm_px, PIXSCALE)
    coverage = np.zeros(shape, np.int16)
    inner = size - dither_px - 10
    for dx, dy in ((0, 0), (dither_px, 0), (0, dither_px), (dither_px, dither_px)):
        coverage[5 + dy : 5 + dy + inner, 5 + dx : 5 + dx + inner] += 1
    mask = np.where(coverage == 0, BAD, 0).astype(np.uint8)
    if gap:  # a chip gap in every frame: no data, zero weight
        column = size // 2 + 17
        coverage[:, column : column + 6] = 0
        mask[:, column : column + 6] = BAD
    mask[image > saturation] |= SATURATED
    sigma = np.where(coverage > 0, sky_sigma / np.sqrt(np.maximum(coverage, 1)), np.inf)
    # Poisson noise of the sources over the stack's summed exposure (1000 s a frame).
    source_var = np.maximum(image, 0) / (1000.0 * np.maximum(coverage, 1))
    err = np.sqrt(sigma**2 + source_var)
    noise = rng.normal(size=shape)
    if correlated:  # a sub-pixel interpolation, normalised to unit variance per pixel
        from scipy.ndimage import convolve

        kernel = np.outer([0.8, 0.2], [0.8, 0.2])
        noise = convolve(noise, kernel / np.sqrt(np.sum(kernel**2)), mode="reflect")
    sci = image + noise * np.where(np.isfinite(err), err, 0.0)
    sci[coverage == 0] = 0.0
    flux = flux_scale * 10 ** (-0.4 * np.asarray(field["mag_r"]))
    inside = np.isfinite(x) & np.isfinite(y)
    truth = Table(
        {
            "x": x[inside],
            "y": y[inside],
            "flux": flux[inside],
            "is_galaxy": np.asarray(field["is_galaxy"])[inside],
        }
    )
    return SimulatedStack(
        sci.astype(np.float32), err.astype(np.float32), mask, coverage, wcs, truth, fwhm_px
    )


def unmatched(table: Table, truth: Table, radius_px: float, xcol: str, ycol: str) -> np.ndarray:
    """Rows of ``table`` with no truth source within ``radius_px``."""
    from scipy.spatial import cKDTree

    tree = cKDTree(np.transpose([truth["x"], truth["y"]]))
    dist, _ = tree.query(np.transpose([np.asarray(table[xcol]), np.asarray(table[ycol])]))
    return dist > radius_px

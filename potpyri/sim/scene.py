"""Rendering the sky onto the focal-plane mosaic: sources, sky, fringes, a trail.

Stars take the frame's :class:`~potpyri.sim.psf.FieldPsf` (atmosphere ⊗ optics, drawn by GalSim
with its unit-flux normalisation and the pixel response), or, without one, a circular Moffat
(β = 3) integrated over pixels (5×5 sub-pixel midpoint rule) with its analytic normalisation.
Either way the image holds each star's flux less only the faint wing light beyond what is drawn.
Galaxies are elliptical Moffats as wide as the PSF and their half-light size combined.
"""

from __future__ import annotations

import numpy as np
from astropy.table import Table
from astropy.wcs import WCS

from potpyri.sim.psf import FieldPsf

__all__ = ["BETA", "fringe_pattern", "moffat_alpha", "render_sources", "sky_image", "trail_image"]

BETA = 3.0  #: Moffat β of the seeing PSF
_OVERSAMPLE = 5


def moffat_alpha(fwhm: float, beta: float = BETA) -> float:
    """Moffat core width α for a FWHM (same units)."""
    return fwhm / (2.0 * np.sqrt(2.0 ** (1.0 / beta) - 1.0))


def render_sources(
    shape: tuple[int, int],
    wcs: WCS,
    sources: Table,
    band: str,
    flux_scale: float,
    fwhm_px: float,
    pixscale: float,
    psf: FieldPsf | None = None,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Electrons from every source on a ``shape`` image.

    Parameters
    ----------
    flux_scale : float
        Electrons per unit flux ``10**(-0.4 * mag)``: ``exptime * 10**(0.4 * zeropoint)``.
    fwhm_px : float
        Seeing FWHM in pixels: of the stars' Moffat without ``psf``, of the galaxies' profile
        (with their size) either way.
    psf : FieldPsf, optional
        The frame's PSF for the stars; None draws them as circular Moffats of ``fwhm_px``.

    Returns
    -------
    image, x, y : numpy.ndarray
        The image and the 0-based pixel positions of the sources (NaN when off the image).
    """
    ny, nx = shape
    image = np.zeros(shape, np.float64)
    x, y = wcs.all_world2pix(np.asarray(sources["ra"]), np.asarray(sources["dec"]), 0)
    flux = flux_scale * 10 ** (-0.4 * np.asarray(sources[f"mag_{band}"]))
    physical = psf is not None and psf.params.model != "moffat"
    galaxy = np.asarray(sources["is_galaxy"], bool)
    if physical:
        star = ~galaxy
        psf.add_stars(image, x[star], y[star], flux[star])
    for k in np.argsort(-flux):
        if physical and not galaxy[k]:
            continue
        fwhm, q, pa = fwhm_px, 1.0, 0.0
        if galaxy[k]:
            fwhm = np.hypot(fwhm_px, 2.0 * sources["re_arcsec"][k] / pixscale)
            q, pa = float(sources["axis_ratio"][k]), np.deg2rad(float(sources["pa_deg"][k]))
        alpha = moffat_alpha(fwhm)
        half = int(
            np.ceil(alpha * np.clip(3.0 + 1.5 * np.log10(max(flux[k], 1.0) / 100.0), 4.0, 9.0))
        )
        cx, cy = int(round(x[k])), int(round(y[k]))
        x0, x1, y0, y1 = (
            max(cx - half, 0),
            min(cx + half + 1, nx),
            max(cy - half, 0),
            min(cy + half + 1, ny),
        )
        if x0 >= x1 or y0 >= y1:
            continue
        image[y0:y1, x0:x1] += flux[k] * _moffat_pixels(x0, x1, y0, y1, x[k], y[k], alpha, q, pa)
    inside = (x > -0.5) & (x < nx - 0.5) & (y > -0.5) & (y < ny - 0.5)
    return image, np.where(inside, x, np.nan), np.where(inside, y, np.nan)


def _moffat_pixels(x0, x1, y0, y1, xc, yc, alpha, q=1.0, pa=0.0, beta=BETA) -> np.ndarray:
    """Pixel-integrated, unit-flux (elliptical) Moffat on pixels [y0:y1, x0:x1]."""
    step = 1.0 / _OVERSAMPLE
    offsets = (np.arange(_OVERSAMPLE) + 0.5) * step - 0.5
    xs = (np.arange(x0, x1)[:, None] + offsets[None, :]).ravel() - xc
    ys = (np.arange(y0, y1)[:, None] + offsets[None, :]).ravel() - yc
    dx, dy = np.meshgrid(xs, ys)
    if q != 1.0:
        c, s = np.cos(pa), np.sin(pa)
        u, v = c * dx + s * dy, (-s * dx + c * dy) / q
        norm = (beta - 1.0) / (np.pi * alpha**2 * q)
    else:
        u, v = dx, dy
        norm = (beta - 1.0) / (np.pi * alpha**2)
    profile = norm * (1.0 + (u * u + v * v) / alpha**2) ** (-beta)
    ny, nx = y1 - y0, x1 - x0
    return profile.reshape(ny, _OVERSAMPLE, nx, _OVERSAMPLE).sum(axis=(1, 3)) * step * step


def sky_image(shape: tuple[int, int], level: float, gradient: tuple[float, float]) -> np.ndarray:
    """Sky in electrons: ``level`` at the centre with fractional gradients per full width in x
    and y."""
    ny, nx = shape
    yy, xx = np.mgrid[0:ny, 0:nx]
    return level * (1.0 + gradient[0] * (xx / nx - 0.5) + gradient[1] * (yy / ny - 0.5))


def fringe_pattern(shape: tuple[int, int], seed: int) -> np.ndarray:
    """A fixed interference pattern (zero mean, unit amplitude) from a few oblique waves."""
    rng = np.random.default_rng(seed)
    ny, nx = shape
    yy, xx = np.mgrid[0:ny, 0:nx]
    pattern = np.zeros(shape)
    for _ in range(4):
        k = rng.uniform(0.08, 0.25)
        angle = rng.uniform(0, np.pi)
        pattern += np.sin(k * (np.cos(angle) * xx + np.sin(angle) * yy) + rng.uniform(0, 2 * np.pi))
    return pattern / np.abs(pattern).max()


def trail_image(
    shape: tuple[int, int],
    x0: float,
    y0: float,
    angle_deg: float,
    width_px: float,
    electrons_per_px: float,
) -> np.ndarray:
    """A satellite trail: a straight line across the image with a Gaussian cross-section."""
    ny, nx = shape
    yy, xx = np.mgrid[0:ny, 0:nx]
    angle = np.deg2rad(angle_deg)
    distance = -(xx - x0) * np.sin(angle) + (yy - y0) * np.cos(angle)
    sigma = width_px / 2.355
    return electrons_per_px / (np.sqrt(2 * np.pi) * sigma) * np.exp(-0.5 * (distance / sigma) ** 2)

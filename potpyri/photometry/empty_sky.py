"""How much noise a flux measurement really has: weighted sums over empty sky vs their ERR
prediction.

A stack's ERR image is the per-pixel noise. A flux is a weighted sum over many pixels, and its
error predicted from ERR assumes independent pixels. That fails whenever neighbouring pixels share
noise: a frame resampled with the cubic spline spreads each input pixel's noise over several output
pixels (per-pixel noise down by sqrt(Σw²), sums over an area not), and a median or mean stack keeps
that correlation. Sums over empty sky then scatter by more than ERR predicts.

This module measures that ratio on the image itself, with the same weights the photometry uses
(the empty-aperture method of deep-field photometry, e.g. Labbé et al. 2003, Skelton et al. 2014):
sums at a lattice of positions far from every detected source, each divided by its ERR-predicted
error; the 3-sigma clipped standard deviation of these pulls is the factor by which the
ERR-predicted errors of that kind of measurement must be scaled. It includes every kind of
pixel-to-pixel correlation (interpolation, stacking, sky-subtraction residuals) without a model
of how the stack was made. The pulls are measured on sky noise; the same factor is applied to the
source's own Poisson noise, which went through the same interpolation.
"""

from __future__ import annotations

import numpy as np
from astropy.stats import sigma_clipped_stats

from potpyri.photometry.moffat import moffat_alpha2

__all__ = ["lattice_positions", "noise_factor", "psf_weighted_pulls", "source_free"]

#: Fewest empty-sky sums for a factor: the clipped standard deviation of N pulls is uncertain by
#: ~0.75/sqrt(N) of itself (6% at 150).
MIN_SAMPLES = 150


def source_free(
    bad: np.ndarray,
    x: np.ndarray,
    y: np.ndarray,
    peak: np.ndarray,
    fwhm: float,
    skysig: float,
    beta: float = 3.0,
    level: float = 0.02,
) -> np.ndarray:
    """Pixels that are usable and away from every detected source.

    Around each source a disc is left out out to where its seeing Moffat (``fwhm``, ``beta``,
    peak ``peak``) falls below ``level`` times the sky sigma, and at least 3 ``fwhm``.
    """
    ny, nx = bad.shape
    free = ~np.asarray(bad, bool)
    beta = float(np.clip(beta, 1.5, 10.0)) if np.isfinite(beta) else 3.0
    alpha = np.sqrt(moffat_alpha2(fwhm, beta))
    ratio = np.clip(np.nan_to_num(np.asarray(peak, float)) / (level * skysig), 1.0, None)
    radii = np.maximum(3.0 * fwhm, alpha * np.sqrt(ratio ** (1 / beta) - 1))
    for xc, yc, r in zip(np.asarray(x, float), np.asarray(y, float), radii, strict=True):
        if not (np.isfinite(xc) and np.isfinite(yc)):
            continue
        x0, x1 = max(0, int(xc - r)), min(nx, int(xc + r) + 2)
        y0, y1 = max(0, int(yc - r)), min(ny, int(yc + r) + 2)
        if x0 >= x1 or y0 >= y1:
            continue
        yy, xx = np.ogrid[y0:y1, x0:x1]
        free[y0:y1, x0:x1] &= (xx - xc) ** 2 + (yy - yc) ** 2 > r * r
    return free


def lattice_positions(free: np.ndarray, half: int, border: int = 0) -> np.ndarray:
    """Centres (N, 2: x, y) of non-overlapping (2 ``half`` + 1)² boxes lying wholly on ``free``
    pixels and at least ``border`` pixels from the image edge (a lattice: deterministic)."""
    from scipy.ndimage import minimum_filter

    size = 2 * int(half) + 1
    ok = minimum_filter(np.asarray(free, np.uint8), size=size, mode="constant", cval=0).astype(bool)
    ny, nx = free.shape
    edge = max(int(half), int(border))
    ys, xs = np.mgrid[edge : ny - edge : size, edge : nx - edge : size]
    keep = ok[ys, xs]
    return np.column_stack([xs[keep], ys[keep]]).astype(float)


def psf_weighted_pulls(
    data: np.ndarray,
    error: np.ndarray,
    positions: np.ndarray,
    psf: np.ndarray,
    background: np.ndarray | None = None,
) -> np.ndarray:
    """Inverse-variance PSF-weighted fluxes at ``positions`` (integer pixel centres) over their
    ERR-predicted errors: Σ(p (d - b)/e²)/Σ(p²/e²) divided by 1/sqrt(Σ p²/e²), what a PSF fit of
    fixed position reports. ``psf`` is an odd-sized stamp on the detector's pixels; ``background``
    (one value per position, e.g. the local sky the fit subtracts) defaults to 0."""
    half = psf.shape[0] // 2
    offsets = np.arange(-half, half + 1)
    xs = np.asarray(positions[:, 0], int)[:, None, None] + offsets[None, None, :]
    ys = np.asarray(positions[:, 1], int)[:, None, None] + offsets[None, :, None]
    d, e = data[ys, xs], error[ys, xs]
    if background is not None:
        d = d - np.asarray(background, float)[:, None, None]
    inv = 1.0 / e**2
    norm = np.sum(psf**2 * inv, axis=(1, 2))
    return np.sum(psf * d * inv, axis=(1, 2)) / np.sqrt(norm)


def noise_factor(pulls: np.ndarray) -> tuple[float, int]:
    """``(factor, n)``: the 3-sigma clipped standard deviation of the finite ``pulls`` (NaN when
    fewer than :data:`MIN_SAMPLES`), and how many there were."""
    pulls = np.asarray(pulls, float)
    pulls = pulls[np.isfinite(pulls)]
    if len(pulls) < MIN_SAMPLES:
        return float("nan"), len(pulls)
    # A normal distribution clipped at +-3 sigma keeps 0.9866 of its standard deviation.
    return float(sigma_clipped_stats(pulls, sigma=3.0, maxiters=10)[2]) / _CLIPPED_STD, len(pulls)


_CLIPPED_STD = 0.9866

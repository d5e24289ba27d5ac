"""Point sources on a calibrated frame: positions and fluxes for solving and refining a WCS."""

from __future__ import annotations

import warnings

import numpy as np
from astropy.table import Table

from potpyri.calibration.masks import BAD

__all__ = ["detect_sources", "detection_mask"]


def detection_mask(mask: np.ndarray) -> np.ndarray:
    """The pixels source detection must ignore: bad ones (bit 1) only.

    Saturated stars are kept: in a sparse field the brightest Gaia stars are the saturated ones,
    and their windowed centroids stay usable (the fit's clipping rejects any that are not).
    Cosmic-ray flags are not used either: a cosmic-ray finder sometimes flags the cores of sharp
    stars, and genuine hits are single sharp pixels DAOStarFinder's sharpness cut rejects.
    """
    return np.asarray(mask) & BAD


def detect_sources(
    sci: np.ndarray,
    mask: np.ndarray | None = None,
    *,
    fwhm: float = 3.0,
    threshold: float = 5.0,
    max_sources: int = 500,
    edge: int = 3,
) -> Table:
    """Compact sources on an image, brightest first.

    DAOStarFinder finds peaks; each is then re-centred with an iterative Gaussian-windowed
    centroid (SExtractor's XWIN), which is unbiased for a symmetric PSF and less sensitive to
    neighbours and background than DAOStarFinder's marginal fits.

    Parameters
    ----------
    sci : numpy.ndarray
        Image, any units; a constant or slowly varying background is removed here.
    mask : numpy.ndarray, optional
        Non-zero where pixels are bad (the frame's MASK): no source is found on or next to them.
    fwhm : float
        Expected PSF FWHM, pixels (the detection kernel).
    threshold : float
        Detection threshold in units of the background noise.
    max_sources : int
        Keep at most this many sources (the brightest).
    edge : int
        Ignore sources within this many pixels of the border.

    Returns
    -------
    astropy.table.Table
        ``x``, ``y`` (0-based pixels), ``flux`` (background-subtracted, data units), ``peak``;
        empty when nothing is found.
    """
    from astropy.stats import sigma_clipped_stats
    from photutils.detection import DAOStarFinder

    data = np.asarray(sci, dtype=np.float64)
    bad = ~np.isfinite(data)
    if mask is not None:
        bad |= np.asarray(mask) != 0
    empty = Table(names=("x", "y", "flux", "peak"), dtype=(float, float, float, float))
    if bad.all():
        return empty
    _, median, std = sigma_clipped_stats(data[~bad], sigma=3.0, maxiters=5)
    if not np.isfinite(std) or std <= 0:
        return empty
    work = np.where(bad, median, data) - median
    finder = DAOStarFinder(
        threshold=threshold * std,
        fwhm=fwhm,
        exclude_border=True,
        sharpness_range=(0.2, 1.0),
        roundness_range=(-0.8, 0.8),
    )
    with warnings.catch_warnings():  # "no sources found" is an answer, not a problem
        warnings.simplefilter("ignore")
        found = finder(work, mask=bad)
    if found is None or len(found) == 0:
        return empty
    x = np.asarray(found["x_centroid"], float)
    y = np.asarray(found["y_centroid"], float)
    order = np.argsort(-np.asarray(found["flux"], float))[: max_sources * 2]
    x, y = x[order], y[order]
    x, y, flux, ok = windowed_centroids(work, bad, x, y, fwhm)
    ny, nx = data.shape
    ok &= (x >= edge) & (x <= nx - 1 - edge) & (y >= edge) & (y <= ny - 1 - edge) & (flux > 0)
    table = Table({"x": x[ok], "y": y[ok], "flux": flux[ok]})
    table["peak"] = work[
        np.clip(np.round(table["y"]).astype(int), 0, ny - 1),
        np.clip(np.round(table["x"]).astype(int), 0, nx - 1),
    ]
    table.sort("flux", reverse=True)
    return table[:max_sources]


def windowed_centroids(
    data: np.ndarray,
    bad: np.ndarray,
    x: np.ndarray,
    y: np.ndarray,
    fwhm: float,
    iterations: int = 10,
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Gaussian-windowed centroids (σ_w = FWHM / 2.355), iterated to convergence.

    Bad pixels in a star's wings are left out of its sums; a bad pixel within one FWHM of the
    centre rejects the star. Returns refined ``x, y``, an aperture flux within 2 FWHM, and a
    flag that is false for rejected stars and centroids that ran away (more than one FWHM).
    """
    ny, nx = data.shape
    sigma_w = max(fwhm, 1.0) / 2.3548
    half = int(np.ceil(max(3.0 * sigma_w, 2.0 * fwhm)))
    offs = np.arange(-half, half + 1)
    x_out, y_out = x.astype(float).copy(), y.astype(float).copy()
    flux = np.zeros(len(x))
    ok = np.ones(len(x), bool)
    for k in range(len(x)):
        cx, cy = int(round(x[k])), int(round(y[k]))
        if cx - half < 0 or cy - half < 0 or cx + half >= nx or cy + half >= ny:
            ok[k] = False
            continue
        good = ~bad[cy - half : cy + half + 1, cx - half : cx + half + 1]
        stamp = np.where(good, data[cy - half : cy + half + 1, cx - half : cx + half + 1], 0.0)
        gx, gy = np.meshgrid(offs + cx, offs + cy)
        core = (gx - x[k]) ** 2 + (gy - y[k]) ** 2 <= fwhm**2
        # Scattered bad pixels in the wings only lose their weight; a damaged core loses the star.
        if not good[core].all():
            ok[k] = False
            continue
        xc, yc = x[k], y[k]
        for _ in range(iterations):
            r2 = (gx - xc) ** 2 + (gy - yc) ** 2
            w = np.exp(-0.5 * r2 / sigma_w**2) * stamp
            total = w.sum()
            if total <= 0:
                ok[k] = False
                break
            dx = 2.0 * (w * (gx - xc)).sum() / total
            dy = 2.0 * (w * (gy - yc)).sum() / total
            xc, yc = xc + dx, yc + dy
            if abs(dx) < 1e-4 and abs(dy) < 1e-4:
                break
        if np.hypot(xc - x[k], yc - y[k]) > fwhm:
            ok[k] = False
        x_out[k], y_out[k] = xc, yc
        flux[k] = stamp[(gx - x[k]) ** 2 + (gy - y[k]) ** 2 <= (2 * fwhm) ** 2].sum()
    return x_out, y_out, flux, ok

"""Point-source detection at a stated significance: peaks of the matched-filtered image.

DAOFIND's own statistic (a zero-sum Gaussian fitted over a few pixels, i.e. amplitude AND local
background) is noisier than PSF photometry, so its "5 sigma" finds stars well above the 5-sigma
limiting magnitude. Here a source is detected when the image smoothed with the PSF-like Gaussian
(unit sum, background already removed) peaks at ``nsigma`` times its own noise: for a point source
that is its PSF-weighted S/N, the quantity the limiting magnitudes ``M<n>SIGMA`` are computed from
(``SKYSIG * sqrt(NOISAREA)`` per unit S/N). That noise is the ERR image filtered (so a shallow
stack edge or a star's own photon noise raises it), times the measured scatter of the filtered
image in those units (the correlated noise of a resampled stack, which ERR alone misses).
DAOStarFinder then measures these positions (centroid, sharpness, roundness).
"""

from __future__ import annotations

import numpy as np
from astropy.table import Table

from potpyri.photometry.apertures import aperture_stats

__all__ = [
    "brightest",
    "detect_sources",
    "filtered_noise",
    "gaussian_kernel",
    "matched_filter_peaks",
]


def gaussian_kernel(fwhm: float) -> np.ndarray:
    """A circular Gaussian of ``fwhm`` pixels on a (2R+1)² grid, R = ceil(3 sigma), unit sum."""
    sigma = max(float(fwhm), 0.5) / 2.3548
    half = int(np.ceil(3 * sigma))
    yy, xx = np.mgrid[-half : half + 1, -half : half + 1]
    kernel = np.exp(-0.5 * (xx**2 + yy**2) / sigma**2)
    return kernel / kernel.sum()


def matched_filter_peaks(
    data: np.ndarray,
    bad: np.ndarray,
    fwhm: float,
    nsigma: float,
    skysig: float,
    error: np.ndarray | None = None,
) -> np.ndarray:
    """Pixel positions (N, 2: x, y) where the PSF-filtered image peaks above ``nsigma`` of its
    noise.

    Parameters
    ----------
    data : ndarray
        Background-subtracted image, bad pixels set to 0.
    bad : ndarray of bool
        Pixels not to use (no peak is reported on them).
    fwhm : float
        FWHM (pixels) of the Gaussian filter: the stars' measured FWHM.
    nsigma : float
        Detection threshold in units of the filtered image's noise.
    skysig : float
        Per-pixel sky noise of ``data``: without ``error`` the filtered noise is
        ``skysig * sqrt(sum k²)`` (independent pixels).
    error : ndarray, optional
        Per-pixel 1-sigma uncertainty of ``data``: the filtered noise is then that map filtered
        with k², scaled by the robust scatter of the filtered image over it (see the module).
    """
    from photutils.detection import find_peaks
    from scipy.ndimage import convolve

    kernel = gaussian_kernel(fwhm)
    filtered = convolve(np.asarray(data, float), kernel, mode="constant", cval=0.0)
    if error is None:
        noise = float(skysig) * float(np.sqrt(np.sum(kernel**2)))
    else:
        noise = filtered_noise(filtered, error, bad, kernel)
    half = kernel.shape[0] // 2
    box = max(3, int(round(fwhm)) | 1)
    peaks = find_peaks(filtered, nsigma * noise, box_size=box, mask=bad, border_width=half + 1)
    if peaks is None or len(peaks) == 0:
        return np.zeros((0, 2))
    return np.transpose([np.asarray(peaks["x_peak"], float), np.asarray(peaks["y_peak"], float)])


def filtered_noise(
    filtered: np.ndarray, error: np.ndarray, bad: np.ndarray, kernel: np.ndarray
) -> np.ndarray:
    """1-sigma noise map of ``filtered`` (the image convolved with ``kernel``): ERR² convolved
    with kernel², times the sigma-clipped scatter of ``filtered`` in those units (1 for
    independent pixels whose ERR is right; ~1.2-1.5 for resampled stacks)."""
    from astropy.stats import sigma_clipped_stats
    from scipy.ndimage import convolve

    variance = np.where(bad | ~np.isfinite(error), 0.0, np.asarray(error, float) ** 2)
    predicted = np.sqrt(convolve(variance, kernel**2, mode="constant", cval=0.0))
    use = ~bad & (predicted > 0)
    if use.sum() < 100:
        return np.where(predicted > 0, predicted, np.inf)
    _, _, scatter = sigma_clipped_stats(filtered[use] / predicted[use], sigma=3.0, maxiters=10)
    scale = float(scatter) if np.isfinite(scatter) and scatter > 0 else 1.0
    return np.where(predicted > 0, scale * predicted, np.inf)


def detect_sources(
    data: np.ndarray,
    error: np.ndarray,
    bad: np.ndarray,
    skysig: float,
    fwhm_init: float,
    sn_min: float,
) -> tuple[Table, float]:
    """DAOStarFinder measurements of the matched-filter peaks above ``sn_min``, and the FWHM (px).

    Detection runs twice: with the initial FWHM guess, then with the median aperture FWHM of the
    bright (S/N > 20), round sources it found. Raises ValueError when nothing is detected.
    """
    from photutils.detection import DAOStarFinder

    fwhm = float(fwhm_init)
    for _ in range(2):
        # DAOStarFinder only measures the peaks (centroid, sharpness, roundness: columns, and
        # PSF-star cuts). Its shape cuts are not applied: near the limit noise scatters faint
        # stars' sharpness out of (0.2, 1.0), which loses depth; artefacts are masked.
        peaks = matched_filter_peaks(data, bad, fwhm, sn_min, skysig, error)
        finder = DAOStarFinder(
            threshold=sn_min * skysig,
            fwhm=fwhm,
            exclude_border=True,
            roundness_range=None,
            sharpness_range=None,
            xycoords=peaks if len(peaks) else None,
        )
        found = finder(data, mask=bad) if len(peaks) else None
        if found is None or len(found) == 0:
            raise ValueError(f"no source above {sn_min}-sigma (sky sigma {skysig:.4g})")
        apstats = aperture_stats(data, error, bad, found, 1.5 * fwhm)
        bright = (apstats["snr"] > max(20.0, sn_min)) & (np.abs(found["roundness1"]) < 0.3)
        bright &= np.isfinite(apstats["fwhm"])
        if bright.sum() < 3:
            break
        new = float(np.median(apstats["fwhm"][bright]))
        if abs(new - fwhm) < 0.1 * fwhm:
            fwhm = new
            break
        fwhm = new
    return found, fwhm


def brightest(found: Table, max_sources: int) -> Table:
    """The ``max_sources`` detections of largest DAOStarFinder flux, in their original order."""
    keep = np.argsort(-np.asarray(found["flux"]))[:max_sources]
    return found[np.sort(keep)]

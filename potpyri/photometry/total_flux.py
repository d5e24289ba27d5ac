"""Total fluxes: the aperture and PSF-fit fluxes scaled to all the light of a point source.

Total flux is the flux within a big aperture (4 FWHM) divided by the fraction of the PSF inside it,
both measured on bright isolated stars (the fraction from their curve of growth and its power-law
tail, :mod:`~potpyri.photometry.growth_curve`): it calibrates both the small aperture and the PSF
fit without trusting the noisy far wings of the ePSF.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from astropy.stats import sigma_clip
from astropy.table import Table

from potpyri.photometry.apertures import aperture_stats, centroid_xy
from potpyri.photometry.growth_curve import GrowthCurve, growth_curve

__all__ = [
    "FluxCorrections",
    "flux_corrections",
    "robust_ratio",
    "star_growth_curve",
    "values_by_id",
]


@dataclass
class FluxCorrections:
    """Total/aperture and total/PSF-fit flux, and the calibration stars' fluxes behind them."""

    aperture: float  #: total / aperture flux for a point source
    psf: float  #: total / PSF-fit flux
    big: np.ndarray  #: the calibration stars' big-aperture sums
    big_err: np.ndarray  #: their errors predicted from ERR
    fit: np.ndarray  #: their PSF-fit fluxes (NaN where not fitted)
    fit_err: np.ndarray  #: the fits' errors predicted from ERR
    curve: GrowthCurve  #: the fraction of the light within the big aperture, and how measured


def flux_corrections(
    data: np.ndarray,
    error: np.ndarray,
    bad: np.ndarray,
    apphot: Table,
    isolated: np.ndarray,
    psf_stars: Table,
    psfphot: Table,
    big_radius: float,
    fwhm: float,
    beta: float,
) -> FluxCorrections:
    """Aperture and PSF corrections from every clean, isolated star of S/N > 50 in ``apphot``
    (``psf_stars`` if fewer than 10), with the flux beyond ``big_radius`` px from their curve of
    growth (:func:`~potpyri.photometry.growth_curve.growth_curve`; the seeing Moffat of ``fwhm``
    px and ``beta`` when too few stars give one)."""
    bright = apphot[isolated & (apphot["flags"] == 0) & (apphot["snr"] > 50)]
    if len(bright) < 10:
        bright = psf_stars
    big_stats = aperture_stats(data, error, bad, bright, big_radius)
    big = np.asarray(big_stats["sum"])
    small = np.asarray(bright["sum"], float)
    fit = values_by_id(psfphot, "flux_fit", bright["id"])
    curve = star_growth_curve(data, bad, bright, apphot, fwhm, big_radius, beta)
    inside = curve.inside
    return FluxCorrections(
        aperture=robust_ratio(big, small) / inside,
        psf=robust_ratio(big, fit) / inside,
        big=big,
        big_err=np.asarray(big_stats["sum_err"]),
        fit=fit,
        fit_err=values_by_id(psfphot, "flux_err", bright["id"]),
        curve=curve,
    )


def star_growth_curve(
    data: np.ndarray,
    bad: np.ndarray,
    stars: Table,
    apphot: Table,
    fwhm: float,
    radius: float,
    beta: float,
) -> GrowthCurve:
    """The curve of growth of ``stars`` normalised at ``radius`` px, every detection of
    ``apphot`` (x_centroid, y_centroid, sum) counted as a possible neighbour."""
    return growth_curve(
        data,
        bad,
        centroid_xy(stars),
        centroid_xy(apphot),
        np.asarray(apphot["sum"], float),
        fwhm,
        radius,
        beta,
    )


def values_by_id(table: Table, column: str, ids) -> np.ndarray:
    """``table[column]`` (as floats) of the rows whose ``id`` is each of ``ids``; NaN if none."""
    values = dict(zip(np.asarray(table["id"]), np.asarray(table[column], float), strict=True))
    return np.array([values.get(i, np.nan) for i in ids])


def robust_ratio(numerator, denominator) -> float:
    """Flux-weighted ratio sum(num)/sum(den) over pairs whose own ratio is not a 3-sigma outlier
    (bright stars dominate: their big-aperture sums are the least affected by sky noise)."""
    num, den = np.asarray(numerator, float), np.asarray(denominator, float)
    ratio = num / den
    good = np.isfinite(ratio) & (ratio > 0) & (den > 0)
    if good.sum() == 0:
        return 1.0
    clipped = sigma_clip(ratio[good], sigma=3.0, maxiters=5, masked=True)
    keep = ~np.ma.getmaskarray(clipped)
    return float(num[good][keep].sum() / den[good][keep].sum())

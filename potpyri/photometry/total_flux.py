"""Total fluxes: the aperture and PSF-fit fluxes scaled to all the light of a point source.

Total flux is the flux within a big aperture (4 FWHM, > 99.5% of a Moffat beta=3 star) divided by
the fraction of the seeing Moffat inside it, measured on bright isolated stars: it calibrates both
the small aperture and the PSF fit without trusting the noisy far wings of the ePSF.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from astropy.stats import sigma_clip
from astropy.table import Table

from potpyri.photometry.apertures import aperture_stats
from potpyri.photometry.moffat import moffat_flux_outside

__all__ = ["FluxCorrections", "flux_corrections", "robust_ratio", "values_by_id"]


@dataclass
class FluxCorrections:
    """Total/aperture and total/PSF-fit flux, and the calibration stars' fluxes behind them."""

    aperture: float  #: total / aperture flux for a point source
    psf: float  #: total / PSF-fit flux
    big: np.ndarray  #: the calibration stars' big-aperture sums
    big_err: np.ndarray  #: their errors predicted from ERR
    fit: np.ndarray  #: their PSF-fit fluxes (NaN where not fitted)
    fit_err: np.ndarray  #: the fits' errors predicted from ERR


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
    (``psf_stars`` if fewer than 10), with the flux beyond ``big_radius`` px from the seeing
    Moffat (``fwhm`` px, ``beta``)."""
    bright = apphot[isolated & (apphot["flags"] == 0) & (apphot["snr"] > 50)]
    if len(bright) < 10:
        bright = psf_stars
    big_stats = aperture_stats(data, error, bad, bright, big_radius)
    big = np.asarray(big_stats["sum"])
    small = np.asarray(bright["sum"], float)
    fit = values_by_id(psfphot, "flux_fit", bright["id"])
    # The wings beyond big_radius, from the seeing Moffat fitted to the ePSF (its beta).
    inside = 1.0 - moffat_flux_outside(big_radius, fwhm, beta)
    return FluxCorrections(
        aperture=robust_ratio(big, small) / inside,
        psf=robust_ratio(big, fit) / inside,
        big=big,
        big_err=np.asarray(big_stats["sum_err"]),
        fit=fit,
        fit_err=values_by_id(psfphot, "flux_err", bright["id"]),
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

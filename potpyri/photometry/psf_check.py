"""Is the PSF model usable? Its shape against direct fits of its own stars, and its fluxes.

An ePSF built from the wrong stars (noise, blends, a bad centring) can come out a spike or a
plateau; its fits then give nonsense, often negative, fluxes while every header value looks like
a number. Two checks catch that before the PSF photometry is published: the model's FWHM and its
x/y Gaussian widths against pixel-integrated Moffat fits of the PSF stars made without the model
(:func:`~potpyri.photometry.psf.star_moffat_fwhm` started from the detection FWHM), and the PSF
fluxes of the clearly detected stars.
"""

from __future__ import annotations

import numpy as np
from astropy.table import Table

from potpyri.photometry.psf import PSFModel
from potpyri.photometry.total_flux import values_by_id

__all__ = [
    "GAUSS_RATIO_RANGE",
    "MAX_NONPOSITIVE_FRACTION",
    "SEEING_RATIO_RANGE",
    "psf_problem",
]

#: Allowed model / direct-fit FWHM ratio of the seeing Moffat fitted to the model.
SEEING_RATIO_RANGE = (0.7, 1.4)
#: Allowed Gaussian FWHM (2.3548 sigma, x and y) of the model / direct-fit FWHM: a Gaussian
#: fitted to a pixel-integrated Moffat beta=3 is 1.14 (FWHM 6 px) to 1.25 (1.5 px) times wider.
GAUSS_RATIO_RANGE = (0.8, 1.6)
#: Clearly detected stars (aperture S/N >= 10, no flag) with a PSF flux <= 0 or not finite, at
#: most this fraction (and at most one star in small fields).
MAX_NONPOSITIVE_FRACTION = 0.05
CLEAR_SNR = 10.0  #: aperture S/N of a "clearly detected" source


def psf_problem(psf: PSFModel, direct_fwhm: float, apphot: Table, psfphot: Table) -> str:
    """Why the PSF model must not be used, in one line; ``""`` when it passes.

    Parameters
    ----------
    psf : PSFModel
        The model (its ``seeing_fwhm`` and ``gauss_sigma``, px).
    direct_fwhm : float
        Seeing FWHM (px) of direct Moffat fits of the PSF stars; NaN skips the shape checks.
    apphot, psfphot : Table
        Aperture photometry (``id``, ``snr`` unscaled, ``flags``) and the PSF fits (``id``,
        ``flux_fit``) of the same sources.
    """
    if np.isfinite(direct_fwhm) and direct_fwhm > 0:
        low, high = SEEING_RATIO_RANGE
        ratio = psf.seeing_fwhm / direct_fwhm
        if not low <= ratio <= high:
            return (
                f"PSF model FWHM {psf.seeing_fwhm:.2f} px against {direct_fwhm:.2f} px by direct "
                f"fits of its stars (ratio {ratio:.2f}, allowed {low}-{high})"
            )
        low, high = GAUSS_RATIO_RANGE
        for axis, sigma in zip("xy", psf.gauss_sigma, strict=True):
            ratio = 2.3548 * sigma / direct_fwhm
            if not (np.isfinite(ratio) and low <= ratio <= high):
                return (
                    f"PSF model sigma-{axis} {sigma:.2f} px against FWHM {direct_fwhm:.2f} px by "
                    f"direct fits of its stars (Gaussian FWHM ratio {ratio:.2f}, allowed "
                    f"{low}-{high})"
                )
    clear = (np.asarray(apphot["snr"], float) >= CLEAR_SNR) & (np.asarray(apphot["flags"]) == 0)
    flux = values_by_id(psfphot, "flux_fit", np.asarray(apphot["id"])[clear])
    bad = int(np.sum(~(flux > 0)))
    if bad > max(1, MAX_NONPOSITIVE_FRACTION * clear.sum()):
        return (
            f"{bad} of {int(clear.sum())} stars detected at aperture S/N >= {CLEAR_SNR:g} have a "
            "negative or non-finite PSF flux"
        )
    return ""

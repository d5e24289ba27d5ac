"""PSF fits of every detection with photutils ``PSFPhotometry``, one source per fit."""

from __future__ import annotations

import warnings

import numpy as np
from astropy.table import Table
from astropy.utils.exceptions import AstropyUserWarning

__all__ = ["fit_size", "psf_photometry"]


def fit_size(fwhm: float) -> int:
    """Side (pixels, odd) of the box each PSF fit uses."""
    return int(np.ceil(1.5 * fwhm)) * 2 + 1


def psf_photometry(
    data, error, bad, epsf_model, apphot: Table, fwhm: float
) -> tuple[Table, np.ndarray]:
    """PSF fits of every detection, each on its own (linear cost), and the residual image.

    The fits start from ``apphot``'s positions and fluxes and subtract its local (annulus) sky:
    the global median removed from the image sits above the sky between sources (their wings),
    which biases faint PSF fluxes low.
    """
    from astropy.modeling.fitting import LevMarLSQFitter
    from photutils.psf import PSFPhotometry

    box = fit_size(fwhm)
    init = Table(
        {
            "id": apphot["id"],
            "x": apphot["x_centroid"],
            "y": apphot["y_centroid"],
            "flux": np.where(apphot["sum"] > 0, apphot["sum"] * 1.2, 1e-3),
            "local_bkg": np.asarray(apphot["local_bkg"], float),
        }
    )
    # No grouper: each source is fitted on its own, so the cost is linear in the number of sources.
    phot = PSFPhotometry(
        epsf_model,
        (box, box),
        aperture_radius=1.5 * fwhm,
        progress_bar=False,
        fitter=LevMarLSQFitter(),
    )
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", AstropyUserWarning)
        table = phot(data, mask=bad, error=np.where(bad, 1e30, error), init_params=init)
        residual = phot.make_residual_image(data, psf_shape=(4 * box + 1, 4 * box + 1))
    keep = [
        "id",
        "x_init",
        "y_init",
        "flux_init",
        "x_fit",
        "y_fit",
        "flux_fit",
        "x_err",
        "y_err",
        "flux_err",
        "qfit",
        "cfit",
        "flags",
        "n_pixels_fit",
    ]
    out = Table({k: table[k] for k in keep if k in table.colnames})
    for name in out.colnames:
        if hasattr(out[name], "unit") and out[name].unit is not None:
            out[name] = np.asarray(out[name])
    return out, np.asarray(residual, float)

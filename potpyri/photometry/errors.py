"""The error model of the fluxes: empty-sky noise factors, the PSF-model error, magnitudes.

Errors photutils predicts from the ERR image assume independent pixels and an exact sky. The
empty-sky sums of each kind of measurement (:mod:`potpyri.photometry.empty_sky`) say by how much
such fluxes really scatter (local sky noise, correlated noise of resampled stacks): the factors
NOISEPSF, NOISEAP and NOISEBIG the errors are scaled by. The star-to-star scatter of big-aperture
over PSF fluxes beyond their noise is the PSF-model error, added in quadrature to PSF fluxes.
"""

from __future__ import annotations

import logging

import numpy as np
from astropy.table import Table

from potpyri.photometry.apertures import aperture_stats
from potpyri.photometry.empty_sky import (
    lattice_positions,
    noise_factor,
    psf_weighted_pulls,
    source_free,
)
from potpyri.photometry.psf import native_psf

__all__ = ["magnitudes", "model_error", "noise_factors"]

log = logging.getLogger("potpyri.photometry")


def noise_factors(
    data,
    error,
    bad,
    apphot: Table,
    epsf: np.ndarray,
    oversampling: int,
    seeing: float,
    beta: float,
    skysig: float,
    sizes: dict,
    notes: list[str],
) -> dict:
    """Empty-sky noise factors (see :mod:`potpyri.photometry.empty_sky`): ``psf`` for fits over a
    box of side ``sizes["psf"]``, and one per aperture radius (the other keys), each 1 when not
    measurable (a note is appended to ``notes``).

    ``seeing`` and ``beta`` (the seeing Moffat) and ``skysig`` size the discs left out around the
    detections of ``apphot``.
    """

    free = source_free(
        bad, apphot["x_centroid"], apphot["y_centroid"], apphot["peak"], seeing, skysig, beta
    )

    def at_lattice(xy: np.ndarray, radius: float) -> Table:
        """Aperture statistics (with the annulus sky) at empty-sky positions."""
        return aperture_stats(
            data, error, bad, Table({"x_centroid": xy[:, 0], "y_centroid": xy[:, 1]}), radius
        )

    factors = {}
    for name, size in sizes.items():
        if name == "psf":
            half = int(size) // 2
            psf = native_psf(epsf, oversampling)
            c = psf.shape[0] // 2
            k = min(half, c)
            stamp = np.zeros((2 * half + 1, 2 * half + 1))
            stamp[half - k : half + k + 1, half - k : half + k + 1] = psf[
                c - k : c + k + 1, c - k : c + k + 1
            ]
            xy = lattice_positions(free, half, border=int(np.ceil(3.5 * sizes["aperture"])) + 1)
            # the fits subtract the local sky of the small aperture's annulus (its noise included)
            sky = at_lattice(xy, sizes["aperture"])["local_bkg"] if len(xy) else np.zeros(0)
            pulls = psf_weighted_pulls(data, error, xy, stamp, np.asarray(sky, float))
        else:
            half = int(np.ceil(size))
            # The annulus of the local sky (to 3.5 radii) must lie on the image, not be source-free.
            xy = lattice_positions(free, half, border=int(np.ceil(3.5 * size)) + 1)
            stats = at_lattice(xy, size) if len(xy) else Table({"sum": [], "sum_err": []})
            pulls = np.asarray(stats["sum"], float) / np.asarray(stats["sum_err"], float)
        factor, n = noise_factor(pulls)
        if not np.isfinite(factor):
            notes.append(
                f"only {n} empty-sky positions for the {name} noise factor: errors from ERR alone"
            )
            factor = 1.0
        factors[name] = factor
    log.debug("empty-sky noise factors %s", factors)
    return factors


def model_error(big, big_err, fit, fit_err, overlap: float = 0.0, clip: float = 3.0) -> float:
    """Fractional PSF-model error from the star-to-star scatter of big-aperture/PSF flux ratios.

    The ratios r = big/fit of the calibration stars are modelled as normal about a common mean
    with variance n² + s² + (c · f₀/fit)², where n is the ratio's own noise, s the fractional
    PSF-model error (returned: a wrong PSF shape errs in proportion to the flux) and c an additive
    excess of the big aperture (light of neighbours' wings and of sources below the detection
    limit, which a big aperture in a crowded field collects; f₀ the median fit flux). The two are
    told apart by how they scale with the flux; s and c are fitted by maximum likelihood.

    The ratio's noise counts the covariance of the two fluxes: the fit's pixels lie inside the big
    aperture, so cov(big, fit) = ``overlap`` x var(fit) (the PSF's fraction in the fit box);
    adding the two errors in quadrature counts the star's own photon noise twice. Stars more than
    ``clip`` sigma off the mean are dropped and the fit repeated: a big aperture holding a
    neighbour or a galaxy says nothing about the PSF.
    """
    from scipy.optimize import minimize

    big, big_err, fit, fit_err = (np.asarray(a, float) for a in (big, big_err, fit, fit_err))
    ratio = big / fit
    with np.errstate(invalid="ignore", divide="ignore"):
        var = (big_err / big) ** 2 + (fit_err / fit) ** 2 - 2 * overlap * fit_err**2 / (big * fit)
        # never below the big aperture's noise beyond the fit's (the sky of the extra area)
        var = np.maximum(var, np.abs((big_err / big) ** 2 - (fit_err / fit) ** 2))
    noise = ratio * np.sqrt(var)
    good = np.isfinite(ratio) & np.isfinite(noise) & (ratio > 0) & (noise > 0) & (fit > 0)
    if good.sum() < 5:
        return 0.0
    scale = np.median(ratio[good])
    r, n, f = ratio[good] / scale, noise[good] / scale, fit[good] / np.median(fit[good])

    def variance(p: np.ndarray, n: np.ndarray, f: np.ndarray) -> np.ndarray:
        return n**2 + np.exp(2 * p[1]) + (np.exp(p[2]) / f) ** 2

    keep = np.ones(len(r), bool)
    p = np.array([1.0, np.log(1e-3), np.log(1e-3)])
    for _ in range(10):
        rk, nk, fk = r[keep], n[keep], f[keep]

        def nll(p: np.ndarray, rk=rk, nk=nk, fk=fk) -> float:
            v = variance(p, nk, fk)
            return float(np.sum((rk - p[0]) ** 2 / v + np.log(v)))

        # log s and log c from a few starts (the likelihood can have a shallow second minimum)
        fits = [
            minimize(
                nll,
                [np.median(rk), a, b],
                method="Nelder-Mead",
                options={"xatol": 1e-5, "fatol": 1e-8, "maxiter": 4000},
            )
            for a in (-7.0, -4.5, -3.0)
            for b in (-7.0, -4.5, -3.0)
        ]
        p = min(fits, key=lambda res: res.fun).x
        new = np.abs(r - p[0]) <= clip * np.sqrt(variance(p, n, f))
        if new.sum() < 5 or (new == keep).all():
            break
        keep = new
    s = float(np.exp(p[1]))
    return s if s > 1e-4 else 0.0  # the likelihood is flat towards s = 0


def magnitudes(flux, flux_err) -> tuple[np.ndarray, np.ndarray]:
    """Instrumental magnitudes -2.5 log10(flux) and their errors (NaN where flux <= 0)."""
    flux, flux_err = np.asarray(flux, float), np.asarray(flux_err, float)
    with np.errstate(divide="ignore", invalid="ignore"):
        mag = np.where(flux > 0, -2.5 * np.log10(flux), np.nan)
        mag_err = np.where(flux > 0, 2.5 / np.log(10) * flux_err / flux, np.nan)
    return mag, mag_err

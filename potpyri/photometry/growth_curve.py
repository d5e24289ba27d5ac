"""The empirical curve of growth of a stack's bright isolated stars, and the light beyond it.

A point source's total flux is its flux within a reference radius (4 FWHM) divided by the
fraction of the PSF inside that radius. That fraction is measured, not assumed: the stars'
growth curves (flux within r / flux within the reference radius, each with one local sky from an
annulus beyond the largest radius) are combined, flux-weighted, out to the last radius where they
are still precise (neighbours, masked pixels and sky noise end them), and the light beyond that
radius comes from a power law fitted to the outer curve. Atmospheric (Kolmogorov / von Kármán)
wings fall as r^-11/3, so the light outside R falls as R^-5/3: the exponent is fixed there
(a free exponent is poorly constrained by a few noisy outer points). A Moffat of the seeing
(:func:`~potpyri.photometry.moffat.moffat_flux_outside`) replaces the curve when too few stars
are bright and isolated enough.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from astropy.stats import sigma_clip

from potpyri.photometry.apertures import annulus_sky
from potpyri.photometry.moffat import moffat_flux_outside

__all__ = ["GROWTH_RADII", "TAIL_EXPONENT", "GrowthCurve", "growth_curve", "moffat_curve"]

#: Radii (in FWHM) at which the growth curve is measured; the reference radius is one of them.
GROWTH_RADII = (1.5, 2.0, 3.0, 4.0, 5.0, 6.0, 7.0, 8.0, 9.0, 10.0)
#: Light outside R ~ R^-TAIL_EXPONENT: atmospheric wings I(r) ~ r^-11/3.
TAIL_EXPONENT = 5.0 / 3.0
#: Fewest stars a radius of the curve is measured on.
MIN_STARS = 5
#: Largest standard error (of the normalised curve) of a radius still used.
MAX_ERROR = 0.01
#: A star is used at radius r if other detections within r + 2 FWHM hold less than this fraction
#: of its flux.
MAX_CONTAMINATION = 1e-3


@dataclass
class GrowthCurve:
    """The curve of growth normalised at ``reference`` and what it says of the total flux."""

    method: str  #: "growth" (measured curve and power-law tail) or "moffat" (fallback)
    inside: float  #: fraction of a point source's flux within ``reference`` px
    reference: float  #: px, the reference radius
    radii: np.ndarray  #: px, where the curve was measured (empty: Moffat)
    enclosed: np.ndarray  #: flux within each radius / flux within ``reference``
    enclosed_err: np.ndarray  #: jackknife standard errors of ``enclosed``
    nstars: np.ndarray  #: stars used at each radius
    last: float  #: px, largest radius of the curve used (``reference`` for the Moffat)
    reason: str = ""  #: why the Moffat was used
    #: standard error of ``inside`` from the tail fit (radii taken as independent; NaN: Moffat)
    inside_err: float = float("nan")


def growth_curve(
    data: np.ndarray,
    bad: np.ndarray,
    stars_xy: np.ndarray,
    others_xy: np.ndarray,
    others_flux: np.ndarray,
    fwhm: float,
    reference: float,
    beta: float,
) -> GrowthCurve:
    """The curve of growth of the stars at ``stars_xy`` (N x 2, px) and their flux fraction
    within ``reference`` px.

    Parameters
    ----------
    data : ndarray
        Sky-subtracted image (0 at bad pixels).
    bad : ndarray
        Pixels not to use.
    stars_xy : ndarray
        Positions of bright, clean, isolated stars.
    others_xy, others_flux : ndarray
        Every detection (positions and small-aperture fluxes, the stars included): a star is used
        at a radius only if the detections near it hold a negligible share of its flux.
    fwhm : float
        Seeing FWHM, px.
    reference : float
        Reference radius, px (the calibration aperture).
    beta : float
        Moffat beta of the fallback.
    """
    radii = np.array(GROWTH_RADII) * fwhm
    radii = np.unique(np.append(radii, reference))
    stars_xy = np.asarray(stars_xy, float).reshape(-1, 2)
    if len(stars_xy) < MIN_STARS:
        return moffat_curve(fwhm, reference, beta, f"{len(stars_xy)} bright isolated stars")
    sums, usable = _star_sums(data, bad, stars_xy, others_xy, others_flux, radii, fwhm)
    iref = int(np.argmin(np.abs(radii - reference)))
    enclosed, err, nstars = _combine(sums, usable, iref)
    outer = _outer_radii(radii, enclosed, err, nstars, iref)
    if len(outer) < 3:
        return moffat_curve(
            fwhm, reference, beta, f"growth curve not measured beyond {reference:.1f} px"
        )
    g_inf, g_err = _tail_fit(radii[outer], enclosed[outer], err[outer], radii[-1], fwhm)
    if not (np.isfinite(g_inf) and 1.0 <= g_inf < 1.2):
        return moffat_curve(fwhm, reference, beta, f"tail fit gave total/reference {g_inf:.4f}")
    return GrowthCurve(
        method="growth",
        inside=float(1.0 / g_inf),
        inside_err=float(g_err / g_inf**2),
        reference=float(reference),
        radii=radii,
        enclosed=enclosed,
        enclosed_err=err,
        nstars=nstars,
        last=float(radii[outer[-1]]),
    )


def moffat_curve(fwhm: float, reference: float, beta: float, reason: str) -> GrowthCurve:
    """The fallback: the fraction of a Moffat (``fwhm`` px, ``beta``) within ``reference``."""
    empty = np.array([])
    return GrowthCurve(
        method="moffat",
        inside=1.0 - moffat_flux_outside(reference, fwhm, beta),
        reference=float(reference),
        radii=empty,
        enclosed=empty,
        enclosed_err=empty,
        nstars=np.array([], int),
        last=float(reference),
        reason=reason,
    )


def _star_sums(
    data: np.ndarray,
    bad: np.ndarray,
    xy: np.ndarray,
    others_xy: np.ndarray,
    others_flux: np.ndarray,
    radii: np.ndarray,
    fwhm: float,
) -> tuple[np.ndarray, np.ndarray]:
    """Sky-subtracted sums (stars x radii) and whether each is usable (inside the image, no bad
    pixel, no neighbour's light)."""
    from photutils.aperture import ApertureStats, CircularAperture

    # One sky per star from an annulus beyond the largest radius: the SExtractor-like mode of
    # the clipped annulus. Its own wing light (r^-11/3 at 1.2-1.6 R) is ~4% of the light beyond
    # the reference radius and is part of the tail model (_tail_fit).
    r_max = radii[-1]
    sky = annulus_sky(data, bad, xy, _ANNULUS[0] * r_max, _ANNULUS[1] * r_max)
    ny, nx = data.shape
    sums = np.empty((len(xy), len(radii)))
    usable = np.isfinite(sky)[:, None] & np.ones(sums.shape, bool)
    badf = bad.astype(float)
    others_xy = np.asarray(others_xy, float).reshape(-1, 2)
    others_flux = np.asarray(others_flux, float)
    for k, r in enumerate(radii):
        aper = CircularAperture(xy, r)
        sums[:, k] = ApertureStats(data, aper, mask=bad).sum - sky * np.pi * r**2
        masked = ApertureStats(badf, aper).sum
        inside = (xy[:, 0] - r >= 0) & (xy[:, 1] - r >= 0)
        inside &= (xy[:, 0] + r <= nx - 1) & (xy[:, 1] + r <= ny - 1)
        usable[:, k] &= inside & (np.asarray(masked, float) == 0)
    # Neighbours: the light of other detections within r + 2 FWHM, as a share of the star's.
    dist = np.hypot(*(xy[:, None, :] - others_xy[None, :, :]).transpose(2, 0, 1))
    own = dist < 0.5 * fwhm
    flux = np.where(np.isfinite(others_flux) & (others_flux > 0), others_flux, 0.0)
    star_flux = sums[:, np.searchsorted(radii, 2.0 * fwhm)]
    for k, r in enumerate(radii):
        near = (dist < r + 2.0 * fwhm) & ~own
        contamination = (near * flux[None, :]).sum(axis=1)
        usable[:, k] &= contamination < MAX_CONTAMINATION * np.abs(star_flux)
    usable &= np.isfinite(sums)
    return sums, usable


#: The sky annulus, in units of the largest radius of the curve.
_ANNULUS = (1.2, 1.6)


def _combine(
    sums: np.ndarray, usable: np.ndarray, iref: int
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Flux-weighted enclosed/reference ratio at each radius over the stars usable there and at
    the reference (3-sigma outlier ratios dropped), its jackknife error and the star count."""
    n_radii = sums.shape[1]
    enclosed, err = np.full(n_radii, np.nan), np.full(n_radii, np.inf)
    nstars = np.zeros(n_radii, int)
    ref = sums[:, iref]
    for k in range(n_radii):
        use = usable[:, k] & usable[:, iref] & (ref > 0)
        if use.sum() < MIN_STARS:
            continue
        num, den = sums[use, k], ref[use]
        keep = ~np.ma.getmaskarray(sigma_clip(num / den, sigma=3.0, maxiters=5, masked=True))
        num, den = num[keep], den[keep]
        n = len(num)
        if n < MIN_STARS:
            continue
        enclosed[k] = num.sum() / den.sum()
        # jackknife: the ratio with each star left out
        loo = (num.sum() - num) / (den.sum() - den)
        err[k] = float(np.sqrt((n - 1) / n * np.sum((loo - loo.mean()) ** 2)))
        nstars[k] = n
    err[iref] = 0.0
    return enclosed, err, nstars


def _outer_radii(
    radii: np.ndarray, enclosed: np.ndarray, err: np.ndarray, nstars: np.ndarray, iref: int
) -> np.ndarray:
    """Indices of the reference radius and the radii beyond it up to the last reliable one (the
    first that is too noisy or has too few stars ends the curve)."""
    outer = [iref]
    for k in range(iref + 1, len(radii)):
        if not (nstars[k] >= MIN_STARS and np.isfinite(enclosed[k]) and err[k] <= MAX_ERROR):
            break
        outer.append(k)
    return np.array(outer)


def _tail_fit(
    radii: np.ndarray, enclosed: np.ndarray, err: np.ndarray, r_max: float, fwhm: float
) -> tuple[float, float]:
    """Total / reference flux, and its standard error, from a weighted least-squares fit of
    ``G(r) = G_inf - A (r^-p + (p/2) r² <s^-(p+2)>)`` to the outer curve: the light outside r
    falls as r^-p (p = :data:`TAIL_EXPONENT`) and the sky annulus (radii s) holds the wing
    intensity p A s^-(p+2) / 2 pi, subtracted over each aperture's area pi r²."""
    p = TAIL_EXPONENT
    s = np.linspace(_ANNULUS[0] * r_max, _ANNULUS[1] * r_max, 200)
    annulus_mean = float(np.sum(s ** (-p - 1)) / np.sum(s))  # area-weighted mean of s^-(p+2)
    # in FWHM units, so the two columns have similar scales
    scale = fwhm
    basis = (radii / scale) ** -p + p / 2 * (radii / scale) ** 2 * annulus_mean * scale ** (p + 2)
    # The reference point is exactly 1 with no error; a floor keeps the weights finite.
    w = 1.0 / np.maximum(err, 1e-4)
    design = np.column_stack([np.ones_like(radii), -basis]) * w[:, None]
    (g_inf, amplitude), *_ = np.linalg.lstsq(design, enclosed * w, rcond=None)
    g_err = float(np.sqrt(np.linalg.pinv(design.T @ design)[0, 0]))
    if amplitude < 0:  # a curve falling outwards (over-subtracted sky): no tail to add
        return float(np.max(enclosed)), g_err
    return float(g_inf), g_err

"""Flux calibration: cross-match with a reference catalog, a sigma-clipped zero point, depth.

The cross-match first finds the common offset between the image's WCS and the catalog (the peak
of the pair-offset histogram within ``search`` arcsec), so a stack whose WCS is off by a few
arcseconds still calibrates; then nearest neighbours within ``radius`` arcsec are kept.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from astropy.stats import sigma_clip
from scipy.spatial import cKDTree

__all__ = ["MIN_COLOR_STARS", "ZeroPoint", "crossmatch", "fit_zeropoint", "limiting_magnitude"]


@dataclass
class ZeroPoint:
    """A fitted zero point: mag = -2.5 log10(flux) + zp."""

    zp: float
    error: float  #: uncertainty of the zero point (statistical, clipped sample)
    scatter: float  #: robust standard deviation of the individual star offsets
    n_used: int
    used: np.ndarray  #: bool per input star
    color_term: float = 0.0  #: mag of catalog minus instrument per mag of colour (0: none)
    color: str = ""  #: the catalog colour of the term, e.g. ``g-r`` ("": none fitted)


def crossmatch(
    ra, dec, cat_ra, cat_dec, *, radius: float = 1.0, search: float = 20.0
) -> tuple[np.ndarray, np.ndarray, tuple[float, float]]:
    """Indices (source, catalog) of matched pairs and the (dx, dy) offset found first, arcsec."""
    ra, dec, cat_ra, cat_dec = (np.asarray(v, float) for v in (ra, dec, cat_ra, cat_dec))
    if len(ra) == 0 or len(cat_ra) == 0:
        return np.zeros(0, int), np.zeros(0, int), (0.0, 0.0)
    ra0, dec0 = np.median(cat_ra), np.median(cat_dec)
    cosd = np.cos(np.deg2rad(dec0))
    src = np.transpose([(ra - ra0) * cosd * 3600, (dec - dec0) * 3600])
    cat = np.transpose([(cat_ra - ra0) * cosd * 3600, (cat_dec - dec0) * 3600])
    tree = cKDTree(cat)
    pairs = tree.query_ball_point(src, search)
    offsets = np.array([cat[j] - src[i] for i, js in enumerate(pairs) for j in js]).reshape(-1, 2)
    shift = np.zeros(2)
    if len(offsets):
        bins = np.arange(-search, search + radius, radius)
        hist, xe, ye = np.histogram2d(offsets[:, 0], offsets[:, 1], bins=[bins, bins])
        k = np.unravel_index(np.argmax(hist), hist.shape)
        guess = np.array([(xe[k[0]] + xe[k[0] + 1]) / 2, (ye[k[1]] + ye[k[1] + 1]) / 2])
        near = np.hypot(*(offsets - guess).T) < 1.5 * radius
        if near.sum() >= 3:
            shift = np.median(offsets[near], axis=0)
    # Then an affine fit on generous matches absorbs a small rotation or scale error of the WCS.
    moved = src + shift
    for wide in (4 * radius, 2 * radius):
        dist, j = tree.query(moved, distance_upper_bound=wide)
        ok = np.isfinite(dist)
        if ok.sum() < 6:
            break
        design = np.hstack([moved[ok], np.ones((ok.sum(), 1))])
        coef, *_ = np.linalg.lstsq(design, cat[j[ok]], rcond=None)
        moved = np.hstack([moved, np.ones((len(moved), 1))]) @ coef
    dist, j = tree.query(moved, distance_upper_bound=radius)
    ok = np.isfinite(dist)
    i = np.flatnonzero(ok)
    j = j[ok]
    # One catalog star, one source: keep the closest when two sources claim the same star.
    order = np.argsort(dist[ok])
    _, first = np.unique(j[order], return_index=True)
    keep = order[first]
    return i[keep], j[keep], (float(shift[0]), float(shift[1]))


def fit_zeropoint(
    inst_mag,
    inst_err,
    cat_mag,
    cat_err,
    *,
    sigma: float = 3.0,
    color=None,
    fit_color: bool = False,
    color_err=None,
    color_cov=None,
) -> ZeroPoint:
    """Sigma-clipped, inverse-variance weighted zero point (and optional linear colour term).

    Without a colour term the zero point is the weighted mean of ``cat_mag - inst_mag``; with one
    (``fit_color`` and at least :data:`MIN_COLOR_STARS` stars with a finite ``color``) it is the
    intercept of the weighted line ``cat_mag - inst_mag = zp + color_term * color``, fitted to the
    stars that have a colour, clipping the residuals over their errors: the zero point of a star
    of colour 0.

    The catalog colours are measured, not known: their errors (``color_err``) shrink the fitted
    slope towards 0 (regression dilution), and where the colour holds the calibrated band itself
    (g-r for g) the band's catalog error enters both the offset and the colour (``color_cov``:
    covariance of the two, +err^2 for the bluer band, -err^2 for the redder). Both bias the
    intercept towards the mean offset, as far as the stars' mean colour is from 0; the line is
    therefore the corrected least squares of Fuller (1987, Measurement Error Models, 2.2): the
    colour errors' variance is taken from the colour's weighted sum of squares and the covariance
    from its cross-product with the offsets. Without a colour term when the colour errors leave
    less than half of the colours' spread (no slope to measure).

    The uncertainty is the fit's formal error, scaled up by the Birge ratio sqrt(chi2/dof) when
    the offsets scatter more than their errors say, so that star-to-star systematics larger than
    the quoted errors are not hidden. (The unweighted scatter/sqrt(N) is the error of the
    unweighted mean: with the faint stars' larger errors it overstates the weighted mean's, and
    understates it when a few stars have underestimated errors.)
    """
    inst_mag, inst_err, cat_mag, cat_err = (
        np.asarray(v, float) for v in (inst_mag, inst_err, cat_mag, cat_err)
    )
    delta = cat_mag - inst_mag
    var = inst_err**2 + np.nan_to_num(cat_err, nan=0.05) ** 2
    finite = np.isfinite(delta) & np.isfinite(var) & (var > 0)
    if finite.sum() < 1:
        raise ValueError("no usable calibration star")
    c = np.full(len(delta), np.nan) if color is None else np.asarray(color, float)
    with_color = finite & np.isfinite(c)
    if fit_color and with_color.sum() >= MIN_COLOR_STARS:
        c_var = _known(color_err, len(delta)) ** 2
        line = _fit_line(delta, var, c, c_var, _known(color_cov, len(delta)), with_color, sigma)
        if line is not None:
            return line
    clipped = sigma_clip(np.where(finite, delta, np.nan), sigma=sigma, maxiters=10, masked=True)
    used = finite & ~np.ma.getmaskarray(clipped)
    w = 1 / var[used]
    zp = float(np.sum(w * delta[used]) / np.sum(w))
    n = int(used.sum())
    scatter = float(np.std(delta[used], ddof=1)) if n > 1 else float(np.sqrt(var[used][0]))
    chi2_nu = float(np.sum(w * (delta[used] - zp) ** 2) / (n - 1)) if n > 1 else 1.0
    error = float(1 / np.sqrt(np.sum(w))) * max(1.0, np.sqrt(chi2_nu))
    return ZeroPoint(zp, error, scatter, n, used, 0.0)


#: Stars with a catalog colour needed to fit a colour term (fewer: the zero point alone).
MIN_COLOR_STARS = 10


def _known(values, n: int) -> np.ndarray:
    """``values`` as floats, 0 where not given or not finite (a colour without a known error)."""
    if values is None:
        return np.zeros(n)
    return np.nan_to_num(np.asarray(values, float), nan=0.0, posinf=0.0, neginf=0.0)


#: Smallest fraction of the colours' weighted spread left after their errors' share is removed
#: for a slope to be fitted (below it the colours hardly constrain a slope).
_MIN_TRUE_SPREAD = 0.5


def _fit_line(
    delta: np.ndarray,
    var: np.ndarray,
    color: np.ndarray,
    color_var: np.ndarray,
    color_cov: np.ndarray,
    sample: np.ndarray,
    sigma: float,
) -> ZeroPoint | None:
    """Weighted line delta = zp + term * color on ``sample`` by corrected least squares (the
    colours' error variances ``color_var`` and their covariances with the offsets ``color_cov``
    taken out of the normal equations), clipped about the line (on the residuals over their
    errors). None when the colour errors leave too little of the colours' spread."""

    def solve(used: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray] | None:
        a = np.vstack([np.ones(used.sum()), color[used]]).T
        w = 1 / var[used]
        normal = a.T @ (a * w[:, None])
        rhs = a.T @ (w * delta[used])
        noise = float(np.sum(w * color_var[used]))
        spread = normal[1, 1] - normal[0, 1] ** 2 / normal[0, 0]  # weighted sum of squares
        if spread <= 0 or noise > (1 - _MIN_TRUE_SPREAD) * spread:
            return None
        normal[1, 1] -= noise
        rhs[1] -= float(np.sum(w * color_cov[used]))
        coef = np.linalg.solve(normal, rhs)
        return coef, normal, w

    used = sample.copy()
    for _ in range(10):
        solved = solve(used)
        if solved is None:
            return None
        coef = solved[0]
        # Clip on residuals in units of their errors: a bright star 10 sigma off the line (a
        # blend) must go, though the faint stars' scatter is larger than its offset.
        pull = (delta - coef[0] - coef[1] * np.nan_to_num(color)) / np.sqrt(var)
        clipped = sigma_clip(np.where(sample, pull, np.nan), sigma=sigma, maxiters=1, masked=True)
        new = sample & ~np.ma.getmaskarray(clipped)
        if np.array_equal(new, used) or new.sum() < MIN_COLOR_STARS:
            break
        used = new
    solved = solve(used)
    if solved is None:
        return None
    coef, normal, w = solved
    resid = delta - coef[0] - coef[1] * np.nan_to_num(color)
    n = int(used.sum())
    resid_used = resid[used]
    chi2_nu = float(np.sum(w * resid_used**2) / (n - 2)) if n > 2 else 1.0
    error = float(np.sqrt(np.linalg.inv(normal)[0, 0])) * max(1.0, np.sqrt(chi2_nu))
    scatter = float(np.std(resid_used, ddof=2)) if n > 2 else float(np.sqrt(var[used][0]))
    return ZeroPoint(float(coef[0]), error, scatter, n, used, float(coef[1]))


def limiting_magnitude(zp: float, skysig: float, noise_area: float, nsigma: float) -> float:
    """Magnitude of a point source measured at ``nsigma`` (sky-limited, PSF-weighted)."""
    return float(zp - 2.5 * np.log10(nsigma * skysig * np.sqrt(noise_area)))

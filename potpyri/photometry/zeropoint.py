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

__all__ = ["ZeroPoint", "crossmatch", "fit_zeropoint", "limiting_magnitude"]


@dataclass
class ZeroPoint:
    """A fitted zero point: mag = -2.5 log10(flux) + zp."""

    zp: float
    error: float  #: uncertainty of the zero point (statistical, clipped sample)
    scatter: float  #: robust standard deviation of the individual star offsets
    n_used: int
    used: np.ndarray  #: bool per input star
    color_term: float = 0.0


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
    inst_mag, inst_err, cat_mag, cat_err, *, sigma: float = 3.0, color=None, fit_color: bool = False
) -> ZeroPoint:
    """Sigma-clipped, inverse-variance weighted zero point (and optional linear colour term).

    The uncertainty is the error of the weighted mean, 1/sqrt(sum w), scaled up by the Birge ratio
    sqrt(chi2/(N-1)) when the offsets scatter more than their errors say, so that star-to-star
    systematics larger than the quoted errors are not hidden. (The unweighted scatter/sqrt(N) is
    the error of the unweighted mean: with the faint stars' larger errors it overstates the
    weighted mean's, and understates it when a few stars have underestimated errors.)
    """
    inst_mag, inst_err, cat_mag, cat_err = (
        np.asarray(v, float) for v in (inst_mag, inst_err, cat_mag, cat_err)
    )
    delta = cat_mag - inst_mag
    var = inst_err**2 + np.nan_to_num(cat_err, nan=0.05) ** 2
    finite = np.isfinite(delta) & np.isfinite(var) & (var > 0)
    if finite.sum() < 1:
        raise ValueError("no usable calibration star")
    clipped = sigma_clip(np.where(finite, delta, np.nan), sigma=sigma, maxiters=10, masked=True)
    used = finite & ~np.ma.getmaskarray(clipped)
    term = 0.0
    if fit_color and color is not None and used.sum() >= 10:
        c = np.asarray(color, float)
        good = used & np.isfinite(c)
        a = np.vstack([np.ones(good.sum()), c[good]]).T
        w = 1 / var[good]
        coef = np.linalg.solve(a.T @ (a * w[:, None]), a.T @ (w * delta[good]))
        term = float(coef[1])
        delta = delta - term * np.nan_to_num(c)
    w = 1 / var[used]
    zp = float(np.sum(w * delta[used]) / np.sum(w))
    n = int(used.sum())
    scatter = float(np.std(delta[used], ddof=1)) if n > 1 else float(np.sqrt(var[used][0]))
    chi2_nu = float(np.sum(w * (delta[used] - zp) ** 2) / (n - 1)) if n > 1 else 1.0
    error = float(1 / np.sqrt(np.sum(w))) * max(1.0, np.sqrt(chi2_nu))
    return ZeroPoint(zp, error, scatter, n, used, term)


def limiting_magnitude(zp: float, skysig: float, noise_area: float, nsigma: float) -> float:
    """Magnitude of a point source measured at ``nsigma`` (sky-limited, PSF-weighted)."""
    return float(zp - 2.5 * np.log10(nsigma * skysig * np.sqrt(noise_area)))

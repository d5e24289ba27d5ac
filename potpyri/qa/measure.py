"""Quick, independent measurements a person checks a stack with: sources, catalog match, PSF shape.

These are QA measurements, deliberately simple and independent of the photometry steps, so that
the report can show a stack's astrometry and PSF even when those steps did not run, and can be
compared with the values they wrote into the header.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from astropy.stats import sigma_clipped_stats
from astropy.table import Table

__all__ = [
    "Match",
    "MoffatFit",
    "detect_sources",
    "fit_moffat_profile",
    "match_catalog",
    "median_star_stamp",
    "stamp_sigmas",
]


def detect_sources(
    sci: np.ndarray,
    mask: np.ndarray | None,
    fwhm: float = 4.0,
    nsigma: float = 5.0,
    limit: int = 2000,
) -> Table:
    """Point-like sources above ``nsigma`` times the clipped sky scatter (brightest ``limit``).

    Returns a table with ``x``, ``y`` (0-based pixels), ``flux`` and ``peak``; empty if none.
    """
    from photutils.detection import DAOStarFinder

    bad = np.zeros(sci.shape, bool) if mask is None else mask > 0
    bad |= ~np.isfinite(sci)
    _, median, std = sigma_clipped_stats(sci[~bad], sigma=3.0, maxiters=5)
    if not np.isfinite(std) or std <= 0:
        return Table(names=("x", "y", "flux", "peak"))
    finder = DAOStarFinder(
        fwhm=fwhm, threshold=nsigma * std, n_brightest=limit, exclude_border=True
    )
    found = finder(np.where(bad, median, sci) - median, mask=bad)
    if found is None or len(found) == 0:
        return Table(names=("x", "y", "flux", "peak"))
    xcol = "x_centroid" if "x_centroid" in found.colnames else "xcentroid"
    ycol = "y_centroid" if "y_centroid" in found.colnames else "ycentroid"
    return Table(
        {
            "x": np.asarray(found[xcol], float),
            "y": np.asarray(found[ycol], float),
            "flux": np.asarray(found["flux"], float),
            "peak": np.asarray(found["peak"], float),
        }
    )


@dataclass
class Match:
    """Detections matched to catalog stars: positions and offsets (detected minus catalog)."""

    x: np.ndarray  #: detected x, pixels
    y: np.ndarray  #: detected y, pixels
    dra: np.ndarray  #: RA offset × cos(Dec), arcsec
    ddec: np.ndarray  #: Dec offset, arcsec

    @property
    def n(self) -> int:
        """Number of matched pairs."""
        return len(self.x)

    def rms(self) -> tuple[float, float]:
        """Robust (1.4826 × MAD) scatter of the RA and Dec offsets, arcsec."""
        if self.n < 2:
            return float("nan"), float("nan")
        mad = [1.4826 * float(np.median(np.abs(v - np.median(v)))) for v in (self.dra, self.ddec)]
        return mad[0], mad[1]


def match_catalog(
    sources: Table, wcs, ra: np.ndarray, dec: np.ndarray, radius_arcsec: float
) -> Match:
    """Nearest catalog star within ``radius_arcsec`` of each detection (one to one: the nearest
    detection wins a catalog star)."""
    from scipy.spatial import cKDTree

    empty = Match(*(np.zeros(0),) * 4)
    if len(sources) == 0 or len(ra) == 0:
        return empty
    sky = wcs.pixel_to_world_values(np.asarray(sources["x"]), np.asarray(sources["y"]))
    sra, sdec = np.asarray(sky[0], float), np.asarray(sky[1], float)
    dec0 = np.deg2rad(float(np.median(sdec)))
    # Tangent-plane offsets in arcsec around the field centre are exact enough for a few arcmin.
    ra0 = float(np.median(sra))

    def plane(r, d):
        return np.column_stack(
            [((r - ra0 + 180) % 360 - 180) * np.cos(dec0) * 3600, (d - np.rad2deg(dec0)) * 3600]
        )

    src, cat = plane(sra, sdec), plane(np.asarray(ra, float), np.asarray(dec, float))
    dist, idx = cKDTree(cat).query(src, distance_upper_bound=radius_arcsec)
    ok = np.isfinite(dist)
    best: dict[int, int] = {}
    for i in np.flatnonzero(ok):
        j = int(idx[i])
        if j not in best or dist[i] < dist[best[j]]:
            best[j] = int(i)
    si = np.array(sorted(best.values()), int)
    if si.size == 0:
        return empty
    ci = idx[si]
    diff = src[si] - cat[ci]
    return Match(np.asarray(sources["x"])[si], np.asarray(sources["y"])[si], diff[:, 0], diff[:, 1])


def median_star_stamp(
    sci: np.ndarray,
    mask: np.ndarray | None,
    sources: Table,
    size: int = 25,
    max_stars: int = 50,
    saturation: float | None = None,
) -> tuple[np.ndarray, int]:
    """Median of peak-normalised stamps of bright, isolated, unmasked stars; and the star count."""
    half = size // 2
    ny, nx = sci.shape
    if len(sources) == 0:
        return np.zeros((size, size)), 0
    order = np.argsort(-np.asarray(sources["flux"]))
    xs, ys = np.asarray(sources["x"]), np.asarray(sources["y"])
    stamps = []
    for k in order:
        x, y = int(round(xs[k])), int(round(ys[k]))
        if not (half <= x < nx - half and half <= y < ny - half):
            continue
        near = np.hypot(xs - xs[k], ys - ys[k])
        if np.sum(near < size) > 1:  # another source inside the stamp
            continue
        cut = sci[y - half : y + half + 1, x - half : x + half + 1]
        if mask is not None and np.any(mask[y - half : y + half + 1, x - half : x + half + 1]):
            continue
        peak = float(cut.max())
        if peak <= 0 or (saturation is not None and peak >= saturation):
            continue
        stamps.append(cut / cut.sum())
        if len(stamps) >= max_stars:
            break
    if not stamps:
        return np.zeros((size, size)), 0
    return np.median(np.array(stamps), axis=0), len(stamps)


def stamp_sigmas(stamp: np.ndarray) -> tuple[float, float]:
    """Second-moment widths (sigma_x, sigma_y) of a stamp's positive core, in stamp pixels."""
    data = np.clip(np.asarray(stamp, float), 0, None)
    core = data > 0.05 * data.max() if data.max() > 0 else data > 0
    weights = np.where(core, data, 0.0)
    total = weights.sum()
    if total <= 0:
        return float("nan"), float("nan")
    yy, xx = np.indices(data.shape)
    cx, cy = (weights * xx).sum() / total, (weights * yy).sum() / total
    sx = np.sqrt((weights * (xx - cx) ** 2).sum() / total)
    sy = np.sqrt((weights * (yy - cy) ** 2).sum() / total)
    return float(sx), float(sy)


@dataclass
class MoffatFit:
    """Radial profile of a PSF stamp and the Moffat function fitted to it."""

    radius: np.ndarray  #: radius of each stamp pixel, in image pixels
    value: np.ndarray  #: stamp value, normalised to the fitted amplitude
    amplitude: float
    gamma: float  #: core width, image pixels
    alpha: float  #: power index

    @property
    def fwhm(self) -> float:
        """Full width at half maximum, image pixels."""
        return float(2 * abs(self.gamma) * np.sqrt(2 ** (1 / self.alpha) - 1))

    def model(self, r: np.ndarray) -> np.ndarray:
        """The fitted profile (normalised like ``value``)."""
        return (1 + (r / self.gamma) ** 2) ** (-self.alpha)


def fit_moffat_profile(stamp: np.ndarray, oversampling: int = 1) -> MoffatFit | None:
    """Fit a circular Moffat profile to a stamp's pixels around its centroid (None if it fails)."""
    from astropy.modeling import fitting, models

    data = np.asarray(stamp, float)
    if not np.isfinite(data).all() or data.max() <= 0:
        return None
    yy, xx = np.indices(data.shape)
    weights = np.clip(data, 0, None)
    cx, cy = (weights * xx).sum() / weights.sum(), (weights * yy).sum() / weights.sum()
    r = np.hypot(xx - cx, yy - cy).ravel() / oversampling
    v = data.ravel()
    model = models.Moffat1D(
        amplitude=v.max(),
        x_0=0.0,
        gamma=2.0,
        alpha=2.5,
        fixed={"x_0": True},
        bounds={"gamma": (0.1, 50), "alpha": (0.5, 20)},
    )
    try:
        fit = fitting.LevMarLSQFitter()(model, r, v)
    except Exception:  # a degenerate stamp: the report says the fit failed
        return None
    amp = float(fit.amplitude.value)
    if not np.isfinite(amp) or amp <= 0:
        return None
    return MoffatFit(r, v / amp, amp, float(abs(fit.gamma.value)), float(fit.alpha.value))

"""Fine astrometry: match detected sources to reference stars and fit TAN (+SIP) to them."""

from __future__ import annotations

import warnings
from dataclasses import dataclass

import numpy as np
from astropy.coordinates import SkyCoord
from astropy.io import fits
from astropy.wcs import WCS

from potpyri.astrometry.wcsio import pixel_scale, project_inside

__all__ = ["RefineResult", "match_pairs", "radial_sip_cards", "refine_wcs", "residuals_arcsec"]


@dataclass
class RefineResult:
    """A refined WCS and how well it fits."""

    wcs: WCS
    nstars: int  #: matched stars used in the final fit
    radisp: float  #: robust scatter of the residuals in R.A. (× cos δ), arcsec
    dedisp: float  #: robust scatter of the residuals in Dec., arcsec
    rms_px: float  #: robust RMS of the residuals, pixels
    sip_degree: int  #: 0 when TAN alone fitted best


def refine_wcs(
    x: np.ndarray,
    y: np.ndarray,
    ref_ra: np.ndarray,
    ref_dec: np.ndarray,
    wcs: WCS,
    shape: tuple[int, int],
    *,
    match_radius_px: float = 10.0,
    sip_degree: int = 3,
    clip_sigma: float = 3.0,
    min_stars: int = 6,
    iterations: int = 6,
) -> RefineResult:
    """Refine ``wcs`` by matching sources to reference stars and refitting.

    Matching is nearest-neighbour in pixels, starting at ``match_radius_px`` and shrinking to a
    few times the residual scatter; each fit is sigma-clipped. A TAN fit is always made; SIP of
    ``sip_degree`` replaces it when there are enough stars (≥ 4 per coefficient) and it lowers
    the residual scatter by more than 10 % (the distortion is real, not fitted noise).

    Parameters
    ----------
    x, y : numpy.ndarray
        Detected source centroids, 0-based pixels.
    ref_ra, ref_dec : numpy.ndarray
        Reference positions in degrees, at the epoch of the image.
    wcs : astropy.wcs.WCS
        Starting WCS, good to a fraction of ``match_radius_px``.
    shape : tuple of int
        Image shape (ny, nx).

    Raises
    ------
    ValueError
        When fewer than ``min_stars`` stars match (one line, for the user).
    """
    x, y = np.asarray(x, float), np.asarray(y, float)
    ny, nx = shape
    ref = SkyCoord(np.asarray(ref_ra, float), np.asarray(ref_dec, float), unit="deg")
    current = wcs
    radius = float(match_radius_px)
    result: RefineResult | None = None
    for _ in range(iterations):
        pairs = match_pairs(x, y, ref, current, shape, radius)
        if len(pairs[0]) < min_stars:
            raise ValueError(
                f"only {len(pairs[0])} sources match reference stars within {radius:.1f} px "
                f"(need {min_stars})"
            )
        result = _fit(
            x[pairs[0]], y[pairs[0]], ref[pairs[1]], (nx, ny), sip_degree, clip_sigma, min_stars
        )
        current = result.wcs
        radius = float(np.clip(5.0 * result.rms_px, 1.0, radius))
    assert result is not None
    return result


def residuals_arcsec(
    wcs: WCS, x: np.ndarray, y: np.ndarray, ref: SkyCoord
) -> tuple[np.ndarray, np.ndarray]:
    """Reference minus fitted positions, (ΔR.A. cos δ, ΔDec.) in arcsec."""
    fitted = wcs.pixel_to_world(x, y)
    dra, ddec = fitted.spherical_offsets_to(ref)
    return dra.to_value("arcsec"), ddec.to_value("arcsec")


def match_pairs(
    x: np.ndarray, y: np.ndarray, ref: SkyCoord, wcs: WCS, shape: tuple[int, int], radius: float
) -> tuple[np.ndarray, np.ndarray]:
    """One-to-one nearest-neighbour pairs (source index, reference index) within ``radius``
    pixels, the reference stars placed through ``wcs``."""
    from scipy.spatial import cKDTree

    rx, ry, idx_ref = project_inside(wcs, ref, shape, radius)
    if len(idx_ref) == 0 or len(x) == 0:
        return np.array([], int), np.array([], int)
    tree = cKDTree(np.column_stack([rx[idx_ref], ry[idx_ref]]))
    dist, nearest = tree.query(np.column_stack([x, y]), distance_upper_bound=radius)
    found = np.isfinite(dist)
    src = np.flatnonzero(found)
    refi = idx_ref[nearest[found]]
    # One reference star per source: keep the closest source when two claim the same star.
    order = np.argsort(dist[found])
    _, first = np.unique(refi[order], return_index=True)
    keep = order[first]
    return src[keep], refi[keep]


def _fit(
    x, y, ref: SkyCoord, size, sip_degree: int, clip_sigma: float, min_stars: int
) -> RefineResult:
    """Sigma-clipped fit of the simplest model the residuals call for.

    Candidates, simplest first: TAN; TAN with a radial cubic distortion (one coefficient: the
    pincushion/barrel of imager optics, written as SIP A_3_0 = A_1_2 = B_2_1 = B_0_3); full SIP
    of ``sip_degree`` when there are at least four stars per coefficient. A richer model is kept
    only when it lowers χ² significantly (an F-like test at ~3σ), so sparse fields are not
    over-fitted.
    """
    use = np.ones(len(x), bool)
    best = None
    for _ in range(6):
        chosen, degree = None, 0
        for model in ("tan", "radial", "sip"):
            if model == "sip":
                n_coeff = (
                    2 * ((sip_degree + 1) * (sip_degree + 2) // 2 - 3) if sip_degree >= 2 else 0
                )
                if not n_coeff or use.sum() < 4 * n_coeff:
                    continue
                wcs, n_par, deg = (
                    _fit_sip(x[use], y[use], ref[use], size, sip_degree),
                    6 + n_coeff,
                    sip_degree,
                )
            else:
                if model == "radial" and use.sum() < 7:  # 7 parameters: at least 14 equations
                    continue
                wcs, n_par, deg = (
                    _fit_radial(x[use], y[use], ref[use], size, model == "radial"),
                    6 + (model == "radial"),
                    3 if model == "radial" else 0,
                )
            dra, dde = residuals_arcsec(wcs, x, y, ref)
            chi2 = float(np.sum(dra[use] ** 2 + dde[use] ** 2))
            dof = 2 * int(use.sum()) - n_par
            if dof <= 0:
                continue
            if chosen is None:
                chosen = (wcs, deg, dra, dde, chi2, n_par)
                continue
            _, _, _, _, chi2_0, n_par_0 = chosen
            f_stat = (chi2_0 - chi2) / (n_par - n_par_0) / max(chi2 / dof, 1e-30)
            if f_stat > 9.0:
                chosen = (wcs, deg, dra, dde, chi2, n_par)
        assert chosen is not None
        wcs, degree, dra, dde, _, _ = chosen
        r = np.hypot(dra, dde)
        limit = clip_sigma * 1.4826 * np.median(r[use]) * 1.2 + 1e-4
        new_use = r <= max(limit, np.median(r[use]))
        best = (wcs, degree, dra, dde, use.copy())
        if new_use.sum() < min_stars or np.array_equal(new_use, use):
            break
        use = new_use
    assert best is not None
    wcs, degree, dra, dde, use = best
    rms = np.sqrt(np.mean(dra[use] ** 2 + dde[use] ** 2)) / pixel_scale(wcs)
    return RefineResult(
        wcs, int(use.sum()), _robust_std(dra[use]), _robust_std(dde[use]), float(rms), degree
    )


def _fit_sip(x, y, ref: SkyCoord, size, sip_degree: int) -> WCS:
    from astropy.wcs.utils import fit_wcs_from_points

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        wcs = fit_wcs_from_points((x, y), ref, proj_point="center", sip_degree=sip_degree)
    wcs.pixel_shape = size
    return wcs


def _fit_radial(x, y, ref: SkyCoord, size, radial: bool) -> WCS:
    """TAN about the image centre, optionally with one radial cubic distortion term.

    Least squares in the tangent plane: ξ, η = CD · (u + k u r², v + k v r²) + (ξ₀, η₀), with
    (u, v) pixel offsets from the image centre; the tangent point is then moved to (ξ₀, η₀) and
    the fit repeated, so that CRVAL ends at the image centre.
    """
    from scipy.optimize import least_squares

    nx, ny = size
    cx, cy = (nx - 1) / 2.0, (ny - 1) / 2.0
    u, v = np.asarray(x) - cx, np.asarray(y) - cy
    r_corner = np.hypot(cx, cy)
    ra0, dec0 = float(np.mean(ref.ra.deg)), float(np.mean(ref.dec.deg))
    cd = None
    q = 0.0  # distortion at the corner, pixels
    for _ in range(3):
        xi, eta = _gnomonic(ref.ra.deg, ref.dec.deg, ra0, dec0)
        if cd is None:
            design = np.column_stack([u, v, np.ones_like(u)])
            cx_sol = np.linalg.lstsq(design, xi, rcond=None)[0]
            cy_sol = np.linalg.lstsq(design, eta, rcond=None)[0]
            cd = np.array([[cx_sol[0], cx_sol[1]], [cy_sol[0], cy_sol[1]]])
            start = [*cd.ravel(), cx_sol[2], cy_sol[2], 0.0]
        else:
            start = [*cd.ravel(), 0.0, 0.0, q]
        scale = np.sqrt(abs(np.linalg.det(cd)))

        def model(p, u=u, v=v, xi=xi, eta=eta, scale=scale):
            k = p[6] / r_corner**3 if radial else 0.0
            r2 = u**2 + v**2
            up, vp = u + k * u * r2, v + k * v * r2
            mx = p[0] * up + p[1] * vp + p[4]
            my = p[2] * up + p[3] * vp + p[5]
            return np.concatenate([mx - xi, my - eta]) / scale

        fit = least_squares(model, start, x_scale=[scale] * 6 + [1.0], method="lm")
        p = fit.x
        cd = p[:4].reshape(2, 2)
        q = float(p[6]) if radial else 0.0
        ra0, dec0 = _gnomonic_inverse(p[4], p[5], ra0, dec0)
    header = {
        "NAXIS": 2,
        "NAXIS1": nx,
        "NAXIS2": ny,
        "CTYPE1": "RA---TAN",
        "CTYPE2": "DEC--TAN",
        "CRPIX1": cx + 1.0,
        "CRPIX2": cy + 1.0,
        "CRVAL1": ra0,
        "CRVAL2": dec0,
        "CD1_1": cd[0, 0],
        "CD1_2": cd[0, 1],
        "CD2_1": cd[1, 0],
        "CD2_2": cd[1, 1],
        "RADESYS": "ICRS",
    }
    if radial:
        k = q / r_corner**3
        header.update(
            {
                "CTYPE1": "RA---TAN-SIP",
                "CTYPE2": "DEC--TAN-SIP",
                **radial_sip_cards(k),
            }
        )
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        wcs = WCS(fits.Header(header))
    wcs.pixel_shape = size
    return wcs


def _gnomonic(ra, dec, ra0, dec0):
    """Standard coordinates (ξ, η) in degrees of (ra, dec) about the tangent point (ra0, dec0)."""
    a, d, a0, d0 = (np.deg2rad(np.asarray(v, float)) for v in (ra, dec, ra0, dec0))
    den = np.sin(d) * np.sin(d0) + np.cos(d) * np.cos(d0) * np.cos(a - a0)
    xi = np.cos(d) * np.sin(a - a0) / den
    eta = (np.sin(d) * np.cos(d0) - np.cos(d) * np.sin(d0) * np.cos(a - a0)) / den
    return np.rad2deg(xi), np.rad2deg(eta)


def _gnomonic_inverse(xi, eta, ra0, dec0):
    """(ra, dec) in degrees of standard coordinates (ξ, η) [deg] about (ra0, dec0)."""
    x, y = np.deg2rad(xi), np.deg2rad(eta)
    a0, d0 = np.deg2rad(ra0), np.deg2rad(dec0)
    rho = np.hypot(x, y)
    c = np.arctan(rho)
    if rho == 0:
        return float(ra0), float(dec0)
    dec = np.arcsin(np.cos(c) * np.sin(d0) + y * np.sin(c) * np.cos(d0) / rho)
    ra = a0 + np.arctan2(x * np.sin(c), rho * np.cos(d0) * np.cos(c) - y * np.sin(d0) * np.sin(c))
    return float(np.rad2deg(ra) % 360.0), float(np.rad2deg(dec))


def _robust_std(values: np.ndarray) -> float:
    if len(values) < 2:
        return float("nan")
    mad = np.median(np.abs(values - np.median(values)))
    return float(1.4826 * mad)


def radial_sip_cards(k: float) -> dict[str, float]:
    """SIP cards of a pure radial (third-order) distortion: x' = x (1 + k r^2), likewise y."""
    return {"A_ORDER": 3, "B_ORDER": 3, "A_3_0": k, "A_1_2": k, "B_2_1": k, "B_0_3": k}

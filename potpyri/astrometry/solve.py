"""Astrometry: a coarse plate solution (astrometry.net or a built-in pattern matcher) and its
refinement against Gaia DR3 (TAN, plus distortion where the residuals call for it).

Pure functions on arrays, WCS objects and tables; the ``astrometry``, ``align`` and
``stack_wcs`` steps are thin wrappers around :func:`coarse_solve` and :func:`fine_align`.
"""

from __future__ import annotations

import logging
import os
from dataclasses import dataclass

import numpy as np
from astropy.table import Table
from astropy.wcs import WCS

from potpyri.astrometry import anet
from potpyri.astrometry.detect import detect_sources, detection_mask
from potpyri.astrometry.match import match_pattern, solve_builtin
from potpyri.astrometry.refine import RefineResult, refine_wcs
from potpyri.astrometry.wcsio import (
    field_radius_deg,
    frame_epoch,
    header_wcs,
    pixel_scale,
    pointing,
    replace_wcs,
)

__all__ = [
    "AstrometryFailed",
    "CoarseResult",
    "RefineResult",
    "coarse_solve",
    "detect_sources",
    "detection_mask",
    "field_radius_deg",
    "fine_align",
    "frame_epoch",
    "gaia_reference",
    "header_wcs",
    "match_pattern",
    "pixel_scale",
    "pointing",
    "refine_wcs",
    "replace_wcs",
    "solve_builtin",
]

log = logging.getLogger("potpyri.astrometry")


class AstrometryFailed(ValueError):
    """No trustworthy solution; the message is one line for the user."""


@dataclass
class CoarseResult:
    """A coarse solution: the WCS, which solver found it, and how many stars confirm it."""

    wcs: WCS
    method: str  #: "astrometry.net" or "builtin"
    nmatch: int  #: detected sources within ``confirm_arcsec`` of a reference star
    seconds: float = 0.0


def coarse_solve(
    sources: Table,
    shape: tuple[int, int],
    start_wcs: WCS,
    reference: Table,
    *,
    scale_arcsec: float,
    search_radius_arcsec: float = 30.0,
    method: str = "auto",
    index_dir: str | os.PathLike | None = None,
    index_cache: str | os.PathLike | None = None,
    cpulimit: float = 10.0,
    max_rotation_deg: float = 10.0,
    min_matches: int = 5,
    confirm_arcsec: float = 2.0,
) -> CoarseResult:
    """Solve a frame from its detected sources and reference stars.

    Parameters
    ----------
    sources : astropy.table.Table
        ``x, y, flux`` (0-based), brightest first (:func:`detect_sources`).
    shape : tuple of int
        Image shape (ny, nx).
    start_wcs : astropy.wcs.WCS
        The header WCS: its pointing is the search centre, and the built-in matcher starts from it.
    reference : astropy.table.Table
        ``ra, dec`` (deg, at the frame's epoch) and ``mag``, covering the field plus the search
        radius.
    scale_arcsec : float
        Expected pixel scale (instrument × binning); astrometry.net searches ±20 %.
    method : {"auto", "astrometry.net", "builtin"}
        ``auto`` uses astrometry.net when ``solve-field`` is on PATH, else the built-in matcher.
    index_dir : path, optional
        A folder of astrometry.net index files to use instead of building one from ``reference``.
    index_cache : path, optional
        Where per-field indices are cached (required for astrometry.net without ``index_dir``).
    cpulimit : float
        CPU seconds after which solve-field gives up.

    Raises
    ------
    AstrometryFailed
        With a one-line reason.
    """
    import time

    if len(sources) < min_matches:
        raise AstrometryFailed(
            f"only {len(sources)} sources detected (need {min_matches}); no stars to solve with"
        )
    if len(reference) < min_matches:
        raise AstrometryFailed(
            f"only {len(reference)} reference stars in the field (need {min_matches})"
        )
    if method == "auto":
        method = "astrometry.net" if anet.available() else "builtin"
        if method == "builtin":
            log.info("solve-field is not on PATH: using the built-in pattern matcher")
    ref = reference.copy()
    if "mag" in ref.colnames:
        ref.sort("mag")
    start = time.perf_counter()
    margin_px = search_radius_arcsec / scale_arcsec
    if method == "astrometry.net":
        ra0, dec0 = pointing(start_wcs, shape)
        if index_dir is not None:
            folders = [index_dir]
        else:
            if index_cache is None:
                raise ValueError("index_cache is required to build an astrometry.net index")
            field_arcmin = max(shape) * scale_arcsec / 60.0
            mag = (
                np.asarray(ref["mag"], float)
                if "mag" in ref.colnames
                else np.arange(len(ref), dtype=float)
            )
            try:
                folders = [anet.build_index(ref["ra"], ref["dec"], mag, field_arcmin, index_cache)]
            except RuntimeError as exc:
                raise AstrometryFailed(str(exc)) from None
        wcs = anet.solve_field(
            sources["x"],
            sources["y"],
            sources["flux"],
            shape,
            index_dirs=folders,
            ra=ra0,
            dec=dec0,
            radius_deg=search_radius_arcsec / 3600.0 + field_radius_deg(shape, scale_arcsec),
            scale_low=0.8 * scale_arcsec,
            scale_high=1.2 * scale_arcsec,
            cpulimit=cpulimit,
        )
        if wcs is None:
            raise AstrometryFailed(
                f'astrometry.net found no solution within {search_radius_arcsec:.0f}" of the '
                f"header pointing (cpulimit {cpulimit:.0f} s)"
            )
    elif method == "builtin":
        found = solve_builtin(
            sources["x"],
            sources["y"],
            ref["ra"],
            ref["dec"],
            start_wcs,
            shape,
            margin_px=margin_px,
            max_rotation_deg=max_rotation_deg,
            min_matches=min_matches,
        )
        if found is None:
            raise AstrometryFailed(
                f"the built-in matcher found no pattern of ≥{min_matches} stars matching Gaia "
                f'within {search_radius_arcsec:.0f}" and {max_rotation_deg:.0f}° of the header WCS'
            )
        wcs = found[0]
    else:
        raise ValueError(f"unknown astrometry method {method!r}")
    seconds = time.perf_counter() - start
    nmatch = _confirmations(wcs, sources, ref, shape, confirm_arcsec)
    if nmatch < min_matches:
        raise AstrometryFailed(
            f'{method} solution confirmed by only {nmatch} stars within {confirm_arcsec}" '
            f"(need {min_matches})"
        )
    scale = pixel_scale(wcs)
    if not 0.7 * scale_arcsec <= scale <= 1.3 * scale_arcsec:
        raise AstrometryFailed(
            f'{method} solution has pixel scale {scale:.4f}"/px, expected {scale_arcsec:.4f}'
        )
    return CoarseResult(wcs, method, nmatch, seconds)


def fine_align(
    sources: Table,
    shape: tuple[int, int],
    wcs: WCS,
    reference: Table,
    *,
    match_radius_arcsec: float = 2.0,
    sip_degree: int = 3,
    clip_sigma: float = 3.0,
    min_stars: int = 6,
) -> RefineResult:
    """Refine a WCS good to about an arcsecond against reference stars (see :func:`refine_wcs`).

    Raises
    ------
    AstrometryFailed
        When too few stars match.
    """
    scale = pixel_scale(wcs)
    try:
        return refine_wcs(
            sources["x"],
            sources["y"],
            reference["ra"],
            reference["dec"],
            wcs,
            shape,
            match_radius_px=max(match_radius_arcsec / scale, 1.5),
            sip_degree=sip_degree,
            clip_sigma=clip_sigma,
            min_stars=min_stars,
        )
    except ValueError as exc:
        raise AstrometryFailed(str(exc)) from None


def _confirmations(wcs: WCS, sources: Table, ref: Table, shape, radius_arcsec: float) -> int:
    from astropy.coordinates import SkyCoord

    from potpyri.astrometry.refine import _match

    coords = SkyCoord(np.asarray(ref["ra"], float), np.asarray(ref["dec"], float), unit="deg")
    radius = radius_arcsec / pixel_scale(wcs)
    src, _ = _match(
        np.asarray(sources["x"], float), np.asarray(sources["y"], float), coords, wcs, shape, radius
    )
    return len(src)


def gaia_reference(
    ra: float,
    dec: float,
    radius_deg: float,
    *,
    epoch: float | None,
    cache_dir: str | os.PathLike | None = None,
    offline: bool = False,
    catalog: str = "gaia",
) -> Table:
    """Reference stars around (ra, dec) at ``epoch`` (proper motions applied), brightest first.

    Raises
    ------
    AstrometryFailed
        When the catalog cannot be reached and no cached answer covers the cone (one line).
    """
    from potpyri.catalogs import CatalogUnavailable, query

    try:
        table = query(
            catalog, ra, dec, radius_deg, epoch=epoch, cache_dir=cache_dir, offline=offline
        )
    except CatalogUnavailable as exc:
        raise AstrometryFailed(f"reference catalog unavailable: {exc}") from None
    table = table[
        np.isfinite(np.asarray(table["ra"], float)) & np.isfinite(np.asarray(table["dec"], float))
    ]
    mag_col = next((c for c in ("G_mag", "r_mag", "J_mag") if c in table.colnames), None)
    if mag_col is not None:
        table["mag"] = np.nan_to_num(np.asarray(table[mag_col], float), nan=99.0)
        table.sort("mag")
    return table

"""Coarse astrometry: a frame's plate solution from its sources and reference stars, by
astrometry.net (with an index built from the reference stars) or the built-in pattern matcher,
confirmed by the stars it maps onto each other.

Pure functions on tables, WCS objects and HDU lists; the ``astrometry`` step is a thin wrapper
around :func:`coarse_solve` and :func:`write_solution`.
"""

from __future__ import annotations

import logging
import os
import time
from dataclasses import dataclass

import numpy as np
from astropy.coordinates import SkyCoord
from astropy.io import fits
from astropy.table import Table
from astropy.wcs import WCS

from potpyri.astrometry import anet
from potpyri.astrometry.errors import AstrometryFailed
from potpyri.astrometry.match import solve_builtin
from potpyri.astrometry.refine import match_pairs
from potpyri.astrometry.wcsio import field_radius_deg, pixel_scale, pointing, replace_wcs

__all__ = ["CoarseResult", "coarse_solve", "write_solution"]

log = logging.getLogger("potpyri.astrometry")


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
    if method == "astrometry.net":
        wcs = _anet_solution(
            sources,
            shape,
            start_wcs,
            ref,
            scale_arcsec=scale_arcsec,
            search_radius_arcsec=search_radius_arcsec,
            index_dir=index_dir,
            index_cache=index_cache,
            cpulimit=cpulimit,
        )
    elif method == "builtin":
        wcs = _builtin_solution(
            sources,
            shape,
            start_wcs,
            ref,
            margin_px=search_radius_arcsec / scale_arcsec,
            search_radius_arcsec=search_radius_arcsec,
            max_rotation_deg=max_rotation_deg,
            min_matches=min_matches,
        )
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


def write_solution(hdul: fits.HDUList, result: CoarseResult, epoch: float | None) -> None:
    """Put the solution in every header of ``hdul``, with ASTROMET, NASTRO, ASTRSCAL (and
    ASTREPOC, the reference stars' epoch) in the primary header."""
    replace_wcs(hdul, result.wcs)
    hdr = hdul[0].header
    hdr["ASTROMET"] = (result.method, "coarse astrometric solver")
    hdr["NASTRO"] = (result.nmatch, "stars confirming the astrometric solution")
    hdr["ASTRSCAL"] = (round(pixel_scale(result.wcs), 5), "solved pixel scale, arcsec/pixel")
    if epoch is not None:
        hdr["ASTREPOC"] = (round(epoch, 4), "epoch of the Gaia positions used, yr")


def _anet_solution(
    sources: Table,
    shape: tuple[int, int],
    start_wcs: WCS,
    ref: Table,
    *,
    scale_arcsec: float,
    search_radius_arcsec: float,
    index_dir: str | os.PathLike | None,
    index_cache: str | os.PathLike | None,
    cpulimit: float,
) -> WCS:
    """astrometry.net around the header pointing, with ``index_dir`` or an index built from
    ``ref`` (brightest first) and cached in ``index_cache``."""
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
    return wcs


def _builtin_solution(
    sources: Table,
    shape: tuple[int, int],
    start_wcs: WCS,
    ref: Table,
    *,
    margin_px: float,
    search_radius_arcsec: float,
    max_rotation_deg: float,
    min_matches: int,
) -> WCS:
    """The built-in pattern matcher, starting from the header WCS."""
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
    return found[0]


def _confirmations(wcs: WCS, sources: Table, ref: Table, shape, radius_arcsec: float) -> int:
    """How many sources lie within ``radius_arcsec`` of a reference star placed through ``wcs``."""
    coords = SkyCoord(np.asarray(ref["ra"], float), np.asarray(ref["dec"], float), unit="deg")
    radius = radius_arcsec / pixel_scale(wcs)
    src, _ = match_pairs(
        np.asarray(sources["x"], float), np.asarray(sources["y"], float), coords, wcs, shape, radius
    )
    return len(src)

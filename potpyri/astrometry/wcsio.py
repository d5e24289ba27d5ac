"""WCS bookkeeping: a header's WCS in and out, pointings, pixel scales and field sizes."""

from __future__ import annotations

import re
import warnings

import numpy as np
from astropy.coordinates import SkyCoord
from astropy.io import fits
from astropy.wcs import WCS

__all__ = [
    "expected_scale",
    "field_radius_deg",
    "frame_wcs",
    "header_wcs",
    "pixel_scale",
    "pointing",
    "project_inside",
    "replace_wcs",
]

# Keywords of any celestial WCS (primary or alternate), SIP and TPV distortion included.
_WCS_KEY = re.compile(
    r"^(WCSAXES|WCSNAME|CTYPE\d|CRVAL\d|CRPIX\d|CDELT\d|CUNIT\d|CROTA\d|CD\d_\d|PC\d_\d|PV\d_\d+|"
    r"LONPOLE|LATPOLE|RADESYS|RADECSYS|EQUINOX|EPOCH|A_ORDER|B_ORDER|AP_ORDER|BP_ORDER|"
    r"A_\d+_\d+|B_\d+_\d+|AP_\d+_\d+|BP_\d+_\d+|A_DMAX|B_DMAX)[A-Z]?$"
)


def header_wcs(header: fits.Header, *, celestial: bool = True) -> WCS | None:
    """The WCS of a header, parsed with astropy's header-repair warnings silenced.

    Parameters
    ----------
    header : astropy.io.fits.Header
        Any header; SIP and other non-standard conventions are accepted (``relax=True``).
    celestial : bool
        True: the celestial part, or None when the header has none or cannot be parsed.
        False: the WCS as parsed, every axis, a parse error raised (for callers that check
        ``has_celestial`` themselves).
    """
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            wcs = WCS(header, relax=True)
    except Exception:
        if not celestial:
            raise
        return None
    if not celestial:
        return wcs
    return wcs.celestial if wcs.has_celestial else None


def frame_wcs(hdul: fits.HDUList) -> WCS | None:
    """The celestial WCS of the SCI header, else of the primary header; None when neither has
    one."""
    return header_wcs(hdul["SCI"].header) or header_wcs(hdul[0].header)


def replace_wcs(hdul: fits.HDUList, wcs: WCS) -> None:
    """Put ``wcs`` in every header of ``hdul`` (primary and extensions), removing any old WCS."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        cards = wcs.to_header(relax=True)
    for key in ("DATE-OBS", "MJD-OBS", "MJDREF", "TIMESYS", "DATEREF", "MJD-END", "DATE-END"):
        cards.remove(key, ignore_missing=True)
    for hdu in hdul:
        header = hdu.header
        for key in [k for k in header if _WCS_KEY.match(k)]:
            header.remove(key, ignore_missing=True, remove_all=True)
        header.update(cards)


def pointing(wcs: WCS, shape: tuple[int, int]) -> tuple[float, float]:
    """Sky position (deg) of the image centre."""
    ny, nx = shape
    ra, dec = wcs.all_pix2world([(nx - 1) / 2.0], [(ny - 1) / 2.0], 0)
    return float(ra[0]), float(dec[0])


def project_inside(
    wcs: WCS, coords: SkyCoord, shape: tuple[int, int], margin_px: float
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Pixel positions (0-based) of ``coords`` through ``wcs``, and the indices of those that
    fall within ``margin_px`` of the image (projection failures excluded)."""
    ny, nx = shape
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        rx, ry = wcs.world_to_pixel(coords)
    inside = np.flatnonzero(
        np.isfinite(rx)
        & np.isfinite(ry)
        & (rx > -margin_px)
        & (rx < nx + margin_px)
        & (ry > -margin_px)
        & (ry < ny + margin_px)
    )
    return rx, ry, inside


def pixel_scale(wcs: WCS) -> float:
    """Mean pixel scale, arcsec/pixel."""
    return float(np.sqrt(abs(np.linalg.det(wcs.pixel_scale_matrix))) * 3600.0)


def field_radius_deg(shape: tuple[int, int], scale_arcsec: float) -> float:
    """Half the image diagonal, degrees."""
    ny, nx = shape
    return 0.5 * float(np.hypot(nx, ny)) * scale_arcsec / 3600.0


def expected_scale(pixscale: float | None, binning: str, fallback_wcs: WCS) -> float:
    """Pixel scale in arcsec: the unbinned ``pixscale`` × the binning's first factor (``"2x2"``),
    else (unknown scale or binning) the scale of ``fallback_wcs``."""
    try:
        factor = int(str(binning)[0])
        scale = float(pixscale) * factor
        if scale > 0:
            return scale
    except (ValueError, TypeError, IndexError):
        pass
    return pixel_scale(fallback_wcs)

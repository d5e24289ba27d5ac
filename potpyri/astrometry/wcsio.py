"""WCS bookkeeping shared by the astrometry steps: header WCS in and out, epochs, pointings."""

from __future__ import annotations

import re
import warnings

import numpy as np
from astropy.io import fits
from astropy.wcs import WCS

__all__ = [
    "field_radius_deg",
    "frame_epoch",
    "header_wcs",
    "pixel_scale",
    "pointing",
    "replace_wcs",
]

# Keywords of any celestial WCS (primary or alternate), SIP and TPV distortion included.
_WCS_KEY = re.compile(
    r"^(WCSAXES|WCSNAME|CTYPE\d|CRVAL\d|CRPIX\d|CDELT\d|CUNIT\d|CROTA\d|CD\d_\d|PC\d_\d|PV\d_\d+|"
    r"LONPOLE|LATPOLE|RADESYS|RADECSYS|EQUINOX|EPOCH|A_ORDER|B_ORDER|AP_ORDER|BP_ORDER|"
    r"A_\d+_\d+|B_\d+_\d+|AP_\d+_\d+|BP_\d+_\d+|A_DMAX|B_DMAX)[A-Z]?$"
)


def header_wcs(header: fits.Header) -> WCS | None:
    """The celestial WCS of a header, or None when it has none."""
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            wcs = WCS(header, relax=True)
    except Exception:
        return None
    return wcs.celestial if wcs.has_celestial else None


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


def pixel_scale(wcs: WCS) -> float:
    """Mean pixel scale, arcsec/pixel."""
    return float(np.sqrt(abs(np.linalg.det(wcs.pixel_scale_matrix))) * 3600.0)


def field_radius_deg(shape: tuple[int, int], scale_arcsec: float) -> float:
    """Half the image diagonal, degrees."""
    ny, nx = shape
    return 0.5 * float(np.hypot(nx, ny)) * scale_arcsec / 3600.0


def frame_epoch(header: fits.Header, fallback: str | float | None = None) -> float | None:
    """Decimal year of the observation from MJD-OBS, MJD, DATE-OBS (or ``fallback``, an MJD)."""
    from astropy.time import Time

    for key, fmt in (("MJD-OBS", "mjd"), ("MJD", "mjd"), ("DATE-OBS", None)):
        value = header.get(key)
        if value in (None, ""):
            continue
        try:
            return float(
                Time(float(value), format="mjd").decimalyear
                if fmt
                else Time(str(value)).decimalyear
            )
        except (ValueError, TypeError):
            continue
    try:
        return (
            float(Time(float(fallback), format="mjd").decimalyear)
            if fallback not in (None, "")
            else None
        )
    except (ValueError, TypeError):
        return None

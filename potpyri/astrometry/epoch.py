"""Observation epochs: the decimal year at which reference positions are propagated."""

from __future__ import annotations

from astropy.io import fits
from astropy.time import Time

__all__ = ["frame_epoch", "mjd_epoch"]


def mjd_epoch(mjd: str | float | None) -> float | None:
    """Decimal year of a Modified Julian Date, or None when ``mjd`` is not a number."""
    try:
        return float(Time(float(mjd), format="mjd").decimalyear)
    except (ValueError, TypeError):
        return None


def frame_epoch(header: fits.Header, fallback: str | float | None = None) -> float | None:
    """Decimal year of the observation from MJD-OBS, MJD, DATE-OBS (or ``fallback``, an MJD)."""
    for key in ("MJD-OBS", "MJD"):
        epoch = mjd_epoch(header.get(key))
        if epoch is not None:
            return epoch
    value = header.get("DATE-OBS")
    if value not in (None, ""):
        try:
            return float(Time(str(value)).decimalyear)
        except (ValueError, TypeError):
            pass
    return mjd_epoch(fallback)

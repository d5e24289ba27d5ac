"""The start of an exposure as an MJD, from whichever keywords the instrument writes."""

from __future__ import annotations

from typing import Any

from astropy.time import Time

__all__ = ["frame_mjd"]


def frame_mjd(header: Any, mjd_keyword: str, time_keyword: str = "") -> float | None:
    """MJD of the exposure start, or None when the keywords are missing or malformed.

    ``mjd_keyword`` may hold an MJD (a number, or text as in LRIS ``MJD-OBS``) or an ISO date
    (``DATE-OBS``, with or without the time); ``time_keyword`` (``TIME-OBS``, ``UTSTART``) is
    appended when the date has no time of its own. F2 needs this: its MJD-OBS is float32-rounded.
    """
    value = header.get(mjd_keyword) if mjd_keyword else None
    if value in (None, ""):
        return None
    try:
        return float(value)
    except (TypeError, ValueError):
        pass
    text = str(value).strip()
    if "T" not in text and time_keyword and header.get(time_keyword) not in (None, ""):
        text = f"{text}T{str(header[time_keyword]).strip()}"
    try:
        return float(Time(text, format="isot", scale="utc").mjd)
    except ValueError:
        try:
            return float(Time(text.split("T")[0], format="iso", scale="utc").mjd)
        except ValueError:
            return None

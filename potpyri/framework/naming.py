"""Product file names in the reference's scheme, from sanitised header values."""

from __future__ import annotations

from typing import Any

from astropy.time import Time

from potpyri.framework.products import safe_name

__all__ = ["frame_filename", "stack_filename", "ut_date"]


def ut_date(mjd: Any) -> str:
    """``YYYYMMDD`` of an MJD or an ISO date (``'00000000'`` if it is missing or malformed)."""
    try:
        return Time(float(mjd), format="mjd").strftime("%Y%m%d")
    except (TypeError, ValueError):
        pass
    try:
        return Time(str(mjd).strip(), format="isot").strftime("%Y%m%d")
    except ValueError:
        return "00000000"


def _stem(meta: dict[str, Any]) -> str:
    return ".".join(
        [
            safe_name(meta.get("target")),
            safe_name(meta.get("filter")),
            ut_date(meta.get("time")),
            safe_name(meta.get("amp")),
            safe_name(meta.get("binning")),
        ]
    )


def frame_filename(meta: dict[str, Any], raw_name: str) -> str:
    """``{object}.{filter}.{ut_date}.{amp}.{binning}.{n}.fits``, ``n`` the raw file's own name.

    Using the raw name (unique within raw/) as the number keeps every frame's name distinct.
    """
    return f"{_stem(meta)}.{safe_name(raw_name.split('.fits')[0])}.fits"


def stack_filename(meta: dict[str, Any]) -> str:
    """``{object}.{filter}.{ut_date}.{amp}.{binning}.stk.fits``."""
    return f"{_stem(meta)}.stk.fits"

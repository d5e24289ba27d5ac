"""Product file names in the reference's scheme, from sanitised header values."""

from __future__ import annotations

from typing import Any

from potpyri.files import safe_name, ut_date

__all__ = ["frame_filename", "stack_filename"]


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

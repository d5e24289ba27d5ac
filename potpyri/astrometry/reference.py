"""Reference stars for solving and refining a WCS: a catalog cone at the frame's epoch."""

from __future__ import annotations

import os

import numpy as np
from astropy.table import Table

from potpyri.astrometry.errors import AstrometryFailed
from potpyri.catalogs import CatalogUnavailable, query

__all__ = ["gaia_reference"]


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

"""Reference stars for solving and refining a WCS: a catalog cone at the frame's epoch."""

from __future__ import annotations

import os
from typing import Any

import numpy as np
from astropy.table import Table

from potpyri.astrometry.errors import AstrometryFailed
from potpyri.catalogs import CatalogUnavailable, query
from potpyri.catalogs.user_file import CatalogUse, UserCatalog, UserCatalogError, user_catalog

__all__ = ["astrometric_file", "gaia_reference"]


def astrometric_file(settings: Any) -> UserCatalog | None:
    """The user's catalog file serving the astrometry (``catalog.file`` with ``astrometry`` in
    ``catalog.use``, or ``use`` unset), None when Gaia does; ``settings`` is the run's
    ``catalog`` group.

    Raises
    ------
    AstrometryFailed
        When the file cannot be read (one line naming it; the run checks it at its start).
    """
    try:
        user = user_catalog(settings)
    except UserCatalogError as exc:
        raise AstrometryFailed(str(exc)) from None
    return user if user is not None and CatalogUse.astrometry in user.uses else None


def gaia_reference(
    ra: float,
    dec: float,
    radius_deg: float,
    *,
    epoch: float | None,
    cache_dir: str | os.PathLike | None = None,
    offline: bool = False,
    catalog: str = "gaia",
    user: UserCatalog | None = None,
) -> Table:
    """Reference stars around (ra, dec) at ``epoch`` (proper motions applied), brightest first:
    ``catalog``'s, or the user's catalog file ``user`` (from :func:`astrometric_file`) when given.

    Raises
    ------
    AstrometryFailed
        When the catalog cannot be reached and no cached answer covers the cone (one line).
    """
    if user is not None:
        return user.reference(ra, dec, radius_deg, epoch)
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

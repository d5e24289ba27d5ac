"""The reference catalog around a stack, for the QA's overlay, matching and zero-point colours."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
from astropy.table import Table
from astropy.wcs import WCS

from potpyri.catalogs import CatalogUnavailable, query

__all__ = ["COLOURS", "CatalogAccess", "catalog_colour", "stack_catalog"]

#: Colour shown against the zero-point residuals, per catalog: (blue band, red band).
COLOURS = {
    "ps1": ("g", "i"),
    "sdss": ("g", "i"),
    "skymapper": ("g", "i"),
    "gaia": ("BP", "RP"),
    "2mass": ("J", "K"),
}


@dataclass(frozen=True)
class CatalogAccess:
    """Where the QA's catalog answers come from."""

    cache_dir: str | Path | None  #: the catalog cache (the astrometry step fills it)
    offline: bool  #: answer from the cache only
    epoch: float | None = None  #: epoch to propagate proper motions to, Julian years


def stack_catalog(
    name: str, wcs: WCS, shape: tuple[int, int], access: CatalogAccess
) -> tuple[Table | None, str]:
    """Catalog ``name`` in the cone around the stack's corners; or None and why not."""
    if not wcs.has_celestial:
        return None, "not available (the stack has no celestial WCS)"
    ny, nx = shape
    ra, dec = wcs.pixel_to_world_values((nx - 1) / 2, (ny - 1) / 2)
    corner = wcs.pixel_to_world_values(0, 0)
    radius = float(np.hypot((corner[0] - ra) * np.cos(np.deg2rad(dec)), corner[1] - dec)) * 1.05
    try:
        table = query(
            name,
            float(ra),
            float(dec),
            radius,
            epoch=access.epoch,
            cache_dir=access.cache_dir,
            offline=access.offline,
        )
    except (CatalogUnavailable, ValueError, OSError) as exc:
        return None, f"not available ({name} catalog: {exc})"
    return table, ""


def catalog_colour(
    name: str, ids: np.ndarray, wcs: WCS, shape: tuple[int, int], access: CatalogAccess
) -> tuple[np.ndarray | None, str]:
    """Colours of the zero-point stars from the zero-point catalog (None if unavailable)."""
    blue, red = COLOURS[name]
    table, _ = stack_catalog(name, wcs, shape, access)
    if table is None or f"{blue}_mag" not in table.colnames or f"{red}_mag" not in table.colnames:
        return None, "catalog colour"
    colours = dict(
        zip(
            np.asarray(table["source_id"]).astype(str),
            np.asarray(table[f"{blue}_mag"], float) - np.asarray(table[f"{red}_mag"], float),
            strict=True,
        )
    )
    values = np.array([colours.get(i, np.nan) for i in ids], float)
    return (values if np.isfinite(values).any() else None), f"{name} {blue}−{red}"

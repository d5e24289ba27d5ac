"""The on-disk catalog cache: raw service answers keyed by catalog and cone."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from astropy.table import Table

from potpyri.files import write_atomic

__all__ = [
    "NIGHT_CACHE",
    "CatalogCache",
    "CatalogUnavailable",
    "Cone",
    "default_cache_dir",
    "run_cache_dir",
]

#: A night's own catalog cache, inside its data_path (the simulator and the demo write it there).
NIGHT_CACHE = "catalog_cache"


#: How far a cone read back from a file name may be from the one stored (ra, dec and radius are
#: written to 1e-6 deg: half a unit each, summed).
_NAME_ROUNDING_DEG = 2e-6


class CatalogUnavailable(RuntimeError):
    """No cached answer covers the cone and the service cannot (or may not) be asked."""


@dataclass(frozen=True)
class Cone:
    """A cone on the sky, degrees."""

    ra: float
    dec: float
    radius: float

    def contains(self, other: Cone) -> bool:
        """Whether ``other`` lies wholly inside this cone, to the 1e-6 deg the cache's file names
        keep (a stored cone is found again by the query that stored it)."""
        return (
            _separation(self.ra, self.dec, other.ra, other.dec) + other.radius
            <= self.radius + _NAME_ROUNDING_DEG
        )

    def __str__(self) -> str:
        return f"ra={self.ra:.5f} dec={self.dec:+.5f} r={self.radius * 60:.2f}'"


def default_cache_dir() -> Path:
    """``$POTPYRI_CATALOG_CACHE`` or ``~/.cache/potpyri/catalogs``."""
    return Path(
        os.environ.get("POTPYRI_CATALOG_CACHE", Path.home() / ".cache" / "potpyri" / "catalogs")
    )


def run_cache_dir(
    cache_dir: str | os.PathLike | None, data_path: str | os.PathLike
) -> tuple[Path, str]:
    """The catalog cache a run of ``data_path`` uses, and why (for one log line).

    Order: an explicit ``catalog.cache_dir``; else ``<data_path>/catalog_cache`` if that folder
    exists (a night carried with its catalogs, a simulated night); else
    :func:`default_cache_dir`.
    """
    if cache_dir:
        return Path(cache_dir).expanduser().absolute(), "catalog.cache_dir"
    night = Path(data_path).expanduser().absolute() / NIGHT_CACHE
    if night.is_dir():
        return night, f"the night's own {NIGHT_CACHE}/"
    if "POTPYRI_CATALOG_CACHE" in os.environ:
        return default_cache_dir(), "$POTPYRI_CATALOG_CACHE"
    return default_cache_dir(), "the default"


class CatalogCache:
    """Raw answers stored as ECSV under ``<root>/<catalog>/``, found again by cone containment."""

    def __init__(self, root: str | os.PathLike | None = None) -> None:
        self.root = Path(root) if root is not None else default_cache_dir()

    def find(self, catalog: str, cone: Cone) -> Table | None:
        """A cached raw answer whose cone contains ``cone`` (the smallest such), or None."""
        path = self.locate(catalog, cone)
        return Table.read(path, format="ascii.ecsv") if path else None

    def locate(self, catalog: str, cone: Cone) -> Path | None:
        """The file of the smallest cached answer whose cone contains ``cone``, or None."""
        folder = self.root / catalog
        if not folder.is_dir():
            return None
        best: tuple[float, Path] | None = None
        for path in folder.glob("*.ecsv"):
            stored = _cone_from_name(path.stem)
            if (
                stored is not None
                and stored.contains(cone)
                and (best is None or stored.radius < best[0])
            ):
                best = (stored.radius, path)
        return best[1] if best else None

    def store(self, catalog: str, cone: Cone, raw: Table, service: str) -> Path:
        """Write a raw answer for ``cone`` atomically and return its path."""
        raw = raw.copy(copy_data=False)
        raw.meta.update(
            {
                "catalog": catalog,
                "ra": cone.ra,
                "dec": cone.dec,
                "radius": cone.radius,
                "service": service,
            }
        )
        name = f"{cone.ra:.6f}_{cone.dec:+.6f}_{cone.radius:.6f}.ecsv"
        return write_atomic(raw, self.root / catalog / name)


def _cone_from_name(stem: str) -> Cone | None:
    try:
        ra, dec, radius = (float(v) for v in stem.split("_"))
    except ValueError:
        return None
    return Cone(ra, dec, radius)


def in_cone(table: Table, cone: Cone) -> Table:
    """Rows of ``table`` (``ra``, ``dec`` in deg) within ``cone``."""
    ra = np.asarray(table["ra"], float)
    dec = np.asarray(table["dec"], float)
    return table[_separation(cone.ra, cone.dec, ra, dec) <= cone.radius]


def _separation(ra1, dec1, ra2, dec2):
    """Great-circle distance in degrees (haversine); scalars or arrays."""
    r1, d1, r2, d2 = map(np.deg2rad, (ra1, dec1, ra2, dec2))
    s = np.sin((d2 - d1) / 2) ** 2 + np.cos(d1) * np.cos(d2) * np.sin((r2 - r1) / 2) ** 2
    return np.rad2deg(2 * np.arcsin(np.sqrt(np.minimum(1.0, s))))

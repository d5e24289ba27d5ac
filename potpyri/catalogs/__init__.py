"""Reference catalogs: Gaia DR3, Pan-STARRS DR1, SDSS, SkyMapper and 2MASS, with an on-disk cache.

``query(catalog, ra, dec, radius_deg)`` returns an astropy Table with standard columns
(``source_id``, ``ra``, ``dec`` [deg], ``pmra``, ``pmdec`` [mas/yr] where known, and
``<band>_mag`` / ``<band>_err`` in AB). Answers are cached as the service returned them (its own
columns), so a cached and a live answer go through the same parser; the simulator writes its
catalogs into the same cache, so tests run the production code path offline.
"""

from potpyri.catalogs.cache import (
    CatalogCache,
    CatalogUnavailable,
    default_cache_dir,
    run_cache_dir,
)
from potpyri.catalogs.query import CATALOGS, parse, query

__all__ = [
    "CATALOGS",
    "CatalogCache",
    "CatalogUnavailable",
    "default_cache_dir",
    "parse",
    "query",
    "run_cache_dir",
]

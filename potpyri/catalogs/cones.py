"""The cone of sky a step asks a catalog for, in one place.

The astrometry, align, stack_wcs and zeropoint steps and ``potpyri catalogs fetch`` all call
:func:`image_cone`, so a cache filled before a run holds a cone containing every cone the run
asks for (the cache answers any cone inside a stored one).
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from astropy.wcs import WCS

from potpyri.catalogs.cache import Cone, _separation

__all__ = ["enclosing_cone", "image_cone"]


def image_cone(
    wcs: WCS,
    shape: tuple[int, int],
    *,
    scale_arcsec: float | None = None,
    margin_arcsec: float = 0.0,
) -> Cone:
    """The cone around an image's centre pixel that reaches its corners, widened by a margin.

    Parameters
    ----------
    wcs : astropy.wcs.WCS
        Celestial WCS of the image.
    shape : tuple of int
        ``(ny, nx)`` of the image.
    scale_arcsec : float, optional
        Pixel scale to size the cone with (half the diagonal in pixels times it): for a starting
        WCS whose scale is not trusted. Without it, the farthest corner through ``wcs``.
    margin_arcsec : float
        Added to the radius (pointing error, match radius).
    """
    ny, nx = shape
    centre = (nx - 1) / 2.0, (ny - 1) / 2.0
    corners = [(0, 0), (nx - 1, 0), (0, ny - 1), (nx - 1, ny - 1)]
    sky = wcs.all_pix2world([centre, *corners], 0)
    ra, dec = float(sky[0][0]), float(sky[0][1])
    if scale_arcsec is not None:
        radius = 0.5 * float(np.hypot(nx, ny)) * scale_arcsec / 3600.0
    else:
        radius = max(_separation(ra, dec, float(r), float(d)) for r, d in sky[1:])
    return Cone(ra, dec, radius + margin_arcsec / 3600.0)


def enclosing_cone(cones: Sequence[Cone]) -> Cone:
    """A cone containing every one of ``cones``, centred on their mean direction."""
    if not cones:
        raise ValueError("no cone to enclose")
    ra = np.deg2rad([c.ra for c in cones])
    dec = np.deg2rad([c.dec for c in cones])
    x, y, z = (
        np.mean(np.cos(dec) * np.cos(ra)),
        np.mean(np.cos(dec) * np.sin(ra)),
        np.mean(np.sin(dec)),
    )
    centre_ra = float(np.rad2deg(np.arctan2(y, x)) % 360.0)
    centre_dec = float(np.rad2deg(np.arctan2(z, np.hypot(x, y))))
    radius = max(_separation(centre_ra, centre_dec, c.ra, c.dec) + c.radius for c in cones)
    return Cone(centre_ra, centre_dec, radius)

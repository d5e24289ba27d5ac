"""Where north and east point on an image, from its WCS (any rotation, either parity)."""

from __future__ import annotations

import numpy as np
from astropy.wcs import WCS

__all__ = ["north_east"]


def north_east(wcs: WCS, shape: tuple[int, int]) -> tuple[np.ndarray, np.ndarray]:
    """Unit vectors (dx, dy) in pixels pointing north and east at the centre of the image.

    Parameters
    ----------
    wcs : WCS
        The image's celestial WCS.
    shape : tuple of int
        The image's (ny, nx).

    Returns
    -------
    north, east : numpy.ndarray
        Each a length-2 unit vector in pixel coordinates (x right, y up with ``origin="lower"``).
    """
    ny, nx = shape
    x0, y0 = (nx - 1) / 2, (ny - 1) / 2
    ra0, dec0 = (float(v) for v in wcs.celestial.pixel_to_world_values(x0, y0))
    # A step of one arcsecond on the sky: in Dec for north, in RA scaled by cos(Dec) for east, so
    # both steps have the same length and the vectors stay right at any declination.
    step = 1 / 3600
    cos_dec = max(np.cos(np.radians(dec0)), 1e-6)
    # Within an arcsecond of the north pole, step south and turn the vector round.
    sign = 1.0 if dec0 + step <= 90 else -1.0
    ras = np.array([ra0, ra0 + step / cos_dec])
    decs = np.array([dec0 + sign * step, dec0])
    xs, ys = wcs.celestial.world_to_pixel_values(ras, decs)
    vectors = np.column_stack([np.asarray(xs) - x0, np.asarray(ys) - y0])
    vectors[0] *= sign
    north, east = vectors / np.hypot(vectors[:, 0], vectors[:, 1])[:, None]
    return north, east

"""Mesh background of a frame with the sources' faint wings masked (pure arrays, no framework).

Sources are masked before the mesh, not only clipped inside it: a box's sigma-clipped median
keeps every pixel of a bright star's wings below the clip, which pulls the background up inside
the star's aperture more than in its annulus, and the star loses flux. Pixels well above a first
background (groups of ``min_pixels``), grown by ``grow`` px, are therefore masked and the mesh
computed again. A box that is mostly source (dense fields) is filled from its neighbours by
photutils (``exclude_percentile``).
"""

from __future__ import annotations

import numpy as np
from scipy import ndimage

__all__ = ["mesh_background"]


def mesh_background(
    sci: np.ndarray,
    mask: np.ndarray | None,
    box: int,
    filter_size: int = 3,
    sigma: float = 3.0,
    source_nsigma: float | None = 3.0,
    grow: int = 8,
    exclude_percentile: float = 50.0,
    min_pixels: int = 5,
) -> np.ndarray:
    """Smooth background of ``sci`` (photutils ``Background2D``, sigma-clipped box medians).

    Parameters
    ----------
    sci : numpy.ndarray
        The frame.
    mask : numpy.ndarray or None
        Non-zero on pixels that are not sky (flagged pixels).
    box, filter_size, sigma : int, int, float
        Mesh box size (px), median filter over boxes, clipping inside each box.
    source_nsigma : float or None
        Pixels this many background sigma above a first background are masked as sources
        (grown by ``grow`` px) and the background is computed again; None keeps one pass.
    grow : int
        Source masks are dilated by this many pixels (to reach the wings below the threshold).
    min_pixels : int
        A source is at least this many connected pixels above the threshold.
    exclude_percentile : float
        Boxes with more than this percentage of masked pixels are filled from their neighbours
        (second pass only; the first pass keeps photutils' default, 10).

    Returns
    -------
    numpy.ndarray
        The background, float32, shape of ``sci``.
    """
    from astropy.stats import SigmaClip
    from photutils.background import Background2D, MedianBackground

    bad = np.zeros(sci.shape, bool) if mask is None else np.asarray(mask) > 0
    box = min(box, *sci.shape)

    def mesh(masked: np.ndarray, exclude: float):
        return Background2D(
            sci,
            (box, box),
            mask=masked,
            filter_size=(filter_size,) * 2,
            sigma_clip=SigmaClip(sigma=sigma),
            bkg_estimator=MedianBackground(),
            exclude_percentile=exclude,
        )

    first = mesh(bad, 10.0)
    if source_nsigma is None:
        return first.background.astype(np.float32)
    sources = ((sci - first.background) > source_nsigma * first.background_rms) & ~bad
    # Sources are groups of >= min_pixels connected pixels; single noise peaks, grown, would
    # otherwise mask much of the frame.
    labels, n = ndimage.label(sources)
    if n:
        big = np.bincount(labels.ravel(), minlength=n + 1) >= min_pixels
        big[0] = False
        sources = big[labels]
    if grow > 0 and sources.any():
        sources = ndimage.distance_transform_edt(~sources) <= grow
    return mesh(bad | sources, exclude_percentile).background.astype(np.float32)

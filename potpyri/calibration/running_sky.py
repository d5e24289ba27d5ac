"""Running near-infrared sky from a target's own dithered frames (pure arrays, no framework).

Each frame's sky is the median of the *other* frames, each scaled by its own sky level, with
sources masked (a source at one dither position is sky at another).

Why the sky is taken in the detector's counts when the frames have different flats: a sky flat
made from the science frames (``flat`` step, one per frame, each made without that frame) still
holds the faint wings of every *other* frame's sources, which the source masks miss. The flats of
frames ``m != n`` are therefore slightly high at the pixels where frame ``n`` has its stars; a sky
for ``n`` built from those frames *after* their own flats is low at exactly those pixels, and
frame ``n``'s stars gain flux. Measured on a simulated MMIRS K night (5 dithers of 30 s, sky
1000 e-/s/px, seed 1) against the truth: +3.6% of the flux within 4 FWHM of stars of 1e5-3e5 e-
(about 5000 e- a star whatever its flux); neither the flats alone (+0.3 +- 0.4%) nor the running
sky alone with the true flat (-0.5 +- 0.5%) does it. The frames' counts before their flats,
``sci * flat``, all carry the same pixel response, so their median is the sky in frame ``n``'s
counts; divided by frame ``n``'s own flat, no other frame's flat enters frame ``n`` (star excess
-0.3 +- 0.5%). It also leaves the flats' pixel noise out of the sky: the stack's sky noise fell
from 4.46 to 3.42 e-/s/px.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence

import bottleneck as bn
import numpy as np
from scipy import ndimage

from potpyri.calibration.masks import COSMIC_RAY, NEIGHBOUR, SATURATED

__all__ = ["running_skies", "source_mask"]


def source_mask(
    sci: np.ndarray, mask: np.ndarray, level: float, nsigma: float = 3.0, dilate: int = 3
) -> np.ndarray:
    """True on pixels more than ``nsigma`` robust deviations above ``level`` and on cosmic-ray or
    saturated pixels, grown by ``dilate`` pixels, and on every other flagged pixel (``mask > 0``).

    Only light is grown: a static bad pixel or column sits at the same detector position in
    every dither, so growing it left the sky undefined around it in every frame (on a simulated
    MMIRS K night, 1.7% of each frame's pixels became BAD instead of 0.11%, and after the
    5-dither stack 20% of the pixels lacked a frame).
    """
    good = np.where(mask == 0, sci, np.nan)
    noise = 1.4826 * float(bn.nanmedian(np.abs(good - level)))
    found = (sci > level + nsigma * noise) | ((mask & (COSMIC_RAY | SATURATED)) > 0)
    if dilate > 0:
        found = ndimage.binary_dilation(found, iterations=dilate)
    return found | ((mask & ~np.uint8(NEIGHBOUR)) > 0)


def running_skies(
    scis: Sequence[np.ndarray],
    masks: Sequence[np.ndarray],
    flats: Sequence[np.ndarray] | None = None,
    *,
    nsigma: float = 3.0,
    dilate: int = 3,
) -> Iterator[tuple[np.ndarray, float]]:
    """Each frame's sky (in its own, flat-fielded units) and its sky level, in frame order.

    Parameters
    ----------
    scis, masks : sequence of numpy.ndarray
        The flat-fielded frames (same shape) and their masks (non-zero: not sky).
    flats : sequence of numpy.ndarray, optional
        The flat each frame was divided by (indexed twice per frame, so it may read them from
        disk on access). When given, the sky is the median of the other frames' counts before
        their flats (``sci * flat``) divided by the frame's own flat (see the module note); leave
        it out when every frame had the same flat (same result).
    nsigma, dilate : float, int
        Source masking (:func:`source_mask`).

    Raises
    ------
    ValueError
        When a frame has no positive sky level to scale by (names its index).
    """
    levels, normed = [], []
    for n, (sci, mask) in enumerate(zip(scis, masks, strict=True)):
        sci = sci.astype(np.float32)
        level = float(bn.nanmedian(np.where(mask == 0, sci, np.nan)))
        if not level > 0:
            raise ValueError(f"frame {n} has no positive sky level to scale by")
        sources = source_mask(sci, mask, level, nsigma, dilate)
        counts = sci if flats is None else sci * _response(flats[n])
        scale = level if flats is None else float(bn.nanmedian(np.where(mask == 0, counts, np.nan)))
        if not scale > 0:
            raise ValueError(f"frame {n} has no positive sky level to scale by")
        levels.append((level, scale))
        normed.append(np.where(sources, np.nan, counts / np.float32(scale)))
        del counts, sources
    cube = np.stack(normed)
    del normed
    for n, (level, scale) in enumerate(levels):
        sky = bn.nanmedian(np.delete(cube, n, axis=0), axis=0) * np.float32(scale)
        if flats is not None:
            sky = sky / _response(flats[n])
        yield sky.astype(np.float32), level


def _response(flat: np.ndarray) -> np.ndarray:
    """A flat as a divisor: NaN where it holds no response."""
    flat = np.asarray(flat, np.float32)
    return np.where(np.isfinite(flat) & (flat > 0), flat, np.float32(np.nan))

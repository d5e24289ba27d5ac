"""Running near-infrared sky from a target's own dithered frames (pure arrays, no framework).

Each frame's sky is the median of the *other* frames, each scaled by its own sky level, with
sources masked (a source at one dither position is sky at another).

When the frames have different flats (per-frame sky flats, each made without its frame), each
flat still holds the faint wings of the other frames' sources; a sky built from the other frames
*after* their flats is then low where this frame has its stars, and the stars gain flux. The sky
is therefore taken from the frames' counts before their flats (``sci * flat``, which share one
pixel response) and divided by the frame's own flat, so no other frame's flat enters it; this
also keeps the flats' pixel noise out of the sky.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from os import PathLike

import bottleneck as bn
import numpy as np
from astropy.io import fits
from scipy import ndimage

from potpyri.calibration.masks import BAD, COSMIC_RAY, NEIGHBOUR, SATURATED

__all__ = ["FlatsOnDisk", "running_skies", "source_mask", "subtract_sky"]


def source_mask(
    sci: np.ndarray, mask: np.ndarray, level: float, nsigma: float = 3.0, dilate: int = 3
) -> np.ndarray:
    """True on pixels more than ``nsigma`` robust deviations above ``level`` and on cosmic-ray or
    saturated pixels, grown by ``dilate`` pixels, and on every other flagged pixel (``mask > 0``).

    Only light is grown: a static bad pixel or column sits at the same detector position in
    every dither, so growing it would leave the sky undefined around it in every frame.
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


def subtract_sky(
    sci: np.ndarray, mask: np.ndarray, sky: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """``sci - sky`` (float32) and the mask; where the sky is undefined (no other frame saw sky
    there) the pixel is set to 0 and flagged BAD."""
    hole = ~np.isfinite(sky)
    sci = np.where(hole, 0.0, sci - sky).astype(np.float32)
    return sci, mask | np.where(hole, BAD, 0).astype(np.uint8)


class FlatsOnDisk:
    """The frames' flats (the ``flats`` of :func:`running_skies`), read from their files when
    used: one at a time in memory, not one per frame."""

    def __init__(self, paths: Sequence[str | PathLike]) -> None:
        self.paths = list(paths)

    def __len__(self) -> int:
        return len(self.paths)

    def __getitem__(self, n: int) -> np.ndarray:
        return fits.getdata(self.paths[n], "SCI").astype(np.float32)

"""Fringe frames: the pattern the night's science frames share once sky and sources are removed.

Each frame loses its smooth sky (a median filter on a 4x-subsampled copy) and its sources; the
residuals, each divided by its frame's sky level, are median-combined into the pattern, and the
pattern is fitted to each frame's residual by least squares and subtracted.
"""

from __future__ import annotations

from collections.abc import Sequence

import bottleneck as bn
import numpy as np
from scipy import ndimage

__all__ = ["NoSkyLevel", "fringe_pattern", "fringe_residual", "fringe_scale"]


class NoSkyLevel(ValueError):
    """A frame whose smooth sky is not positive: its residual cannot be normalised."""


def fringe_residual(
    sci: np.ndarray, mask: np.ndarray, smooth_px: int, source_nsigma: float
) -> tuple[np.ndarray, float]:
    """Frame minus its smooth sky, sources and flagged pixels as NaN; and the sky level.

    Parameters
    ----------
    sci : ndarray
        Image, electrons (float32).
    mask : ndarray
        Bit mask; non-zero pixels become NaN.
    smooth_px : int
        Median-filter size of the smooth sky, pixels of the full image.
    source_nsigma : float
        Pixels this many robust sigmas above the smooth sky (grown by 2 px) are sources.
    """
    small = sci[::4, ::4]
    smooth = ndimage.zoom(
        ndimage.median_filter(small, size=max(3, smooth_px // 4)),
        (sci.shape[0] / small.shape[0], sci.shape[1] / small.shape[1]),
        order=1,
    )
    smooth = smooth[: sci.shape[0], : sci.shape[1]]
    residual = sci - smooth
    noise = 1.4826 * float(bn.nanmedian(np.abs(residual[mask == 0])))
    sources = ndimage.binary_dilation(residual > source_nsigma * noise, iterations=2)
    residual = np.where(sources | (mask > 0), np.nan, residual)
    level = float(bn.nanmedian(smooth))
    if not level > 0:
        raise NoSkyLevel("fringe: a frame has no positive sky level")
    return residual, level


def fringe_pattern(residuals: Sequence[tuple[np.ndarray, float]]) -> np.ndarray:
    """Median of the sky-normalised residuals, its own median removed (NaN as 0)."""
    pattern = bn.nanmedian(np.stack([r / s for r, s in residuals]), axis=0)
    return np.nan_to_num(pattern - bn.nanmedian(pattern))


def fringe_scale(pattern: np.ndarray, residual: np.ndarray) -> float:
    """Least-squares amplitude of ``pattern`` in one frame's ``residual`` (its finite pixels)."""
    good = np.isfinite(residual)
    return float((pattern[good] * residual[good]).sum() / max((pattern[good] ** 2).sum(), 1e-30))

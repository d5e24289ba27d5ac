"""Satellite and aircraft trails: long straight lines found by a Hough transform (scikit-image).

Pixels standing ``threshold`` noise levels above a local background, after removing compact
sources, vote on a 4x-binned image; a line with enough votes, as long as a good part of the
frame, is a trail.
"""

from __future__ import annotations

import warnings

import numpy as np

__all__ = ["find_trails", "trail_pixels"]


def find_trails(
    sci: np.ndarray, mask: np.ndarray, threshold: float, min_length: float, max_trails: int
) -> list[tuple[float, float]]:
    """Straight trails as (angle, distance) in Hough normal form, ``x cos a + y sin a = d``."""
    # Imported here, as before the move: every run imports this module, few run the step.
    from scipy import ndimage
    from skimage.transform import hough_line, hough_line_peaks

    small = 4  # vote on a 4x-binned image: faster, and a trail a few pixels wide becomes a line
    ny, nx = (s // small * small for s in sci.shape)
    good = np.where(mask[:ny, :nx] == 0, sci[:ny, :nx], np.nan)
    with warnings.catch_warnings():  # wholly masked blocks (CCD gaps) are expected
        warnings.simplefilter("ignore", RuntimeWarning)
        level = np.nanmedian(good)
        sigma = 1.4826 * np.nanmedian(np.abs(good - level))
        # Winsorise at 5 sigma, then average: a faint trail (a few sigma a pixel) adds up in the
        # mean where a median would drop it, while stars and residual hits cannot dominate a bin.
        capped = np.minimum(good, level + 5 * sigma)
        binned = np.nanmean(capped.reshape(ny // small, small, nx // small, small), axis=(1, 3))
    background = ndimage.median_filter(np.nan_to_num(binned, nan=np.nanmedian(binned)), size=15)
    residual = np.nan_to_num(binned - background)
    noise = 1.4826 * np.median(np.abs(residual - np.median(residual))) or 1.0
    votes = residual > threshold * noise
    # Compact sources (stars, galaxies) are round blobs, noise is single pixels: keep only
    # elongated or long connected pieces (a trail broken up by noise survives as its pieces).
    labels, count = ndimage.label(votes)
    if count:
        keep = np.zeros(count + 1, bool)
        for n, region in enumerate(ndimage.find_objects(labels), start=1):
            long_side = max(region[0].stop - region[0].start, region[1].stop - region[1].start)
            short_side = min(region[0].stop - region[0].start, region[1].stop - region[1].start)
            keep[n] = long_side >= 8 or long_side >= 3 * short_side >= 3
        votes = keep[labels]
    accumulator, angles, distances = hough_line(
        votes, theta=np.linspace(-np.pi / 2, np.pi / 2, 360, endpoint=False)
    )
    needed = min_length * min(votes.shape)
    trails = []
    for _, angle, dist in zip(
        *hough_line_peaks(accumulator, angles, distances, num_peaks=max_trails, threshold=needed),
        strict=True,
    ):
        trails.append(
            (float(angle), float(dist * small + (small - 1) / 2 * (np.cos(angle) + np.sin(angle))))
        )
    return trails


def trail_pixels(
    shape: tuple[int, int], trails: list[tuple[float, float]], width_px: float
) -> np.ndarray:
    """Boolean image, True within ``width_px`` of any trail's centre line."""
    flagged = np.zeros(shape, bool)
    yy, xx = np.mgrid[0 : shape[0], 0 : shape[1]]
    for angle, dist in trails:
        flagged |= np.abs(xx * np.cos(angle) + yy * np.sin(angle) - dist) <= width_px
    return flagged

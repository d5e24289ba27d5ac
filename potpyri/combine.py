"""Pixel combination of aligned frames, one block of rows at a time.

Pure array functions: they know nothing of files, so the stack step can feed them row blocks
read from memory-mapped frames and keep peak memory at N frames × one block.
"""

from __future__ import annotations

import bottleneck as bn
import numpy as np

__all__ = ["METHODS", "combine_block"]

METHODS = ("median", "mean", "sigclip")
_MEDIAN_EFFICIENCY = np.sqrt(np.pi / 2.0)  # noise of a median / noise of a mean, Gaussian data


def combine_block(
    data: np.ndarray,
    error: np.ndarray,
    valid: np.ndarray,
    method: str = "median",
    sigma: float = 3.0,
    maxiters: int = 5,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Combine a ``(n_frames, rows, cols)`` block along the first axis.

    Parameters
    ----------
    data, error : numpy.ndarray
        Values and 1σ uncertainties, already on a common scale (e.g. electrons per second).
    valid : numpy.ndarray
        Boolean, False where a frame's pixel is masked.
    method : {'median', 'mean', 'sigclip'}
        ``mean`` is the inverse-variance weighted mean; ``sigclip`` rejects pixels more than
        ``sigma`` uncertainties from the median (iteratively) and then takes the weighted mean;
        ``median`` is the plain median of the valid pixels.
    sigma, maxiters : float, int
        Rejection threshold and iterations for ``sigclip``.

    Returns
    -------
    value, uncertainty, n_used : numpy.ndarray
        Combined image, its 1σ uncertainty (NaN where no frame contributed) and the number of
        frames used per pixel.
    """
    if method not in METHODS:
        raise ValueError(f"unknown stack method {method!r}; choose from {', '.join(METHODS)}")
    valid = valid & np.isfinite(data) & np.isfinite(error) & (error > 0)
    if method == "sigclip":
        for _ in range(maxiters):
            center = bn.nanmedian(np.where(valid, data, np.nan), axis=0)
            keep = valid & (np.abs(data - center) <= sigma * error)
            if np.array_equal(keep, valid):
                break
            valid = keep
    weight = np.where(valid, 1.0 / np.where(valid, error, 1.0) ** 2, 0.0).astype(np.float32)
    weight_sum = weight.sum(axis=0)
    with np.errstate(invalid="ignore", divide="ignore"):
        mean_error = 1.0 / np.sqrt(weight_sum)
        if method == "median":
            value = bn.nanmedian(np.where(valid, data, np.nan), axis=0)
            uncertainty = _MEDIAN_EFFICIENCY * mean_error
        else:
            value = (weight * np.where(valid, data, 0.0)).sum(axis=0) / weight_sum
            uncertainty = mean_error
    n_used = valid.sum(axis=0).astype(np.int16)
    empty = n_used == 0
    value = np.where(empty, np.nan, value).astype(np.float32)
    uncertainty = np.where(empty, np.nan, uncertainty).astype(np.float32)
    return value, uncertainty, n_used

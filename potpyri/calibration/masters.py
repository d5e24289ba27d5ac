"""Master calibration frames: combining bias, dark and flat exposures in bounded memory.

Each input is assembled by the instrument's reader (overscan-subtracted, trimmed, in electrons)
and written once into a memory-mapped cube; the cube is then combined one block of rows at a time
with :func:`potpyri.stacking.combine.combine_block`, so memory grows with one block per frame,
not with one frame per frame.
"""

from __future__ import annotations

import tempfile
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

import bottleneck as bn
import numpy as np

from potpyri.instruments import RawImage
from potpyri.stacking.combine import combine_block

__all__ = [
    "Electrons",
    "bad_pixels_from_flat",
    "combine_exposures",
    "hot_pixels_from_dark",
    "mask_sources",
    "remove_gradient",
    "to_electrons",
]


@dataclass
class Electrons:
    """An exposure in electrons with its per-pixel variance (read noise² + Poisson)."""

    data: np.ndarray
    variance: np.ndarray


def to_electrons(raw: RawImage, *, poisson: bool = True) -> Electrons:
    """Gain-correct a reader's ADU image; variance from read noise and (optionally) Poisson."""
    data = (raw.data * raw.gain).astype(np.float32)
    variance = np.broadcast_to(np.asarray(raw.rdnoise, np.float32) ** 2, data.shape).astype(
        np.float32
    )
    if poisson:
        variance = variance + np.clip(data, 0.0, None)
    return Electrons(data, variance)


def combine_exposures(
    loaders: Sequence[Callable[[], Electrons]],
    *,
    method: str = "sigclip",
    sigma: float = 3.0,
    normalise: bool = False,
    block_rows: int = 256,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Combine exposures given as loaders (each called once).

    Parameters
    ----------
    loaders : sequence of callables
        Each returns one exposure as :class:`Electrons`.
    method, sigma : str, float
        See :func:`potpyri.stacking.combine.combine_block`.
    normalise : bool
        Divide every exposure by its own median first (flats), so lamp or sky level changes
        between exposures do not bias the combination.
    block_rows : int
        Rows combined at a time.

    Returns
    -------
    value, uncertainty, stddev : numpy.ndarray
        The master frame, its 1σ uncertainty, and the scatter of the inputs per pixel (for
        finding unstable pixels).
    """
    if not loaders:
        raise ValueError("no exposures to combine")
    with tempfile.TemporaryDirectory(prefix="potpyri-combine-") as tmp:
        cube = err = None
        for n, load in enumerate(loaders):
            exposure = load()
            if cube is None:
                shape = (len(loaders), *exposure.data.shape)
                cube = np.lib.format.open_memmap(Path(tmp) / "data.npy", "w+", np.float32, shape)
                err = np.lib.format.open_memmap(Path(tmp) / "err.npy", "w+", np.float32, shape)
            if exposure.data.shape != cube.shape[1:]:
                raise ValueError(
                    f"exposure {n + 1} has shape {exposure.data.shape}, expected {cube.shape[1:]}"
                )
            scale = 1.0
            if normalise:
                scale = float(bn.nanmedian(exposure.data))
                if not scale > 0:
                    raise ValueError(f"exposure {n + 1} has no positive signal to normalise by")
            cube[n] = exposure.data / scale
            err[n] = np.sqrt(exposure.variance) / scale
        ny = cube.shape[1]
        value = np.empty(cube.shape[1:], np.float32)
        uncertainty = np.empty_like(value)
        stddev = np.empty_like(value)
        for start in range(0, ny, block_rows):
            rows = slice(start, min(ny, start + block_rows))
            data, error = np.asarray(cube[:, rows]), np.asarray(err[:, rows])
            valid = np.ones(data.shape, bool)
            value[rows], uncertainty[rows], _ = combine_block(data, error, valid, method, sigma)
            stddev[rows] = data.std(axis=0) if len(loaders) > 1 else 0.0
        del cube, err
    return value, uncertainty, stddev


def bad_pixels_from_flat(flat: np.ndarray, low: float = 0.5, high: float = 1.5) -> np.ndarray:
    """Dead or over-responsive pixels of a normalised flat (response outside [low, high])."""
    with np.errstate(invalid="ignore"):
        return ~np.isfinite(flat) | (flat < low) | (flat > high)


def hot_pixels_from_dark(rate: np.ndarray, nsigma: float = 10.0) -> np.ndarray:
    """Pixels whose dark current stands ``nsigma`` robust deviations above the median."""
    median = float(bn.nanmedian(rate))
    spread = 1.4826 * float(bn.nanmedian(np.abs(rate - median))) or float(np.nanstd(rate)) or 1.0
    with np.errstate(invalid="ignore"):
        return ~np.isfinite(rate) | (rate > median + nsigma * spread)


def mask_sources(data: np.ndarray, nsigma: float = 3.0, grow: int = 2) -> np.ndarray:
    """``data`` with pixels of sources (above ``nsigma`` robust deviations of the sky, grown by
    ``grow`` pixels) set to NaN, for sky flats made from science frames."""
    from scipy import ndimage

    level = float(bn.nanmedian(data))
    spread = 1.4826 * float(bn.nanmedian(np.abs(data - level)))
    sources = ndimage.binary_dilation(data > level + nsigma * spread, iterations=grow)
    return np.where(sources, np.nan, data).astype(np.float32)


def remove_gradient(data: np.ndarray, blocks: int = 8) -> np.ndarray:
    """``data`` divided by the plane fitted to its block medians (normalised to mean 1).

    A sky flat made from science frames would otherwise keep the sky's own gradients, which
    change from frame to frame; the detector's fixed response (vignetting is radial, not a plane)
    stays in.
    """
    ny, nx = data.shape
    ys, xs, values = [], [], []
    for i in range(blocks):
        for j in range(blocks):
            block = data[
                i * ny // blocks : (i + 1) * ny // blocks, j * nx // blocks : (j + 1) * nx // blocks
            ]
            level = bn.nanmedian(block)
            if np.isfinite(level):
                ys.append((i + 0.5) / blocks - 0.5)
                xs.append((j + 0.5) / blocks - 0.5)
                values.append(level)
    if len(values) < 3:
        return data
    design = np.column_stack([np.ones(len(values)), xs, ys])
    coeffs, *_ = np.linalg.lstsq(design, np.asarray(values), rcond=None)
    yy, xx = np.mgrid[0:ny, 0:nx]
    plane = coeffs[0] + coeffs[1] * ((xx + 0.5) / nx - 0.5) + coeffs[2] * ((yy + 0.5) / ny - 0.5)
    return (data / (plane / coeffs[0])).astype(np.float32)

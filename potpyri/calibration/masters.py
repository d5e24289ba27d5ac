"""Master calibration frames: combining bias, dark and flat exposures in bounded memory.

Each input is assembled by the instrument's reader (overscan-subtracted, trimmed, in electrons)
and written once into a memory-mapped cube; the cube is then combined one block of rows at a time
with :func:`potpyri.stacking.combine.combine_block`, so memory grows with one block per frame,
not with one frame per frame.
"""

from __future__ import annotations

import contextlib
import tempfile
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

import bottleneck as bn
import numpy as np

from potpyri.calibration.screening import Level, UnusableExposure, level_of
from potpyri.instruments import RawImage
from potpyri.stacking.combine import combine_block

__all__ = [
    "Electrons",
    "ExposureCube",
    "bad_pixels_from_flat",
    "combine_cube",
    "combine_exposures",
    "exposure_cube",
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


@dataclass
class ExposureCube:
    """Exposures loaded for one master: values and 1σ errors (memory-mapped, one plane per
    exposure), each exposure's level before normalisation, and the exposures set aside (index ->
    reason)."""

    data: np.ndarray | None
    error: np.ndarray | None
    levels: dict[int, Level]
    set_aside: dict[int, str]
    count: int

    def kept(self) -> list[int]:
        """Indices of the exposures not set aside, in input order."""
        return [n for n in range(self.count) if n not in self.set_aside]


@contextlib.contextmanager
def exposure_cube(
    loaders: Sequence[Callable[[], Electrons]], *, normalise: bool = False
) -> Iterator[ExposureCube]:
    """Load exposures (each loader called once) into a temporary memory-mapped cube.

    A loader raising :class:`~potpyri.calibration.screening.UnusableExposure`, or (with
    ``normalise``) an exposure without positive median signal, is set aside with its reason
    instead of failing the master; the others are loaded. ``normalise`` divides each exposure by
    its own median (flats), so lamp or sky changes between exposures do not bias the combination.
    """
    if not loaders:
        raise ValueError("no exposures to combine")
    with tempfile.TemporaryDirectory(prefix="potpyri-combine-") as tmp:
        cube = ExposureCube(None, None, {}, {}, len(loaders))
        for n, load in enumerate(loaders):
            try:
                exposure = load()
            except UnusableExposure as exc:
                cube.set_aside[n] = str(exc)
                continue
            if cube.data is None:
                shape = (len(loaders), *exposure.data.shape)
                memmap = np.lib.format.open_memmap
                cube.data = memmap(Path(tmp) / "data.npy", "w+", np.float32, shape)
                cube.error = memmap(Path(tmp) / "err.npy", "w+", np.float32, shape)
            if exposure.data.shape != cube.data.shape[1:]:
                raise ValueError(
                    f"exposure {n + 1} has shape {exposure.data.shape}, expected "
                    f"{cube.data.shape[1:]}"
                )
            level = level_of(exposure.data)
            scale = 1.0
            if normalise:
                scale = float(bn.nanmedian(exposure.data))
                if not scale > 0:
                    cube.set_aside[n] = (
                        f"median level {scale:.4g} e-: no positive signal to normalise by"
                    )
                    continue
            cube.levels[n] = level
            cube.data[n] = exposure.data / scale
            cube.error[n] = np.sqrt(exposure.variance) / scale
        try:
            yield cube
        finally:
            cube.data = cube.error = None  # the memory maps go before their folder


def combine_cube(
    cube: ExposureCube,
    kept: Sequence[int],
    *,
    method: str = "sigclip",
    sigma: float = 3.0,
    block_rows: int = 256,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Combine the exposures ``kept`` of ``cube``, one block of rows at a time.

    Returns
    -------
    value, uncertainty, stddev : numpy.ndarray
        The master frame, its 1σ uncertainty, and the scatter of the inputs per pixel (for
        finding unstable pixels).
    """
    if not kept or cube.data is None:
        raise ValueError("no exposures to combine")
    index = np.asarray(kept)
    ny = cube.data.shape[1]
    value = np.empty(cube.data.shape[1:], np.float32)
    uncertainty = np.empty_like(value)
    stddev = np.empty_like(value)
    for start in range(0, ny, block_rows):
        rows = slice(start, min(ny, start + block_rows))
        data, error = np.asarray(cube.data[index, rows]), np.asarray(cube.error[index, rows])
        valid = np.ones(data.shape, bool)
        value[rows], uncertainty[rows], _ = combine_block(data, error, valid, method, sigma)
        stddev[rows] = data.std(axis=0) if len(index) > 1 else 0.0
    return value, uncertainty, stddev


def combine_exposures(
    loaders: Sequence[Callable[[], Electrons]],
    *,
    method: str = "sigclip",
    sigma: float = 3.0,
    normalise: bool = False,
    block_rows: int = 256,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Combine exposures given as loaders (each called once), setting none aside: an unusable
    exposure is an error naming its position. See :func:`exposure_cube` and
    :func:`combine_cube`."""
    with exposure_cube(loaders, normalise=normalise) as cube:
        for n, reason in sorted(cube.set_aside.items()):
            raise ValueError(f"exposure {n + 1}: {reason}")
        return combine_cube(cube, cube.kept(), method=method, sigma=sigma, block_rows=block_rows)


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

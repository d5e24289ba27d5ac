"""Reading masters and applying them to an exposure in electrons."""

from __future__ import annotations

import functools
import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from astropy.io import fits

from potpyri.calibration.masters import Electrons

__all__ = [
    "Master",
    "apply_flat",
    "apply_master",
    "dark_scale",
    "photon_variance",
    "read_master",
    "subtract_bias",
    "subtract_dark",
]


@dataclass
class Master(Electrons):
    """A master calibration: value, variance and its bad-pixel mask."""

    mask: np.ndarray = None  # type: ignore[assignment]


def read_master(path: str | Path) -> Master:
    """Load a master calibration product (SCI, MASK, UNCERT); repeated calls reuse it.

    The reuse is keyed on the file's identity (path, inode, size, modification time), so a
    master rewritten or replaced in a long-lived session is read again, never served stale.
    """
    stat = os.stat(path)
    return _read_master(str(path), stat.st_ino, stat.st_size, stat.st_mtime_ns)


@functools.lru_cache(maxsize=4)
def _read_master(path: str, inode: int, size: int, mtime_ns: int) -> Master:
    with fits.open(path) as hdul:
        return Master(
            hdul["SCI"].data.astype(np.float32),
            hdul["UNCERT"].data.astype(np.float32) ** 2,
            hdul["MASK"].data.astype(np.uint8),
        )


def subtract_bias(exposure: Electrons, bias: Master) -> Electrons:
    """Subtract a master bias, adding its variance."""
    return Electrons(exposure.data - bias.data, exposure.variance + bias.variance)


def dark_scale(dark_meta: dict, exptime: float) -> tuple[float, str]:
    """The factor a master dark of ``dark_meta['exp']`` seconds is scaled by for an exposure of
    ``exptime`` seconds, and a one-line warning when it cannot be scaled ('' otherwise).

    A bias-subtracted dark holds dark current only and scales with time. A dark that still holds
    the detector's pedestal (NIR arrays have no bias frames) cannot be scaled: as DRAGONS does,
    it is subtracted unscaled, and a different exposure time is reported instead of ignored.
    """
    dark_exptime = float(dark_meta.get("exp") or 0.0)
    if dark_meta.get("bias_subtracted") and dark_exptime > 0:
        return exptime / dark_exptime, ""
    if abs(dark_exptime - exptime) > 1e-3 * max(exptime, 1.0):
        name = dark_meta.get("file", "the master dark")
        return 1.0, (
            f"{name} ({dark_exptime:g} s, not bias-subtracted, cannot be scaled) subtracted "
            f"unscaled from a {exptime:g} s exposure: take darks of {exptime:g} s"
        )
    return 1.0, ""


def subtract_dark(exposure: Electrons, dark: Master, dark_meta: dict, exptime: float) -> Electrons:
    """Subtract a master dark taken at ``dark_meta['exp']``, scaled to ``exptime`` when it was
    bias-subtracted (see :func:`dark_scale`)."""
    scale, _ = dark_scale(dark_meta, exptime)
    return Electrons(
        exposure.data - scale * dark.data, exposure.variance + scale**2 * dark.variance
    )


def apply_flat(exposure: Electrons, flat: Master) -> Electrons:
    """Divide by a normalised flat, propagating both uncertainties."""
    with np.errstate(divide="ignore", invalid="ignore"):
        response = np.where(flat.data > 0, flat.data, np.nan)
        data = exposure.data / response
        variance = exposure.variance / response**2 + data**2 * flat.variance / response**2
    return Electrons(data, variance)


def apply_master(
    exposure: Electrons, cal: str, master: Master, master_meta: dict, exptime: float
) -> Electrons:
    """Apply one master of kind ``cal`` ('bias', 'dark' or 'flat') to an exposure of ``exptime``
    seconds; ``master_meta`` describes the master (a dark's exposure time and bias state)."""
    if cal == "bias":
        return subtract_bias(exposure, master)
    if cal == "dark":
        return subtract_dark(exposure, master, master_meta, exptime)
    return apply_flat(exposure, master)


def photon_variance(data: np.ndarray) -> np.ndarray:
    """Poisson variance of the light in an image in electrons (negative and NaN pixels: 0)."""
    return np.clip(np.nan_to_num(data), 0, None)

"""Reading masters and applying them to an exposure in electrons."""

from __future__ import annotations

import functools
from dataclasses import dataclass

import numpy as np
from astropy.io import fits

from potpyri.calibration.masters import Electrons
from potpyri.framework.step import Item

__all__ = ["Master", "apply_flat", "read_master", "subtract_dark"]


@dataclass
class Master(Electrons):
    """A master calibration: value, variance and its bad-pixel mask."""

    mask: np.ndarray = None  # type: ignore[assignment]


def read_master(item: Item) -> Master:
    """Load a master calibration product (SCI, MASK, UNCERT); repeated calls reuse it."""
    return _read_master(str(item.path("image")))


@functools.lru_cache(maxsize=4)
def _read_master(path: str) -> Master:
    with fits.open(path) as hdul:
        return Master(
            hdul["SCI"].data.astype(np.float32),
            hdul["UNCERT"].data.astype(np.float32) ** 2,
            hdul["MASK"].data.astype(np.uint8),
        )


def subtract_dark(exposure: Electrons, dark: Master, dark_meta: dict, exptime: float) -> Electrons:
    """Subtract a master dark taken at ``dark_meta['exp']``, scaled to ``exptime`` when it was
    bias-subtracted (a dark that still holds the detector pedestal cannot be scaled)."""
    dark_exptime = float(dark_meta.get("exp") or 0.0)
    scale = 1.0
    if dark_meta.get("bias_subtracted") and dark_exptime > 0:
        scale = exptime / dark_exptime
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

"""Frames on disk for the grid and the resampling: their geometry, and one frame resampled."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
from astropy.io import fits
from astropy.wcs import WCS

from potpyri.astrometry.wcsio import header_wcs
from potpyri.stacking.combine import background_variance
from potpyri.stacking.resample import Grid, resample_frame

__all__ = ["FrameGeometry", "CannotResample", "read_geometry", "resample_file"]


class CannotResample(ValueError):
    """A frame cannot be put on a grid (no celestial WCS, or it misses the grid)."""


@dataclass
class FrameGeometry:
    """What the grid needs of a frame."""

    wcs: WCS  #: celestial WCS of the SCI extension
    shape: tuple[int, int]  #: (ny, nx)
    dispersion: tuple[float, float] | None  #: (RADISP, DEDISP), arcsec, written by align


def read_geometry(path: Path) -> FrameGeometry:
    """The WCS, shape and alignment dispersion of the frame at ``path``."""
    with fits.open(path) as hdul:
        primary, header = hdul[0].header, hdul["SCI"].header
        dispersion = None
        if "RADISP" in primary and "DEDISP" in primary:
            dispersion = (float(primary["RADISP"]), float(primary["DEDISP"]))
        wcs = header_wcs(header, celestial=False)
        if not wcs.has_celestial:
            raise CannotResample(f"{path.name}: no celestial WCS in the SCI header")
        return FrameGeometry(
            wcs.celestial, (int(header["NAXIS2"]), int(header["NAXIS1"])), dispersion
        )


def resample_file(
    path: Path, grid: Grid, order: int, step_px: int
) -> tuple[fits.Header, np.ndarray, np.ndarray, np.ndarray, float]:
    """The frame at ``path`` (SCI, MASK, UNCERT or ERR) on ``grid``.

    Returns its primary header annotated with ``RESAMPLE``, ``RESCOVER`` and ``BKGVAR`` (the
    background variance of the resampled pixels, the stack's frame weight), SCI, MASK, the
    uncertainty, and that variance (NaN when no pixel has a positive uncertainty: the stack then
    measures it per block).

    Raises
    ------
    CannotResample
        If the frame has no celestial WCS or does not overlap the grid.
    """
    with fits.open(path) as hdul:
        header = hdul[0].header.copy()
        wcs = header_wcs(hdul["SCI"].header, celestial=False)
        if not wcs.has_celestial:
            raise CannotResample(f"{path.name}: no celestial WCS in the SCI header")
        err_name = "UNCERT" if "UNCERT" in hdul else "ERR"
        sci, mask, err = resample_frame(
            hdul["SCI"].data,
            hdul["MASK"].data,
            hdul[err_name].data,
            wcs.celestial,
            grid,
            order=order,
            step=step_px,
        )
    covered = float((mask & 1 == 0).mean())
    if covered == 0:
        raise CannotResample(f"{path.name}: does not overlap its target's grid")
    header["RESAMPLE"] = ("cubic spline" if order == 3 else "bilinear", "interpolation of SCI")
    header["RESCOVER"] = (round(covered, 4), "fraction of the grid this frame covers")
    bkg_var = background_variance(err, mask == 0)
    if np.isfinite(bkg_var):
        header["BKGVAR"] = (
            float(f"{bkg_var:.6g}"),
            "median variance of the resampled pixels, e-^2",
        )
    return header, sci, mask, err, bkg_var

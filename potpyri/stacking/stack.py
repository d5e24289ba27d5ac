"""A target's resampled frames combined into one stack, one block of rows at a time.

Each frame is scaled to electrons per second by its exposure time and masked pixels are left
out. ``mean`` and ``sigclip`` weight each frame by its background inverse variance, not each
pixel by its own: a pixel's uncertainty includes its star's photon noise, and weighting by it
mixes the frames' different star profiles unevenly. A stack pixel where any input was saturated
keeps the SATURATED bit (it combines only the frames that were not, whose star profiles are not
the stack's). COVERAGE counts the frames whose data cover each pixel. Memory: the output (SCI,
MASK, ERR, COVERAGE) is held whole, the inputs only as row blocks read with ``pread``.
"""

from __future__ import annotations

import warnings
from contextlib import ExitStack
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from astropy.io import fits
from astropy.wcs import WCS, FITSFixedWarning

from potpyri.calibration.masks import BAD, SATURATED
from potpyri.stacking.combine import RowReader, background_variance, combine_block, row_blocks

__all__ = [
    "FrameShapeMismatch",
    "StackedPixels",
    "grid_mismatch",
    "saturation_level",
    "stack_frames",
    "stack_header",
]


class FrameShapeMismatch(ValueError):
    """The frames to stack are not all of one shape (they were not resampled to one grid)."""


@dataclass
class StackedPixels:
    """The combined image of a stack and its per-pixel companions."""

    sci: np.ndarray  #: combined value, e-/s (float32; NaN where no frame contributed)
    err: np.ndarray  #: 1-sigma uncertainty, e-/s (float32)
    mask: np.ndarray  #: BAD where no frame contributed, SATURATED where any input was (uint8)
    coverage: np.ndarray  #: frames whose data cover each pixel (int16)


def stack_frames(
    paths: list[Path],
    exptimes: np.ndarray,
    bkg_var: np.ndarray,
    method: str,
    sigma: float,
    maxiters: int,
    clip_frac: float,
    memory_mb: float,
) -> StackedPixels:
    """Combine the frames at ``paths`` (SCI, UNCERT or ERR, MASK; one shape) in row blocks.

    Parameters
    ----------
    paths : list of Path
        The frames, all on one pixel grid.
    exptimes : numpy.ndarray
        Exposure time of each frame, s (float32): the frames are scaled by its inverse.
    bkg_var : numpy.ndarray
        Background variance of each frame, e-² (NaN: measured per block from its errors).
    method, sigma, maxiters, clip_frac
        As in :func:`~potpyri.stacking.combine.combine_block`.
    memory_mb : float
        Working memory of the row blocks (all frames), MB; at most one output set.

    Raises
    ------
    FrameShapeMismatch
        If the frames differ in shape.
    """
    with ExitStack() as stack:
        readers = []
        for path in paths:
            with fits.open(path, lazy_load_hdus=True) as hdul:
                err_name = "UNCERT" if "UNCERT" in hdul else "ERR"
            readers.append(stack.enter_context(RowReader(path, ("SCI", err_name, "MASK"))))
        shapes = {r.shape for r in readers}
        if len(shapes) != 1:
            raise FrameShapeMismatch(
                f"frames differ in shape {sorted(shapes)}; resample them first"
            )
        ny, nx = shapes.pop()
        scale = (1.0 / exptimes)[:, None, None]
        # mean/sigclip weights: each frame's background inverse variance in e-/s (resample
        # measured it on the whole frame); frames that were not resampled get it per block.
        frame_weight = exptimes.astype(np.float64) ** 2 / bkg_var
        sci = np.empty((ny, nx), np.float32)
        err = np.empty((ny, nx), np.float32)
        mask = np.zeros((ny, nx), np.uint8)
        coverage = np.zeros((ny, nx), np.int16)
        # Blocks never take more than one output set (SCI+MASK+ERR, 9 bytes a pixel) either, so
        # small stacks stay small: peak ≈ 3 output sets + the interpreter, at most memory_mb of
        # blocks.
        budget_mb = min(memory_mb, max(4.0, 9 * ny * nx / 1e6))
        for rows in row_blocks(ny, nx, len(paths), budget_mb):
            height = rows.stop - rows.start
            data = np.empty((len(paths), height, nx), np.float32)
            error = np.empty_like(data)
            valid = np.empty(data.shape, bool)
            saturated = np.zeros((height, nx), bool)
            for n, reader in enumerate(readers):
                data[n] = reader.read(0, rows)
                error[n] = reader.read(1, rows)
                bits = reader.read(2, rows)
                valid[n] = bits == 0
                saturated |= (bits & SATURATED) != 0
                # Frames whose data cover the pixel (off-grid, gaps and bad pixels are BAD),
                # whatever their cosmic-ray or saturation bits: their PSFs make the stack's.
                coverage[rows] += (bits & BAD) == 0
                del bits
            data *= scale
            error *= scale
            weight = None
            if method != "median":
                weight = frame_weight.copy()
                for n in np.flatnonzero(~(weight > 0)):
                    weight[n] = 1.0 / background_variance(error[n], valid[n])
                weight = np.nan_to_num(weight, nan=0.0)
            value, uncertainty, n_used = combine_block(
                data, error, valid, method, sigma, maxiters, clip_frac, weight
            )
            del data, error, valid
            sci[rows], err[rows] = value, uncertainty
            mask[rows] = np.where(n_used == 0, BAD, 0) | np.where(saturated, SATURATED, 0)
    return StackedPixels(sci, err, mask, coverage)


def stack_header(
    first: Path, exptimes: np.ndarray, method: str, sigma: float, names: list[str]
) -> tuple[fits.Header, fits.Header]:
    """The stack's primary header (the first frame's, with the combination's keywords) and the
    SCI header of the first frame (its WCS is the stack's)."""
    with fits.open(first, lazy_load_hdus=True) as hdul:
        header = hdul[0].header.copy()
        wcs_header = hdul["SCI"].header.copy()
    for key in ("EXPTIME", "NCOMBINE", "BUNIT"):
        header.remove(key, ignore_missing=True)
    header["EXPTIME"] = (float(exptimes.sum()), "total exposure time of the inputs, s")
    header["NCOMBINE"] = (len(names), "frames combined")
    header["STKMETH"] = (method, "stack method")
    header["STKSIGMA"] = (sigma, "sigclip rejection threshold")
    header["BUNIT"] = ("electron/s", "pixel unit")
    for n, name in enumerate(names, start=1):
        header[f"IMCMB{n:03d}"] = name[:68]  # no comment: names can fill the card
    return header, wcs_header


def saturation_level(paths: list[Path], exptimes: np.ndarray) -> float | None:
    """The stack's saturation level, e-/s above the sky: the lowest over its frames of (SATLEVEL
    - SKYLEVEL) / exposure time (frames' primary-header electrons; no SKYLEVEL counts as 0).
    None when no frame has SATLEVEL."""
    levels = []
    for path, exptime in zip(paths, exptimes, strict=True):
        header = fits.getheader(path, 0)
        if "SATLEVEL" in header and exptime > 0:
            sky = float(header.get("SKYLEVEL", 0.0))
            levels.append((float(header["SATLEVEL"]) - sky) / float(exptime))
    levels = [level for level in levels if level > 0]  # a sky above it: no usable level
    return min(levels) if levels else None


def grid_mismatch(
    frames: list[tuple[str, Path]], ny: int, nx: int, tolerance_px: float = 0.01
) -> list[str]:
    """A warning when the frames' WCSs (id, path) disagree (e.g. resample disabled on dithered
    frames): pixels of the same index would then not be the same sky, and the stack would blur
    or double stars."""
    corners = np.array(
        [[0, 0], [nx - 1, 0], [0, ny - 1], [nx - 1, ny - 1], [(nx - 1) / 2, (ny - 1) / 2]], float
    )
    reference = None
    worst, name = 0.0, ""
    for frame_id, path in frames:
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", FITSFixedWarning)
                wcs = WCS(fits.getheader(path, "SCI")).celestial
        except Exception:  # no readable WCS: nothing to compare
            return []
        if not wcs.has_celestial:
            return []
        if reference is None:
            reference = wcs
            continue
        x, y = reference.all_world2pix(wcs.all_pix2world(corners, 0), 0).T
        offset = float(np.hypot(x - corners[:, 0], y - corners[:, 1]).max())
        if offset > worst:
            worst, name = offset, frame_id
    if worst <= tolerance_px:
        return []
    return [
        f"frames are not on one pixel grid ({name} is off by up to {worst:.2f} px from "
        f"{frames[0][0]}): resample them first (resample.enabled=true)"
    ]

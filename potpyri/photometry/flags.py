"""Quality flags of the detections (APPPHOT ``flags`` bits) and the frames behind each source."""

from __future__ import annotations

import numpy as np
from astropy.table import Table

from potpyri.photometry.moffat import moffat_share

__all__ = [
    "FLAG_EDGE",
    "FLAG_FLATTOP",
    "FLAG_MASKED",
    "FLAG_NEIGHBOUR",
    "FLAG_PARTIAL",
    "MAX_NEIGHBOUR_LIGHT",
    "UNUSABLE_FOR_CALIBRATION",
    "fewest_frames",
    "flag_sources",
    "flat_tops",
    "source_flags",
]

#: Photometry flags (bit values) in the APPPHOT ``flags`` column.
FLAG_MASKED = 1  #: a masked pixel (bad, cosmic ray, saturated) inside the aperture
FLAG_EDGE = 2  #: the aperture crosses the image edge
#: detections within the isolation radius (4 FWHM) put more than MAX_NEIGHBOUR_LIGHT of the
#: source's aperture flux into its aperture (PSF stars and the flux-correction stars must have no
#: detection at all there)
FLAG_NEIGHBOUR = 4
FLAG_FLATTOP = 8  #: peak/flux well below that of other bright stars: a saturated, flattened core
#: fewer frames cover the fit box than the deepest part of the stack: another PSF (a combination of
#: other seeings) than the ePSF, whose PSF magnitude may err by several per cent
FLAG_PARTIAL = 16
#: A neighbour adding less than this to a source's aperture (0.005 mag) leaves it usable for
#: calibration: at low galactic latitude nearly every star has a faint detection within 4 FWHM.
MAX_NEIGHBOUR_LIGHT = 0.005
#: APPPHOT flags that keep a star out of the zero point (the image edge alone does not).
UNUSABLE_FOR_CALIBRATION = FLAG_MASKED | FLAG_NEIGHBOUR | FLAG_FLATTOP | FLAG_PARTIAL


def flag_sources(
    apphot: Table,
    bad: np.ndarray,
    radius: float,
    fwhm: float,
    coverage: np.ndarray | None,
    fit_half: int,
) -> np.ndarray:
    """Add the ``flags`` and ``nframes`` columns to ``apphot``; return whether each source is
    isolated (no other detection within 4 ``fwhm``).

    ``radius`` is the aperture radius and ``fit_half`` the half side of the PSF fit box (px);
    ``coverage`` the stack's frames per pixel (None: one frame everywhere, no FLAG_PARTIAL).
    """
    apphot["flags"], isolated = source_flags(apphot, bad, radius, isolation=4.0 * fwhm, fwhm=fwhm)
    apphot["flags"] |= flat_tops(apphot)
    apphot["nframes"] = fewest_frames(coverage, apphot, fit_half)
    if coverage is not None:
        apphot["flags"][apphot["nframes"] < coverage.max()] |= FLAG_PARTIAL
    return isolated


def source_flags(
    table: Table, bad: np.ndarray, radius: float, isolation: float, fwhm: float
) -> tuple[np.ndarray, np.ndarray]:
    """The FLAG_* bits of each source, and whether no other detection lies within ``isolation``
    pixels (what PSF stars and the flux-correction stars need)."""
    from scipy.spatial import cKDTree

    x, y = np.asarray(table["x_centroid"]), np.asarray(table["y_centroid"])
    ny, nx = bad.shape
    flags = np.zeros(len(table), np.int16)
    edge = (x < radius) | (y < radius) | (x > nx - 1 - radius) | (y > ny - 1 - radius)
    flags[edge] |= FLAG_EDGE
    full_area = np.pi * radius**2
    flags[np.asarray(table["sum_aper_area"]) < 0.98 * full_area] |= FLAG_MASKED
    pairs = cKDTree(np.transpose([x, y])).query_pairs(isolation, output_type="ndarray")
    isolated = np.ones(len(table), bool)
    if len(pairs):
        isolated[pairs.ravel()] = False
        i, j = np.concatenate([pairs, pairs[:, ::-1]]).T  # each pair both ways: j lights i
        share = moffat_share(np.hypot(x[i] - x[j], y[i] - y[j]), radius, fwhm)
        flux = np.maximum(np.nan_to_num(np.asarray(table["sum"], float)), 0.0)
        light = np.bincount(i, weights=flux[j] * share, minlength=len(table))
        flags[light > MAX_NEIGHBOUR_LIGHT * flux] |= FLAG_NEIGHBOUR
    return flags, isolated


def flat_tops(apphot: Table) -> np.ndarray:
    """FLAG_FLATTOP where peak/flux is < 85% of the median of S/N > 20 stars: saturated cores that
    the mask missed (their fluxes and shapes would bias the ePSF and the zero point)."""
    ratio = np.asarray(apphot["peak"], float) / np.where(apphot["sum"] > 0, apphot["sum"], np.nan)
    sample = (apphot["snr"] > 20) & np.isfinite(ratio)
    flags = np.zeros(len(apphot), np.int16)
    if sample.sum() >= 5:
        reference = np.median(ratio[sample])
        flags[(apphot["snr"] > 50) & (ratio < 0.85 * reference)] = FLAG_FLATTOP
    return flags


def fewest_frames(coverage: np.ndarray | None, apphot: Table, half: int) -> np.ndarray:
    """Frames combined at each source: the fewest that cover more than 10% of its fit box (a box
    of side 2 ``half`` + 1), so that the scattered bad pixels of single frames do not count and a
    dither edge or chip gap across the star does; 1 everywhere without a coverage map."""
    if coverage is None:
        return np.ones(len(apphot), np.int16)
    from scipy.ndimage import uniform_filter

    ny, nx = coverage.shape
    x = np.clip(np.round(np.asarray(apphot["x_centroid"], float)).astype(int), 0, nx - 1)
    y = np.clip(np.round(np.asarray(apphot["y_centroid"], float)).astype(int), 0, ny - 1)
    nframes = np.full(len(apphot), int(coverage.max()), np.int16)
    for n in np.unique(coverage)[-2::-1]:  # the levels below the deepest, downwards: fewer wins
        fraction = uniform_filter(
            (coverage <= n).astype(np.float32), size=2 * half + 1, mode="nearest"
        )
        nframes[fraction[y, x] > 0.1] = n
    return nframes

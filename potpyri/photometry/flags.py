"""Quality flags of the detections (APPPHOT ``flags`` bits) and the frames behind each source."""

from __future__ import annotations

import numpy as np
from astropy.table import Table

from potpyri.photometry.moffat import moffat_share

__all__ = [
    "FLAG_EDGE",
    "FLAG_FLATTOP",
    "FLAG_LOW_COVERAGE",
    "FLAG_MASKED",
    "FLAG_NEAR_EDGE",
    "FLAG_NEGATIVE",
    "FLAG_NEIGHBOUR",
    "FLAG_PARTIAL",
    "LOW_COVERAGE_NOISE",
    "NEAR_EDGE_RADII",
    "MAX_NEIGHBOUR_LIGHT",
    "UNUSABLE_FOR_CALIBRATION",
    "fewest_frames",
    "flag_sources",
    "flat_tops",
    "reliability_flags",
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
#: a pixel without data (image border, a no-data region or BAD pixels of the stack) within
#: NEAR_EDGE_RADII aperture radii: the local sky and the fit are truncated, and noise and
#: resampling artefacts along such edges make most false detections
FLAG_NEAR_EDGE = 32
#: the sky noise around the source (ERR in its sky annulus) is more than LOW_COVERAGE_NOISE
#: times the image's median, or it lies where fewer than half the stack's frames overlap
FLAG_LOW_COVERAGE = 64
FLAG_NEGATIVE = 128  #: aperture flux <= 0: not a source (a noise dip, or over-subtracted sky)
NEAR_EDGE_RADII = 2.0  #: see FLAG_NEAR_EDGE
LOW_COVERAGE_NOISE = 1.5  #: see FLAG_LOW_COVERAGE
#: A neighbour adding less than this to a source's aperture (0.005 mag) leaves it usable for
#: calibration: at low galactic latitude nearly every star has a faint detection within 4 FWHM.
MAX_NEIGHBOUR_LIGHT = 0.005
#: APPPHOT flags that keep a star out of the zero point (the image edge alone does not).
UNUSABLE_FOR_CALIBRATION = (
    FLAG_MASKED | FLAG_NEIGHBOUR | FLAG_FLATTOP | FLAG_PARTIAL | FLAG_NEGATIVE
)


def flag_sources(
    apphot: Table,
    bad: np.ndarray,
    radius: float,
    fwhm: float,
    coverage: np.ndarray | None,
    fit_half: int,
    no_data: np.ndarray | None = None,
    error: np.ndarray | None = None,
) -> np.ndarray:
    """Add the ``flags`` and ``nframes`` columns to ``apphot``; return whether each source is
    isolated (no other detection within 4 ``fwhm``).

    ``radius`` is the aperture radius and ``fit_half`` the half side of the PSF fit box (px);
    ``coverage`` the stack's frames per pixel (None: one frame everywhere, no FLAG_PARTIAL);
    ``no_data`` the pixels without data and ``error`` the 1-sigma image
    (:func:`reliability_flags`; None: those flags only from the image border).
    """
    apphot["flags"], isolated = source_flags(apphot, bad, radius, isolation=4.0 * fwhm, fwhm=fwhm)
    apphot["flags"] |= flat_tops(apphot)
    apphot["nframes"] = fewest_frames(coverage, apphot, fit_half)
    if coverage is not None:
        apphot["flags"][apphot["nframes"] < coverage.max()] |= FLAG_PARTIAL
    if no_data is None:
        no_data = np.zeros(bad.shape, bool)
    apphot["flags"] |= reliability_flags(apphot, no_data, bad, radius, coverage, error)
    return isolated


def reliability_flags(
    apphot: Table,
    no_data: np.ndarray,
    bad: np.ndarray,
    radius: float,
    coverage: np.ndarray | None = None,
    error: np.ndarray | None = None,
) -> np.ndarray:
    """FLAG_NEAR_EDGE, FLAG_LOW_COVERAGE and FLAG_NEGATIVE of each source of ``apphot``
    (columns x_centroid, y_centroid, sum; aperture ``radius`` px).

    ``no_data`` marks pixels without data (the image border counts as such); ``error`` (with
    ``bad``, the pixels not used) gives each source's sky noise in its annulus (2.5-3.5 radii),
    compared with the median ERR of the image; ``coverage`` the frames per pixel.
    """
    from photutils.aperture import ApertureStats, CircularAnnulus
    from scipy.ndimage import distance_transform_edt

    ny, nx = no_data.shape
    x = np.asarray(apphot["x_centroid"], float)
    y = np.asarray(apphot["y_centroid"], float)
    xi, yi = (
        np.clip(np.round(x).astype(int), 0, nx - 1),
        np.clip(np.round(y).astype(int), 0, ny - 1),
    )
    flags = np.zeros(len(apphot), np.int16)
    to_border = np.minimum.reduce([x + 1, y + 1, nx - x, ny - y])
    to_gap = distance_transform_edt(~no_data)[yi, xi] if no_data.any() else np.full(len(x), np.inf)
    flags[np.minimum(to_border, to_gap) < NEAR_EDGE_RADII * radius] |= FLAG_NEAR_EDGE
    low = np.zeros(len(apphot), bool)
    if coverage is not None and coverage.max() > 0:
        low |= coverage[yi, xi] < 0.5 * coverage.max()
    usable = ~bad & np.isfinite(error) & (error > 0) if error is not None else None
    if usable is not None and usable.any() and len(apphot):
        annulus = CircularAnnulus(np.transpose([x, y]), 2.5 * radius, 3.5 * radius)
        finite = np.where(usable, error, 0.0)  # masked anyway; inf would spoil the cutouts
        local = np.asarray(ApertureStats(finite, annulus, mask=~usable).median, float)
        low |= local > LOW_COVERAGE_NOISE * float(np.median(error[usable]))
    flags[low] |= FLAG_LOW_COVERAGE
    flags[~(np.asarray(apphot["sum"], float) > 0)] |= FLAG_NEGATIVE
    return flags


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

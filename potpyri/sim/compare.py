"""A reduced stack against the simulator's truth: astrometry, zero point, photometry.

Used by the benchmark and the tests; the pipeline never imports it.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
from astropy.io import fits
from astropy.table import Table
from astropy.wcs import WCS
from scipy.spatial import cKDTree

__all__ = [
    "PhotometryCheck",
    "StackAstrometry",
    "stack_astrometry",
    "stack_photometry",
    "truth_zeropoint",
]


@dataclass
class StackAstrometry:
    """Measured centroids of bright stars minus the stack WCS's image of their truth positions."""

    dx: np.ndarray  #: pixels
    dy: np.ndarray  #: pixels

    @property
    def n(self) -> int:
        return len(self.dx)

    @property
    def rms(self) -> float:
        """RMS of the 2-D offset, pixels."""
        return float(np.sqrt(np.mean(self.dx**2 + self.dy**2))) if self.n else float("nan")


def stack_astrometry(
    stack: str | Path,
    stars: Table,
    fwhm: float = 3.0,
    nsigma: float = 20.0,
    radius: float = 1.0,
    isolation: float = 8.0,
) -> StackAstrometry:
    """Windowed centroids of the stack's bright sources (the astrometry step's detection) matched
    within ``radius`` px to the truth point sources placed through the stack's WCS.

    Stars with another truth source (star or galaxy, any brightness) within ``isolation`` px are
    left out: a blend's light centre is not the star's position.
    """
    from potpyri.astrometry.detect import detect_sources

    with fits.open(stack) as hdul:
        wcs = WCS(hdul["SCI"].header)
        ny, nx = hdul["SCI"].data.shape
        sources = detect_sources(hdul["SCI"].data, hdul["MASK"].data, fwhm=fwhm, threshold=nsigma)
    # Only the truth stars near this stack: another target's field does not project (NaN).
    centre = wcs.pixel_to_world((nx - 1) / 2, (ny - 1) / 2)
    cone_deg = np.hypot(nx, ny) * np.sqrt(abs(np.linalg.det(wcs.celestial.pixel_scale_matrix)))
    dra = (np.asarray(stars["ra"]) - centre.ra.deg) * np.cos(np.deg2rad(centre.dec.deg))
    stars = stars[np.hypot(dra, np.asarray(stars["dec"]) - centre.dec.deg) < cone_deg]
    x, y = wcs.all_world2pix(stars["ra"], stars["dec"], 0, quiet=True)
    inside = np.isfinite(x) & np.isfinite(y)
    stars, x, y = stars[inside], x[inside], y[inside]
    if len(sources) == 0 or len(stars) == 0:
        return StackAstrometry(np.zeros(0), np.zeros(0))
    tree = cKDTree(np.column_stack([x, y]))
    crowded = np.array(
        [len(n) > 1 for n in tree.query_ball_point(np.column_stack([x, y]), isolation)]
    )
    dist, idx = tree.query(np.column_stack([sources["x"], sources["y"]]))
    near = (dist < radius) & ~crowded[idx] & ~np.asarray(stars["is_galaxy"])[idx]
    return StackAstrometry(
        np.asarray(sources["x"][near] - x[idx[near]]), np.asarray(sources["y"][near] - y[idx[near]])
    )


def truth_zeropoint(truth_dir: str | Path, raw_files: list[str]) -> tuple[float, float]:
    """The AB zero point (e-/s) of a stack of ``raw_files``, and the spread of its frames'.

    Each frame's truth zero point, plus 2.5 log10 of the median true flat response (the
    pipeline's flats are normalised to 1), averaged in flux with the stack's sky-limited
    inverse-variance weights (exposure time / sky rate).
    """
    frames = Table.read(Path(truth_dir) / "frames.ecsv")
    rows = frames[np.isin(frames["file"], raw_files)]
    if len(rows) == 0:
        raise ValueError(f"none of {raw_files[:3]}... is in the truth of {truth_dir}")
    response = fits.getdata(Path(truth_dir) / "maps" / "flat.fits.fz")
    flat = 2.5 * np.log10(np.median(response[response > 0]))
    zps = np.asarray(rows["zeropoint"], float)
    weights = np.asarray(rows["exptime"], float) / np.asarray(rows["sky_e_s"], float)
    mean = 2.5 * np.log10(np.sum(weights * 10 ** (0.4 * zps)) / np.sum(weights))
    return float(mean + flat), float(np.ptp(zps))


@dataclass
class PhotometryCheck:
    """Calibrated PSF magnitudes of isolated bright stars minus their truth magnitudes."""

    delta: np.ndarray  #: mag
    pull: np.ndarray  #: delta / reported mag_err

    @property
    def n(self) -> int:
        return len(self.delta)

    @property
    def median(self) -> float:
        return float(np.median(self.delta)) if self.n else float("nan")

    @property
    def scatter(self) -> float:
        """Robust standard deviation (1.4826 MAD), mag."""
        if not self.n:
            return float("nan")
        return float(1.4826 * np.median(np.abs(self.delta - np.median(self.delta))))


def stack_photometry(
    psfphot: Table,
    stars: Table,
    band: str,
    *,
    snr_min: float = 50.0,
    radius_arcsec: float = 0.5,
    isolation_arcsec: float = 5.0,
) -> PhotometryCheck:
    """Match the calibrated PSF table (``ra``, ``dec``, ``mag``, ``mag_err``, ``snr``) to truth
    point sources with no other truth source within ``isolation_arcsec``."""
    ok = np.isfinite(np.asarray(psfphot["mag"], float)) & (
        np.asarray(psfphot["snr"], float) >= snr_min
    )
    table = psfphot[ok]
    dec0 = np.deg2rad(float(np.median(stars["dec"])))

    def plane(ra, dec):
        return np.column_stack([np.asarray(ra) * np.cos(dec0), np.asarray(dec)]) * 3600

    truth_xy = plane(stars["ra"], stars["dec"])
    tree = cKDTree(truth_xy)
    crowded = np.array([len(n) > 1 for n in tree.query_ball_point(truth_xy, isolation_arcsec)])
    dist, idx = tree.query(plane(table["ra"], table["dec"]))
    good = (dist < radius_arcsec) & ~crowded[idx] & ~np.asarray(stars["is_galaxy"])[idx]
    delta = (
        np.asarray(table["mag"], float)[good] - np.asarray(stars[f"mag_{band}"], float)[idx[good]]
    )
    return PhotometryCheck(delta, delta / np.asarray(table["mag_err"], float)[good])

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
from scipy.interpolate import RegularGridInterpolator
from scipy.spatial import cKDTree

__all__ = [
    "PhotometryCheck",
    "StackAstrometry",
    "stack_astrometry",
    "stack_photometry",
    "truth_psf_fwhm",
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
    snr_min: float = 20.0,
    radius: float = 1.0,
    isolation: float = 8.0,
) -> StackAstrometry:
    """Centroids of isolated truth stars in a stack, measured with an estimator the pipeline does
    not use (a 2-D Gaussian fit, :func:`photutils.centroids.centroid_2dg`), minus the stack WCS's
    image of their truth positions.

    A star is measured when no other truth source (star or galaxy, any brightness) lies within
    ``isolation`` px (a blend's light centre is not the star's position), its box (about 4 FWHM
    wide) lies inside the stack with no flagged pixel, and the box's signal-to-noise (from ERR)
    is at least ``snr_min``. The box is centred on the WCS position, then once more on the first
    centroid, so the fit does not inherit the WCS under test; a centroid more than ``radius`` px
    from the WCS position is counted as a mismatch and left out.
    """
    with fits.open(stack) as hdul:
        wcs = WCS(hdul["SCI"].header)
        sci = np.asarray(hdul["SCI"].data, float)
        err = np.asarray(hdul["ERR"].data, float) if "ERR" in hdul else None
        flagged = np.asarray(hdul["MASK"].data) != 0 if "MASK" in hdul else ~np.isfinite(sci)
    ny, nx = sci.shape
    # Only the truth sources near this stack: another target's field does not project (NaN).
    centre = wcs.pixel_to_world((nx - 1) / 2, (ny - 1) / 2)
    cone_deg = np.hypot(nx, ny) * np.sqrt(abs(np.linalg.det(wcs.celestial.pixel_scale_matrix)))
    dra = (np.asarray(stars["ra"]) - centre.ra.deg) * np.cos(np.deg2rad(centre.dec.deg))
    stars = stars[np.hypot(dra, np.asarray(stars["dec"]) - centre.dec.deg) < cone_deg]
    x, y = wcs.all_world2pix(stars["ra"], stars["dec"], 0, quiet=True)
    inside = np.isfinite(x) & np.isfinite(y)
    stars, x, y = stars[inside], x[inside], y[inside]
    if len(stars) == 0:
        return StackAstrometry(np.zeros(0), np.zeros(0))
    tree = cKDTree(np.column_stack([x, y]))
    crowded = np.array(
        [len(n) > 1 for n in tree.query_ball_point(np.column_stack([x, y]), isolation)]
    )
    half = max(3, int(np.ceil(2 * fwhm)))
    alone = ~crowded & ~np.asarray(stars["is_galaxy"])
    dx, dy = [], []
    for xi, yi in zip(x[alone], y[alone], strict=True):
        found = _centroid_2dg(sci, err, flagged, xi, yi, half, snr_min)
        if found is None:
            continue
        found = _centroid_2dg(sci, err, flagged, found[0], found[1], half, snr_min)
        if found is not None and np.hypot(found[0] - xi, found[1] - yi) < radius:
            dx.append(found[0] - xi)
            dy.append(found[1] - yi)
    return StackAstrometry(np.asarray(dx), np.asarray(dy))


def _centroid_2dg(
    sci: np.ndarray,
    err: np.ndarray | None,
    flagged: np.ndarray,
    x: float,
    y: float,
    half: int,
    snr_min: float,
) -> tuple[float, float] | None:
    """2-D Gaussian centroid in the box of half-width ``half`` around (x, y), after subtracting
    the median of the box's border; None where the box leaves the image, holds a flagged or
    non-finite pixel, or its signal-to-noise is below ``snr_min``."""
    from photutils.centroids import centroid_2dg

    x0, y0 = int(round(x)) - half, int(round(y)) - half
    x1, y1 = x0 + 2 * half + 1, y0 + 2 * half + 1
    if x0 < 0 or y0 < 0 or x1 > sci.shape[1] or y1 > sci.shape[0]:
        return None
    box = sci[y0:y1, x0:x1]
    if flagged[y0:y1, x0:x1].any() or not np.isfinite(box).all():
        return None
    border = np.concatenate([box[0], box[-1], box[1:-1, 0], box[1:-1, -1]])
    box = box - np.median(border)
    if err is not None:
        noise = float(np.sqrt(np.sum(np.square(err[y0:y1, x0:x1]))))
        if not np.isfinite(noise) or noise <= 0 or box.sum() < snr_min * noise:
            return None
    cx, cy = centroid_2dg(box, error=None if err is None else err[y0:y1, x0:x1])
    if not (np.isfinite(cx) and np.isfinite(cy)):
        return None
    return x0 + float(cx), y0 + float(cy)


def truth_psf_fwhm(
    truth_dir: str | Path, raw_file: str, x: np.ndarray | float, y: np.ndarray | float
) -> np.ndarray:
    """Truth effective FWHM (pixels, pixel response excluded) of one raw file's PSF at mosaic
    positions ``x, y`` (0-based): ``truth/psf_fwhm.ecsv``'s lattice, interpolated bilinearly
    (nearest value beyond the lattice). A night drawn with the Moffat has one value."""
    table = Table.read(Path(truth_dir) / "psf_fwhm.ecsv")
    rows = table[table["file"] == raw_file]
    if len(rows) == 0:
        raise ValueError(f"{raw_file}: not in {truth_dir}/psf_fwhm.ecsv (not a science frame?)")
    xs, ys = np.unique(rows["x"]), np.unique(rows["y"])
    x, y = np.broadcast_arrays(np.asarray(x, float), np.asarray(y, float))
    if len(xs) == 1 or len(ys) == 1:
        return np.full(x.shape, float(np.mean(rows["fwhm_px"])))
    grid = np.empty((len(ys), len(xs)))
    grid[np.searchsorted(ys, rows["y"]), np.searchsorted(xs, rows["x"])] = rows["fwhm_px"]
    interpolate = RegularGridInterpolator((ys, xs), grid, method="linear")
    points = np.stack([np.clip(y, ys[0], ys[-1]), np.clip(x, xs[0], xs[-1])], axis=-1)
    return interpolate(points)


def truth_zeropoint(truth_dir: str | Path, raw_files: list[str]) -> tuple[float, float]:
    """The AB zero point (e-/s) of a stack of ``raw_files``, and the spread of its frames'.

    From the simulator's own bookkeeping, no pipeline code: each exposure delivers
    ``exptime * 10**(0.4 * (zeropoint - m))`` electrons times the true response, and the
    calibrated frame divides the response out up to the flat's normalisation. So each frame's
    zero point is its truth ``zeropoint`` plus 2.5 log10 of the median true response over the
    pixels its file covers (the master flat of that file's read-out is normalised to median 1:
    a chip file of IMACS or FourStar has its own); the stack's is their flux average with the
    sky-limited inverse-variance frame weights (exposure time / sky rate).
    """
    frames = Table.read(Path(truth_dir) / "frames.ecsv")
    rows = frames[np.isin(frames["file"], raw_files)]
    if len(rows) == 0:
        raise ValueError(f"none of {raw_files[:3]}... is in the truth of {truth_dir}")
    response = fits.getdata(Path(truth_dir) / "maps" / "flat.fits.fz")
    zps = np.array(
        [
            float(r["zeropoint"]) + _flat_normalisation(response, _region(r, response.shape))
            for r in rows
        ]
    )
    weights = np.asarray(rows["exptime"], float) / np.asarray(rows["sky_e_s"], float)
    mean = 2.5 * np.log10(np.sum(weights * 10 ** (0.4 * zps)) / np.sum(weights))
    return float(mean), float(np.ptp(np.asarray(rows["zeropoint"], float)))


def _region(row, shape: tuple[int, int]) -> tuple[slice, slice]:
    """The mosaic rows and columns a truth row's file covers (the whole mosaic without one)."""
    text = str(row["region"]) if "region" in row.colnames else ""
    if ":" not in text:
        return slice(0, shape[0]), slice(0, shape[1])
    (y0, y1), (x0, x1) = (tuple(int(v) for v in part.split(":")) for part in text.split(","))
    return slice(y0, y1), slice(x0, x1)


def _flat_normalisation(response: np.ndarray, region: tuple[slice, slice]) -> float:
    """2.5 log10 of the median sensitive response in ``region``: what a flat normalised to median 1
    there adds to the zero point."""
    part = response[region]
    return 2.5 * float(np.log10(np.median(part[part > 0])))


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

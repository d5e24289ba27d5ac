"""astrometry.net: a per-field index built from a reference catalog, and ``solve-field`` on a
source list.

Pitfalls of Debian's 0.93 handled here: there is no ``--index-dir`` (indices are named in a
``--config`` file with ``add_path``); a failed solve exits 0 after running to the CPU limit, so
success is the ``.solved`` file, and the limit is always set short; x/y lists are 1-based.
"""

from __future__ import annotations

import hashlib
import logging
import os
import shutil
import subprocess
import tempfile
import warnings
from pathlib import Path

import numpy as np
from astropy.io import fits
from astropy.table import Table
from astropy.wcs import WCS

__all__ = ["available", "build_index", "index_scales", "solve_field"]

log = logging.getLogger("potpyri.astrometry")


def available() -> bool:
    """Whether ``solve-field`` is on PATH."""
    return shutil.which("solve-field") is not None


def index_scales(field_arcmin: float) -> list[int]:
    """``build-astrometry-index -P`` presets whose quads span 20-100 % of the field's size.

    Preset P has quads of 2′·√2^P to 2′·√2^(P+1) (0: 2-2.8′, 2: 4-5.6′, −2: 1-1.4′).
    """
    lo = int(np.floor(2 * np.log2(0.2 * field_arcmin / 2.0)))
    hi = int(np.ceil(2 * np.log2(field_arcmin / 2.0))) - 1
    return list(range(max(lo, -5), max(min(hi, 19), lo) + 1))


def build_index(
    ra: np.ndarray,
    dec: np.ndarray,
    mag: np.ndarray,
    field_arcmin: float,
    cache_dir: str | os.PathLike,
) -> Path:
    """A folder of index files for these reference stars, built once and cached.

    Indices are of triangles (``-d 3``), not quads: a 5-10′ field at high latitude holds only
    10-20 Gaia stars, too few for 4-star quads at the small scales.

    The folder is named by a digest of the stars and scales, so the same field (the same Gaia
    cone) reuses it; it is built in a temporary folder and renamed into place, so concurrent
    workers never see a partial index.
    """
    scales = index_scales(field_arcmin)
    ra, dec, mag = (np.asarray(v, float) for v in (ra, dec, mag))
    good = np.isfinite(ra) & np.isfinite(dec)
    mag = np.where(np.isfinite(mag), mag, 99.0)
    ra, dec, mag = ra[good], dec[good], mag[good]
    digest = hashlib.sha256(
        np.round(np.column_stack([ra, dec, mag]), 7).tobytes() + f"{scales} d3".encode()
    ).hexdigest()[:16]
    folder = Path(cache_dir) / digest
    if folder.is_dir() and any(folder.glob("index-*.fits")):
        return folder
    folder.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{digest}.", dir=folder.parent))
    try:
        catalog = staging / "catalog.fits"
        Table({"RA": ra, "DEC": dec, "MAG": mag}).write(catalog, format="fits")
        base_id = int(digest[:6], 16) % 9000 + 1000
        for preset in scales:
            out = staging / f"index-{digest}-{preset:+d}.fits"
            cmd = [
                "build-astrometry-index",
                "-i",
                str(catalog),
                "-e",
                "1",
                "-o",
                str(out),
                "-P",
                str(preset),
                "-S",
                "MAG",
                "-E",
                "-d",
                "3",
                "-I",
                str(base_id * 100 + preset + 10),
                "-A",
                "RA",
                "-D",
                "DEC",
            ]
            done = subprocess.run(cmd, capture_output=True, text=True, timeout=300)
            if done.returncode != 0 or not out.is_file():
                # a scale with too few stars for a quad is not an error; the others may solve
                log.debug("build-astrometry-index -P %d: %s", preset, done.stderr.strip()[-200:])
                out.unlink(missing_ok=True)
        catalog.unlink()
        if not any(staging.glob("index-*.fits")):
            raise RuntimeError(f"build-astrometry-index made no index from {len(ra)} stars")
        try:
            os.rename(staging, folder)
        except OSError:  # another worker finished first: use theirs
            shutil.rmtree(staging, ignore_errors=True)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    return folder


def solve_field(
    x: np.ndarray,
    y: np.ndarray,
    flux: np.ndarray,
    shape: tuple[int, int],
    *,
    index_dirs: list[str | os.PathLike],
    ra: float,
    dec: float,
    radius_deg: float,
    scale_low: float,
    scale_high: float,
    cpulimit: float = 10.0,
    max_sources: int = 200,
) -> WCS | None:
    """Solve a source list with ``solve-field``; None when it does not solve.

    Parameters
    ----------
    x, y : numpy.ndarray
        0-based pixel positions (written 1-based, as astrometry.net expects).
    flux : numpy.ndarray
        Brightness, to sort by.
    shape : tuple of int
        Image (ny, nx).
    index_dirs : list of path
        Folders of index files (``add_path`` lines of the config file).
    ra, dec, radius_deg : float
        Where to look: the header pointing and a search radius.
    scale_low, scale_high : float
        Pixel scale range, arcsec/pixel.
    cpulimit : float
        Seconds of CPU after which solve-field gives up (it exits 0 either way).
    """
    ny, nx = shape
    order = np.argsort(-np.asarray(flux, float))[:max_sources]
    with tempfile.TemporaryDirectory(prefix="potpyri-anet-") as work:
        work = Path(work)
        xyls = work / "sources.xyls"
        Table(
            {
                "X": np.asarray(x, float)[order] + 1.0,
                "Y": np.asarray(y, float)[order] + 1.0,
                "FLUX": np.asarray(flux, float)[order],
            }
        ).write(xyls, format="fits")
        config = work / "astrometry.cfg"
        config.write_text(
            "".join(f"add_path {Path(d).absolute()}\n" for d in index_dirs)
            + f"autoindex\ncpulimit {int(np.ceil(cpulimit))}\n"
        )
        cmd = [
            "solve-field",
            "--config",
            str(config),
            "--no-plots",
            "--overwrite",
            "--dir",
            str(work),
            "--width",
            str(nx),
            "--height",
            str(ny),
            "--x-column",
            "X",
            "--y-column",
            "Y",
            "--sort-column",
            "FLUX",
            "--scale-units",
            "arcsecperpix",
            "--scale-low",
            f"{scale_low:.5f}",
            "--scale-high",
            f"{scale_high:.5f}",
            "--ra",
            f"{ra:.7f}",
            "--dec",
            f"{dec:.7f}",
            "--radius",
            f"{radius_deg:.5f}",
            "--cpulimit",
            str(int(np.ceil(cpulimit))),
            "--crpix-center",
            "--no-tweak",
            "--new-fits",
            "none",
            "--rdls",
            "none",
            "--match",
            "none",
            "--corr",
            "none",
            "--index-xyls",
            "none",
            "--temp-dir",
            str(work),
            str(xyls),
        ]
        try:
            done = subprocess.run(cmd, capture_output=True, text=True, timeout=cpulimit + 60)
        except subprocess.TimeoutExpired:
            return None
        solved = work / "sources.solved"
        if not solved.is_file():
            log.debug("solve-field did not solve: %s", done.stdout.strip()[-300:])
            return None
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            wcs = WCS(fits.getheader(work / "sources.wcs"))
        wcs.pixel_shape = (nx, ny)
        return wcs

"""A small simulated GMOS-N night reduced through astrometry, align, stack and stack_wcs, shared by
the astrometry tests; helpers comparing a WCS with the simulator's truth."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from astropy.io import fits
from astropy.table import Table
from astropy.wcs import WCS

from potpyri.pipeline import run_pipeline, validate
from potpyri.sim.formats.base import FORMATS
from potpyri.sim.night import simulate_night
from tests.conftest import compose_config

#: The chain up to a stack with its WCS check (satellites first: unmasked trails swamp the
#: source list).
CHAIN = (
    "[ingest,bias,dark,flat,process,cosmic_rays,satellites,skysub,astrometry,align,"
    "resample_grid,resample,stack,stack_wcs]"
)


def reduce_night(
    fmt: str,
    folder: Path,
    *overrides: str,
    seed: int = 3,
    frames: int = 3,
    bands: list[str] | None = None,
    size: str = "small",
    density_r22: float | None = None,
):
    """Simulate a night of ``fmt`` and run the chain; returns (night, result, cfg).
    ``density_r22``: stars per arcmin² brighter than r = 22 (the simulator's default when None)."""
    density = {} if density_r22 is None else {"density_r22": density_r22}
    night = simulate_night(
        fmt, folder, seed=seed, frames=frames, bands=bands, rejects=False, size=size, **density
    )
    cfg = compose_config(
        f"instrument={FORMATS[fmt].instrument}",
        f"data_path={folder}",
        f"pipeline.steps={CHAIN}",
        f"catalog.cache_dir={folder / 'catalog_cache'}",
        "catalog.offline=true",
        *overrides,
    )
    validate(cfg)
    return night, run_pipeline(cfg), cfg


def truth_wcs(night_dir: Path, raw_name: str) -> WCS:
    """The true WCS of a raw file on its processed plane: the exposure's mosaic WCS, moved to the
    rows and columns the file covers (a chip file of IMACS or FourStar starts at its region)."""
    frames = Table.read(Path(night_dir) / "truth" / "frames.ecsv")
    row = frames[list(frames["file"]).index(raw_name)]
    wcs = WCS(fits.Header.fromstring(str(row["wcs"])))
    region = str(row["region"]) if "region" in frames.colnames else ""
    if ":" in region:
        (y0, _), (x0, _) = (tuple(int(v) for v in part.split(":")) for part in region.split(","))
        wcs.wcs.crpix = wcs.wcs.crpix - [x0, y0]  # SIP terms are relative to CRPIX: unchanged
    return wcs


def grid_residual_px(wcs: WCS, truth: WCS, shape: tuple[int, int], step: int = 16) -> np.ndarray:
    """|pixel(wcs, sky(truth, p)) - p| over a grid of pixels p: the WCS error at each grid point."""
    ny, nx = shape
    gy, gx = np.mgrid[0:ny:step, 0:nx:step]
    ra, dec = truth.all_pix2world(gx.ravel(), gy.ravel(), 0)
    x, y = wcs.all_world2pix(ra, dec, 0)
    return np.hypot(x - gx.ravel(), y - gy.ravel())


def perturbed(truth: WCS, shift_arcsec: float, rotation_deg: float, direction_rad: float) -> WCS:
    """A TAN header WCS off the truth by ``shift_arcsec`` and rotated by ``rotation_deg``, with
    no distortion: what a telescope header with a bad pointing and position angle looks like."""
    w = truth.deepcopy()
    w.sip = None
    w.wcs.ctype = ["RA---TAN", "DEC--TAN"]
    c, s = np.cos(np.deg2rad(rotation_deg)), np.sin(np.deg2rad(rotation_deg))
    w.wcs.pc = np.array([[c, -s], [s, c]]) @ truth.wcs.get_pc()
    ra0, dec0 = truth.wcs.crval
    w.wcs.crval = [
        ra0 + shift_arcsec * np.cos(direction_rad) / 3600 / np.cos(np.deg2rad(dec0)),
        dec0 + shift_arcsec * np.sin(direction_rad) / 3600,
    ]
    return w


@pytest.fixture(scope="session")
def gmos_night(tmp_path_factory):
    """GMOS-N small night, one band, three frames, reduced to a stack with astrometry.net."""
    folder = tmp_path_factory.mktemp("gmos_astrometry")
    night, result, cfg = reduce_night("gmos-n", folder, bands=["r"])
    return night, result, cfg

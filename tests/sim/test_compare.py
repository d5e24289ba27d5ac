"""The truth checks of potpyri.sim.compare on fields whose answer is known by construction, and
their independence from the pipeline (they import nothing of it)."""

from __future__ import annotations

import ast
from pathlib import Path

import numpy as np
import pytest
from astropy.io import fits
from astropy.modeling.functional_models import Moffat2D
from astropy.table import Table
from astropy.wcs import WCS

from potpyri.sim import compare
from potpyri.sim.compare import stack_astrometry, truth_zeropoint

SHAPE = (240, 240)
FWHM_PX = 3.2


def _field(n: int = 30, seed: int = 4) -> tuple[WCS, Table, np.ndarray]:
    """A TAN WCS, isolated truth stars on a grid with random sub-pixel offsets, and their image
    (Moffat, beta 3, S/N ~ 200 each) plus unit Gaussian noise."""
    rng = np.random.default_rng(seed)
    wcs = WCS(naxis=2)
    wcs.wcs.ctype = ["RA---TAN", "DEC--TAN"]
    wcs.wcs.crval = [150.0, 2.0]
    wcs.wcs.crpix = [120.5, 120.5]
    wcs.wcs.cd = np.array([[-0.3, 0.0], [0.0, 0.3]]) / 3600
    grid = np.arange(30, 220, 36)
    gx, gy = (g.ravel()[:n] for g in np.meshgrid(grid, grid))
    x, y = gx + rng.uniform(-0.5, 0.5, gx.size), gy + rng.uniform(-0.5, 0.5, gy.size)
    ra, dec = wcs.all_pix2world(x, y, 0)
    yy, xx = np.mgrid[0 : SHAPE[0], 0 : SHAPE[1]]
    image = rng.normal(0.0, 1.0, SHAPE)
    gamma = FWHM_PX / (2 * np.sqrt(2 ** (1 / 3) - 1))
    for xi, yi in zip(x, y, strict=True):
        image += Moffat2D(60.0, xi, yi, gamma, 3.0)(xx, yy)
    stars = Table({"ra": ra, "dec": dec, "is_galaxy": np.zeros(len(ra), bool)})
    return wcs, stars, image


def _write_stack(path: Path, wcs: WCS, image: np.ndarray) -> Path:
    header = wcs.to_header()
    fits.HDUList(
        [
            fits.PrimaryHDU(),
            fits.ImageHDU(image.astype(np.float32), header, name="SCI"),
            fits.ImageHDU(np.zeros(SHAPE, np.uint8), header, name="MASK"),
            fits.ImageHDU(np.ones(SHAPE, np.float32), header, name="ERR"),
        ]
    ).writeto(path)
    return path


def test_a_true_wcs_gives_centroids_on_the_truth(tmp_path):
    wcs, stars, image = _field()
    check = stack_astrometry(_write_stack(tmp_path / "s.fits", wcs, image), stars, fwhm=FWHM_PX)
    assert check.n == len(stars)
    assert check.rms < 0.02, check.rms


def test_a_wcs_off_by_a_tenth_of_a_pixel_is_seen(tmp_path):
    """The stack's WCS moved by 0.1 px in x: every star's centroid lands 0.1 px from where the
    WCS puts it (the boxes are re-centred on the centroid, so the fit does not follow the WCS)."""
    wcs, stars, image = _field()
    shifted = wcs.deepcopy()
    shifted.wcs.crpix = [wcs.wcs.crpix[0] + 0.1, wcs.wcs.crpix[1]]
    check = stack_astrometry(_write_stack(tmp_path / "s.fits", shifted, image), stars, FWHM_PX)
    assert check.n == len(stars)
    assert np.mean(check.dx) == pytest.approx(-0.1, abs=0.01)
    assert abs(np.mean(check.dy)) < 0.01
    assert check.rms == pytest.approx(0.1, abs=0.015)


def test_flagged_and_crowded_stars_are_left_out(tmp_path):
    wcs, stars, image = _field()
    x, y = wcs.all_world2pix(stars["ra"], stars["dec"], 0)
    path = _write_stack(tmp_path / "s.fits", wcs, image)
    with fits.open(path, mode="update") as hdul:
        hdul["MASK"].data[int(round(y[0])), int(round(x[0]))] = 4  # a saturated core
    ra2, dec2 = wcs.all_pix2world([x[1] + 5.0], [y[1]], 0)  # a faint neighbour 5 px away
    crowded = Table({"ra": [*stars["ra"], ra2[0]], "dec": [*stars["dec"], dec2[0]]})
    crowded["is_galaxy"] = np.zeros(len(crowded), bool)
    assert stack_astrometry(path, crowded, FWHM_PX).n == len(stars) - 2


def test_truth_zeropoint_normalises_the_flat_over_each_files_region(tmp_path):
    """Two chip files of one exposure, the second chip 20% less sensitive: each chip's flat is
    normalised to its own median, so their zero points differ by 2.5 log10(0.8)."""
    (tmp_path / "maps").mkdir()
    response = np.ones((10, 20), np.float32)
    response[:, 10:] = 0.8
    response[:, 9] = 0.0  # a gap, read by neither chip
    # Uncompressed under the simulator's name: tile compression quantises a noiseless map.
    fits.PrimaryHDU(response).writeto(tmp_path / "maps" / "flat.fits.fz")
    rows = {
        "file": ["c1.fits", "c2.fits"],
        "zeropoint": [27.0, 27.0],
        "exptime": [60.0, 60.0],
        "sky_e_s": [5.0, 5.0],
        "region": ["0:10,0:10", "0:10,10:20"],
    }
    Table(rows).write(tmp_path / "frames.ecsv")
    chip1, _ = truth_zeropoint(tmp_path, ["c1.fits"])
    chip2, _ = truth_zeropoint(tmp_path, ["c2.fits"])
    assert chip1 == pytest.approx(27.0, abs=1e-6)
    assert chip2 == pytest.approx(27.0 + 2.5 * np.log10(0.8), abs=1e-6)


def test_the_truth_checks_import_nothing_of_the_pipeline():
    """The truth side shares no code with what it checks: only the simulator and libraries."""
    tree = ast.parse(Path(compare.__file__).read_text())
    imported = {
        node.module if isinstance(node, ast.ImportFrom) else alias.name
        for node in ast.walk(tree)
        if isinstance(node, ast.Import | ast.ImportFrom)
        for alias in node.names
    }
    ours = {name for name in imported if name and name.split(".")[0] == "potpyri"}
    assert all(name.startswith("potpyri.sim") for name in ours), ours

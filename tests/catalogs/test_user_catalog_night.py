"""A simulated night calibrated and solved against the field's catalog handed in as a user's CSV
(catalog.file) with a user's column names: the zero point within 0.02 mag of the truth (the
truth of the zero-point acceptance tests: with the file's g and r, the colour term in g-r is
fitted and the truth is that of a star of g-r = 0), and the WCS against the file's positions as
good as against Gaia.

The night is the CI zero-point case (LRIS-blue g, one frame, seed 1, density 12); its catalogs
are the simulator's cached answers, written back out under other column names.
"""

from __future__ import annotations

import numpy as np
import pytest
from astropy.io import fits
from astropy.table import Table
from astropy.wcs import WCS

from tests.astrometry.conftest import grid_residual_px
from tests.catalogs.user_catalog import cached_catalog, reduce_with_catalog
from tests.photometry.zp_cases import STEPS, colour_truth, line, simulate, stack_header

FMT, BAND, SEED = "lris-blue", "g", 1
#: PS1's answer as a user's photometry file: no standard name left; r gives the colour g-r.
PHOT_COLUMNS = {
    "ra": "RA_deg",
    "dec": "DE_deg",
    "g_mag": "gPSFmag",
    "g_err": "gPSFmag_sig",
    "r_mag": "rPSFmag",
    "r_err": "rPSFmag_sig",
}
#: Gaia's answer as a user's astrometric file (VizieR's names, found without a mapping).
ASTRO_COLUMNS = {"ra": "RA_ICRS", "dec": "DE_ICRS", "pmra": "pmRA", "pmdec": "pmDE"}
ASTRO_STEPS = "[ingest,bias,dark,flat,process,cosmic_rays,satellites,skysub,astrometry,align]"


@pytest.fixture(scope="module")
def night(tmp_path_factory):
    folder = tmp_path_factory.mktemp("user_catalog")
    return simulate(FMT, [BAND], SEED, 12.0, "small", folder)


def test_zeropoint_from_a_csv_with_other_column_names(night, measured):
    table = cached_catalog(night.out_dir, "ps1")
    result = reduce_with_catalog(
        night.out_dir, table, PHOT_COLUMNS, "catalog.use=[zeropoint]", fmt=FMT, steps=STEPS
    )
    assert result.by_status("zeropoint") == {"ran": 1}, result.records
    header = stack_header(night.out_dir, BAND)
    truth = colour_truth(night, BAND, header, survey="ps1")
    measured(line(FMT, BAND, SEED, header, truth))
    assert header["ZPTCAT"] == "file:field_catalog.csv" and header["ZPTBAND"] == BAND
    assert header["ZPCOLOR"] == "g-r"
    assert header["ZPTNSTAR"] >= 20
    assert abs(header["ZPTMAG"] - truth) <= 0.02


def test_astrometry_against_the_file_positions(night, measured):
    table = cached_catalog(night.out_dir, "gaia")  # positions at 2016.0, with proper motions
    result = reduce_with_catalog(
        night.out_dir,
        table,
        ASTRO_COLUMNS,
        "catalog.use=[astrometry]",
        "catalog.epoch=2016.0",
        fmt=FMT,
        steps=ASTRO_STEPS,
        name="field_astrometry.csv",
    )
    assert result.by_status("astrometry") == {"ran": 1}, result.records
    assert result.by_status("align") == {"ran": 1}, result.records
    (path,) = (night.out_dir / "red" / "cache" / "align").glob("*/*[0-9].fits")
    frames = Table.read(night.truth_dir / "frames.ecsv")
    (row,) = frames[frames["kind"] == "science"]
    truth = WCS(fits.Header.fromstring(str(row["wcs"])))
    with fits.open(path) as hdul:
        assert hdul[0].header["ASTRCAT"] == "file:field_astrometry.csv"
        assert hdul[0].header["NASTRO"] >= 6
        residual = grid_residual_px(WCS(hdul["SCI"].header), truth, hdul["SCI"].data.shape)
    measured(f"WCS against the file: median {np.median(residual):.3f} px")
    assert np.median(residual) <= 0.05  # as against Gaia (tests/astrometry)

"""A user's catalog file (catalog.file): read with the user's column names and magnitude system,
and refused before the run, with one line and exit code 2, when it cannot serve the night."""

from __future__ import annotations

import numpy as np
import pytest
from astropy.table import Table

from potpyri.catalogs.cache import Cone
from potpyri.catalogs.magsys import VEGA_TO_AB
from potpyri.catalogs.user_file import (
    CatalogUse,
    UserCatalogError,
    band_key,
    check_user_catalog,
    read_table,
)
from potpyri.cli import main
from tests.framework.tiny import SEARCHPATH, write_tiny_night

#: The toy night up to its zero point: its filter (r) must then be in the file.
BASE = (SEARCHPATH, "instrument=toycam", "pipeline.steps=[ingest,bias,flat,process,zeropoint]")


def _stars(n: int = 5) -> Table:
    return Table(
        {
            "RAJ2000": 150.0 + np.arange(n) * 1e-3,
            "DEJ2000": np.full(n, 2.0),
            "Vmag": 15.0 + np.arange(n),
            "e_Vmag": np.full(n, 0.03),
            "rPSF": 16.0 + np.arange(n),
        }
    )


def test_common_spellings_found_and_vega_converted(tmp_path):
    path = tmp_path / "field.fits"
    _stars().write(path)
    settings = {"file": str(path), "magsys": "Vega", "use": None}
    found = check_user_catalog(settings, ["V_Bessell"])
    assert found.uses == {CatalogUse.astrometry, CatalogUse.zeropoint}
    assert found.band_for("V_Bessell") == "V" and found.label == "file:field.fits"
    stars = found.calibration_stars("V", Cone(150.002, 2.0, 0.01), None)
    assert np.allclose(stars["V_mag"], 15.0 + np.arange(5) + VEGA_TO_AB["V"])
    assert np.allclose(stars["V_err"], 0.03)
    # A filter the file has no column for: without catalog.use the survey calibrates it.
    assert check_user_catalog(settings, ["i"]).band_for("i") is None


def test_mapped_columns_proper_motion_and_default_error(tmp_path):
    table = _stars().copy()
    table.rename_columns(["RAJ2000", "DEJ2000"], ["alpha", "delta"])
    table["pm_a"], table["pm_d"] = np.full(5, 1000.0), np.full(5, -1000.0)  # mas/yr
    path = tmp_path / "field.ecsv"
    table.write(path)
    columns = {
        "ra": "alpha",
        "dec": "delta",
        "pmra": "pm_a",
        "pmdec": "pm_d",
        "mag": {"r": "rPSF"},
    }
    settings = {"file": str(path), "columns": columns, "epoch": 2000.0}
    found = check_user_catalog(settings, ["r_G0303"])
    ref = found.reference(150.0, 2.0, 0.1, epoch=2010.0)  # 10 yr at 1"/yr: 10" south
    assert np.allclose(ref["dec"], 2.0 - 10 / 3600) and list(ref["mag"]) == sorted(ref["mag"])
    assert np.allclose(found.calibration_stars("r", Cone(150, 2, 0.1), None)["r_err"], 0.02)


@pytest.mark.parametrize(
    ("suffix", "content", "columns", "message"),
    [
        (".txt", "x", {}, "catalog.file field.txt: unknown suffix '.txt' (give a .fits"),
        (".fits", "not a FITS file", {}, "catalog.file field.fits: not a readable fits table"),
        (".csv", "ra,d\n1,2\n", {}, "catalog.file field.csv: no dec column (tried dec, DEC"),
        (
            ".csv",
            "ra,dec,r\n1,2,x\n",
            {},
            "catalog.file field.csv: column r row 1: 'x' is not a number",
        ),
        (".csv", "x,y,r\n1,2,3\n", {"ra": "RA"}, "catalog.columns.ra=RA: no such column"),
        (".csv", "ra,dec\n1,2\n", {"pmra": "pm"}, "catalog.columns.pmra=pm: no such column"),
        (".csv", "ra,dec\n", {}, "catalog.file field.csv: the table has no rows"),
    ],
)
def test_unreadable_files_one_line(tmp_path, suffix, content, columns, message):
    path = tmp_path / f"field{suffix}"
    path.write_text(content)
    with pytest.raises(UserCatalogError, match="^" + message.replace("(", r"\(")) as err:
        check_user_catalog({"file": str(path), "columns": columns}, ["r"])
    assert "\n" not in str(err.value)


def test_band_keys_and_formats(tmp_path):
    assert [band_key(f) for f in ("r_G0303", "Ks", "V", "B_Johnson", "Ha6563")] == [
        "r",
        "K",
        "V",
        "B",
        "Ha6563",
    ]
    with pytest.raises(UserCatalogError, match="missing.csv: no such file"):
        read_table(tmp_path / "missing.csv")


@pytest.mark.parametrize(
    ("csv", "extra", "message"),
    [
        (None, (), "catalog.file {path}: no such file"),
        ("RA,DEC\n150,2\n", ("catalog.use=[zeropoint]",), "no magnitude column for filter 'r'"),
        ("ra,dec,r_mag\n150,2,17\n", ("catalog.magsys=Vega",), "no Vega-to-AB offset is known"),
        ("ra,dec,r_mag\n150,2,17\n", ("+catalog.columns.mag.r=R",), "catalog.columns.mag.r=R:"),
        ("ra,dec,r_mag\n150,abc,17\n", (), "column dec row 1: 'abc' is not a number"),
    ],
)
def test_cli_refuses_the_file_before_any_step(tmp_path, capsys, csv, extra, message):
    """Exit code 2 and one line naming the file or key; no step ran (no red/ folder)."""
    write_tiny_night(tmp_path / "night", n_frames=1, size=64)
    path = tmp_path / "field.csv"
    if csv is not None:
        path.write_text(csv)
    with pytest.raises(SystemExit) as exit_:
        main([*BASE, f"data_path={tmp_path / 'night'}", f"catalog.file={path}", *extra])
    assert exit_.value.code == 2
    lines = capsys.readouterr().err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("potpyri: error: ")
    assert message.format(path=path) in lines[0]
    assert not (tmp_path / "night" / "red").exists()


def test_deprecated_zeropoint_catalog_file_is_read_as_catalog_file(tmp_path, capsys):
    write_tiny_night(tmp_path / "night", n_frames=1, size=64)
    path = tmp_path / "old.csv"
    path.write_text("ra,dec\n150,2\n")
    with pytest.raises(SystemExit) as exit_:
        main([*BASE, f"data_path={tmp_path / 'night'}", f"zeropoint.catalog_file={path}"])
    assert exit_.value.code == 2
    err = capsys.readouterr().err
    assert "zeropoint.catalog_file is deprecated: use catalog.file=" in err
    assert "old.csv: no magnitude column for filter 'r'" in err

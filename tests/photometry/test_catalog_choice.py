"""Filter -> catalog choice (the reference's rule), a user's catalog file, and the cross-match."""

from __future__ import annotations

import numpy as np
import pytest
from astropy.table import Table

from potpyri.catalogs.cache import Cone
from potpyri.catalogs.choice import band_of, catalog_order, choose_catalog
from potpyri.catalogs.user_file import UserCatalogError, read_user_catalog
from potpyri.photometry.zeropoint import crossmatch, fit_zeropoint


@pytest.mark.parametrize(
    ("name", "band"),
    [
        ("r_G0303", "r"),
        ("Sloan_g", "g"),
        ("Ks_G0804", "K"),
        ("Ks", "K"),
        ("J", "J"),
        ("R", "R"),
        ("RG850", "z"),
        ("i_filter", "i"),
        ("Y", "y"),
        ("G", "g"),
        ("u", "u"),
        # Johnson/Cousins/Bessell as instrument files and headers spell them
        ("B", "B"),
        ("V", "V"),
        ("I", "I"),
        ("U", "U"),
        ("Rc", "R"),
        ("Bessell_V", "V"),
        ("B_Johnson", "B"),
        ("Harris R", "R"),
        ("JKC-I", "I"),
        # narrow and intermediate bands: no catalog band
        ("Ha_G0310", None),
        ("HaC_G0311", None),
        ("OIII_G0318", None),
        ("SII_G0317", None),
        ("H-alpha", None),
        ("NB4170", None),
        ("6563/30", None),
        ("Stromgren_y", None),
        ("clear", None),
        ("H", "H"),
    ],
)
def test_band_of_instrument_filters(name, band):
    assert band_of(name) == band


def test_instrument_filter_bands_override_the_name():
    aliases = {"R": "r", "I": "i", "Ha6563": "none"}
    assert band_of("R", aliases) == "r" and band_of("I", aliases) == "i"
    assert band_of("V", aliases) == "V" and band_of("Ha6563", aliases) is None


def test_catalog_order_closest_band_first_gspc_everywhere():
    assert catalog_order("r", 20.0) == ["ps1", "gspc"]
    assert catalog_order("r", -45.0) == ["skymapper", "gspc"]
    assert catalog_order("u", 10.0) == ["sdss", "gspc"]
    assert catalog_order("g", 10.0, "SDSS") == ["sdss", "ps1", "gspc"]
    assert catalog_order("V", -80.0) == ["gspc"] and catalog_order("B", 60.0) == ["gspc"]
    assert catalog_order("K", 10.0) == ["2mass"] and catalog_order("y", 10.0) == ["ps1"]


def test_catalog_choice_north_south_nir():
    assert choose_catalog("r", 20.0) == "ps1"
    assert choose_catalog("r", -29.9) == "ps1"
    assert choose_catalog("r", -30.1) == "skymapper"
    assert choose_catalog("u", 10.0) == "sdss" and choose_catalog("u", -40.0) == "skymapper"
    assert choose_catalog("K", 10.0, "2MASS") == "2mass" and choose_catalog("J", -60.0) == "2mass"
    assert choose_catalog("g", 10.0, "SDSS") == "sdss"
    with pytest.raises(ValueError, match="no catalog calibrates band 'y' at dec -45"):
        choose_catalog("y", -45.0)


def test_user_catalog_file(tmp_path):
    path = tmp_path / "mine.ecsv"
    Table({"ra": [10.0, 10.001, 12.0], "dec": [5.0, 5.0, 5.0], "r_mag": [18.0, 19.0, 17.0]}).write(
        path
    )
    table = read_user_catalog(path, "r", Cone(10.0, 5.0, 0.01))
    assert list(table["r_mag"]) == [18.0, 19.0] and np.allclose(table["r_err"], 0.02)
    with pytest.raises(UserCatalogError, match="no magnitude column for filter 'i'"):
        read_user_catalog(path, "i", Cone(10.0, 5.0, 0.01))


def test_crossmatch_recovers_shift_and_rotation_and_zeropoint():
    rng = np.random.default_rng(1)
    n = 200
    cat_ra, cat_dec = 150 + rng.uniform(-0.05, 0.05, n), 2 + rng.uniform(-0.05, 0.05, n)
    # The "image" positions: shifted by (6", -4") and rotated by 0.4 degrees about the centre.
    angle = np.deg2rad(0.4)
    x, y = (cat_ra - 150) * np.cos(np.deg2rad(2)), cat_dec - 2
    xr, yr = np.cos(angle) * x - np.sin(angle) * y, np.sin(angle) * x + np.cos(angle) * y
    ra = 150 + (xr - 6 / 3600) / np.cos(np.deg2rad(2)) + rng.normal(0, 0.1 / 3600, n)
    dec = 2 + yr + 4 / 3600 + rng.normal(0, 0.1 / 3600, n)
    i, j, shift = crossmatch(ra, dec, cat_ra, cat_dec, radius=1.0, search=20.0)
    assert len(i) >= 0.95 * n and np.all(i == j)
    mag = rng.uniform(16, 20, n)
    fit = fit_zeropoint(
        mag - 27.5 + rng.normal(0, 0.01, n), np.full(n, 0.01), mag, np.full(n, 0.005)
    )
    assert abs(fit.zp - 27.5) < 3 * fit.error and fit.error < 0.003

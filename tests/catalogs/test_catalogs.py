"""The catalog layer: parsing answers in the services' column sets, the cone cache, offline
behaviour.

The answers used here (tests/data/catalogs/*.ecsv) are HAND-WRITTEN, not recorded from the
services: a few rows typed in each service's documented column set, chosen so that the numbers
below are easy to check (see tests/data/catalogs/README.md). They test the parser's arithmetic
(Vega to AB, star filter, missing values, epoch propagation) and the cache, not that the column
names are the services' own; that is tested on real recorded answers in
test_recorded_answers.py.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from astropy.table import Table

from potpyri.catalogs import CatalogCache, CatalogUnavailable, parse, query
from potpyri.catalogs.cache import Cone

#: hand-written answers in the services' column sets (not recorded; see the README there)
HAND_WRITTEN = Path(__file__).resolve().parents[1] / "data" / "catalogs"
ANSWERS = {
    "gaia": "gaia_dr3.ecsv",
    "gspc": "gaia_dr3_gspc.ecsv",
    "ps1": "ps1_dr1.ecsv",
    "sdss": "sdss_dr12.ecsv",
    "skymapper": "skymapper_dr2.ecsv",
    "2mass": "2mass_psc.ecsv",
}


@pytest.mark.parametrize("catalog", sorted(ANSWERS))
def test_hand_written_answers_parse_to_standard_columns(catalog):
    table = parse(catalog, Table.read(HAND_WRITTEN / ANSWERS[catalog], format="ascii.ecsv"))
    assert {"source_id", "ra", "dec"} <= set(table.colnames)
    assert all(
        c.endswith(("_mag", "_err"))
        for c in table.colnames
        if c not in ("source_id", "ra", "dec", "pmra", "pmdec")
    )
    assert abs(table["ra"][0] - 150.0012) < 1e-4 and abs(table["dec"][0] - 2.0004) < 1e-4


def test_2mass_vega_becomes_ab_and_sdss_keeps_stars():
    twomass = parse("2mass", Table.read(HAND_WRITTEN / ANSWERS["2mass"]))
    assert twomass["J_mag"][0] == pytest.approx(14.21 + 0.91) and twomass["K_mag"][
        0
    ] == pytest.approx(13.70 + 1.85)
    sdss = parse("sdss", Table.read(HAND_WRITTEN / ANSWERS["sdss"]))
    assert len(sdss) == 1  # the galaxy (class 3) is dropped


def test_gaia_missing_values_and_epoch_propagation():
    raw = Table.read(HAND_WRITTEN / ANSWERS["gaia"])
    at_2016 = parse("gaia", raw)
    assert np.isnan(at_2016["BP_mag"][2]) and at_2016["pmra"][2] == 0.0
    at_2026 = parse("gaia", raw, epoch=2026.0)
    moved = (at_2026["dec"][0] - at_2016["dec"][0]) * 3.6e6
    assert moved == pytest.approx(360.0, rel=1e-6)  # 36 mas/yr over 10 years


def test_cache_serves_contained_cones_and_refuses_offline_misses(tmp_path):
    raw = Table.read(HAND_WRITTEN / ANSWERS["ps1"])
    CatalogCache(tmp_path).store("ps1", Cone(150.0, 2.0, 0.05), raw, "hand-written")
    inner = query("ps1", 150.005, 1.998, 0.02, cache_dir=tmp_path, offline=True)
    assert list(inner["source_id"]) == ["110021500012345678", "110021500012345679"]
    tiny = query("ps1", 150.0012, 2.0004, 0.001, cache_dir=tmp_path, offline=True)
    assert len(tiny) == 1
    with pytest.raises(
        CatalogUnavailable,
        match=r"ps1: no cached answer covers the cone ra=151\.00000 dec=\+2\.00000",
    ):
        query("ps1", 151.0, 2.0, 0.02, cache_dir=tmp_path, offline=True)
    with pytest.raises(CatalogUnavailable, match="ps1"):
        query(
            "ps1", 150.0, 2.0, 0.2, cache_dir=tmp_path, offline=True
        )  # larger than the cached cone


def test_unknown_catalog_is_a_clear_error(tmp_path):
    with pytest.raises(ValueError, match="unknown catalog 'usno'"):
        query("usno", 0, 0, 0.1, cache_dir=tmp_path, offline=True)


def test_simulated_night_seeds_the_cache_the_pipeline_reads(tmp_path):
    from potpyri.sim.night import simulate_night

    night = simulate_night("gmos-n", tmp_path, seed=5, frames=1, bands=["r"], rejects=False)
    stars = Table.read(night.truth_dir / "stars.ecsv")
    frames = Table.read(night.truth_dir / "frames.ecsv")
    ra, dec = frames["header_ra"][-1], frames["header_dec"][-1]
    gaia = query(
        "gaia",
        ra,
        dec,
        0.06,
        epoch=stars.meta["epoch"],
        cache_dir=tmp_path / "catalog_cache",
        offline=True,
    )
    assert len(gaia) > 20
    truth = stars[~stars["is_galaxy"]]
    # Positions propagated to the night's epoch agree with the truth to Gaia-like precision.
    matched = [
        np.min(np.hypot((truth["ra"] - r) * np.cos(np.deg2rad(d)), truth["dec"] - d)) * 3.6e6
        for r, d in zip(gaia["ra"], gaia["dec"], strict=True)
    ]
    assert np.median(matched) < 5.0  # mas
    ps1 = query("ps1", ra, dec, 0.06, cache_dir=tmp_path / "catalog_cache", offline=True)
    assert {"g_mag", "r_mag", "i_mag", "z_mag", "y_mag"} <= set(ps1.colnames)

"""Gaia DR3 synthetic photometry (GSPC): its parser, its query, the simulator's answer, and the
catalog order that falls back to it when the survey of the closest band has too few stars."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from astropy.table import Table

from potpyri.catalogs import CatalogCache, parse, query
from potpyri.catalogs.cache import Cone
from potpyri.catalogs.magsys import VEGA_TO_AB
from potpyri.catalogs.query import GSPC_G_LIMIT
from potpyri.photometry.calibrate import CatalogChoice, catalog_system, reference_stars

# Not a recorded service answer: two rows written by hand in the archive's documented columns
# (Gaia DR3 data model, synthetic_photometry_gspc); no real GSPC answer is available offline.
HAND_WRITTEN = Path(__file__).resolve().parents[1] / "data" / "catalogs" / "gaia_dr3_gspc.ecsv"


def test_gspc_johnson_is_vega_made_ab_and_errors_come_from_fluxes():
    raw = Table.read(HAND_WRITTEN, format="ascii.ecsv")
    table = parse("gspc", raw)
    assert table["V_mag"][0] == pytest.approx(15.20 + VEGA_TO_AB["V"])
    assert table["B_mag"][1] == pytest.approx(18.30 + VEGA_TO_AB["B"])
    assert table["g_mag"][0] == pytest.approx(15.55)  # SDSS bands are AB already
    # 1.0857 * flux_error / flux: 1 % and 2 % flux errors in the hand-written rows.
    assert table["V_err"][0] == pytest.approx(0.010857, rel=1e-3)
    assert table["B_err"][1] == pytest.approx(0.021715, rel=1e-3)
    assert np.isnan(table["U_mag"][1]) and np.isnan(table["U_err"][1])  # not listed (S/N <= 30)
    assert catalog_system("gspc", "V") == ("Vega", VEGA_TO_AB["V"])
    assert catalog_system("gspc", "r") == ("AB", 0.0)


def test_gspc_query_asks_the_archive_once_then_reads_the_cache(tmp_path, monkeypatch):
    """The network call is replaced at the astroquery level by the hand-written answer."""
    from astroquery.gaia import Gaia

    asked = []

    class Job:
        def get_results(self):
            return Table.read(HAND_WRITTEN, format="ascii.ecsv")

    def launch_job_async(adql, *args, **kwargs):
        asked.append(adql)
        return Job()

    monkeypatch.setattr(Gaia, "launch_job_async", launch_job_async)
    live = query("gspc", 150.0, 2.0, 0.05, cache_dir=tmp_path)
    assert len(asked) == 1
    adql = asked[0]
    assert "FROM gaiadr3.synthetic_photometry_gspc AS s" in adql
    assert "JOIN gaiadr3.gaia_source AS g ON g.source_id = s.source_id" in adql
    assert "s.v_jkc_flux_error" in adql and "g.pmra" in adql
    cached = query("gspc", 150.0, 2.0, 0.05, cache_dir=tmp_path, offline=True)
    assert len(asked) == 1 and list(cached["V_mag"]) == list(live["V_mag"])


def test_simulated_gspc_answer_is_g_limited_vega_with_realistic_errors(tmp_path):
    from potpyri.sim.catalogs import seed_catalog_cache
    from potpyri.sim.truth import make_field

    stars = make_field(np.random.default_rng(3), 150.0, 20.0, 0.06, density_r22=20.0)
    rng = np.random.default_rng(4)
    seed_catalog_cache(tmp_path, stars, 150.0, 20.0, 0.1, epoch=2024.5, rng=rng)
    raw = CatalogCache(tmp_path).find("gspc", Cone(150.0, 20.0, 0.06))
    assert np.max(raw["phot_g_mean_mag"]) < GSPC_G_LIMIT
    ids = np.asarray(raw["source_id"]) - 4_000_000_000_000
    truth = stars[np.searchsorted(stars["id"], ids)]
    vega_v = np.asarray(raw["v_jkc_mag"])
    assert np.median(vega_v - (truth["mag_V"] - VEGA_TO_AB["V"])) == pytest.approx(0, abs=0.003)
    table = parse("gspc", raw)
    pulls = (table["V_mag"] - truth["mag_V"]) / table["V_err"]
    assert 0.8 < np.std(pulls) < 1.2  # the errors describe the scatter
    assert np.nanmax(table["V_err"]) <= 1.0857 / 30  # only S/N > 30 is listed
    assert 0.001 < np.nanmedian(table["V_err"]) < 0.03


def _store(cache_dir: Path, name: str, answer: Table) -> None:
    CatalogCache(cache_dir).store(name, Cone(150.0, 20.0, 0.1), answer, "test")


def _ps1(n: int) -> Table:
    ra = 150.0 + np.linspace(-0.02, 0.02, n)
    mags = np.linspace(17.0, 19.0, n)
    table = Table({"objID": np.arange(n) + 1, "RAJ2000": ra, "DEJ2000": np.full(n, 20.0)})
    for b in "grizy":
        table[f"{b}mag"], table[f"e_{b}mag"] = mags, np.full(n, 0.02)
    return table


def test_catalog_with_too_few_stars_gives_way_to_gspc(tmp_path):
    stars = Table.read(HAND_WRITTEN, format="ascii.ecsv")
    gspc = Table(np.repeat(stars, 6))  # 12 rows: more than the 3 PS1 stars below
    gspc["ra"] = 150.0 + np.linspace(-0.02, 0.02, 12)
    gspc["dec"] = 20.0
    _store(tmp_path, "ps1", _ps1(3))
    _store(tmp_path, "gspc", gspc)
    kw = dict(user=None, preference="PS1", epoch=None, cache_dir=tmp_path, offline=True)
    cone = Cone(150.0, 20.0, 0.05)
    auto = CatalogChoice("auto")
    name, table = reference_stars("g", cone, choice=auto, label="t", min_stars=10, **kw)
    assert name == "gspc" and len(table) == 12
    name, _ = reference_stars("g", cone, choice=auto, label="t", min_stars=3, **kw)
    assert name == "ps1"
    # An explicit choice is kept whatever its star count.
    name, _ = reference_stars("g", cone, choice=CatalogChoice("ps1"), label="t", **kw)
    assert name == "ps1"
    name, table = reference_stars("V", cone, choice=auto, label="t", **kw)
    assert name == "gspc" and np.isfinite(table["V_mag"]).all()


def test_instrument_zp_catalogs_fix_the_catalog_per_filter(tmp_path):
    from types import SimpleNamespace

    from omegaconf import OmegaConf

    from potpyri.photometry.calibrate import configured_reference_stars

    stars = Table.read(HAND_WRITTEN, format="ascii.ecsv")
    gspc = Table(np.repeat(stars, 6))
    gspc["ra"], gspc["dec"] = 150.0 + np.linspace(-0.02, 0.02, 12), 20.0
    _store(tmp_path, "ps1", _ps1(20))
    _store(tmp_path, "gspc", gspc)
    zp = SimpleNamespace(
        catalog=CatalogChoice("auto"),
        catalog_file=None,
        max_catalog_err_mag=0.1,
        min_catalog_stars=10,
    )
    settings = OmegaConf.create({"cache_dir": str(tmp_path), "offline": True})
    cone = Cone(150.0, 20.0, 0.05)

    def chosen(instrument: dict, catalog: str = "auto") -> str:
        zp.catalog = CatalogChoice(catalog)
        args = (cone, zp, settings, OmegaConf.create(instrument))
        return configured_reference_stars("g", "g_G0301", *args, epoch=None, label="t")[0]

    assert chosen({"catalog_zp": "PS1"}) == "ps1"
    assert chosen({"catalog_zp": "PS1", "zp_catalogs": {"g_G0301": "gspc"}}) == "gspc"
    assert chosen({"catalog_zp": "PS1", "zp_catalogs": {"g": "GSPC"}}) == "gspc"
    assert chosen({"zp_catalogs": {"g": "gspc"}}, catalog="ps1") == "ps1"  # the recipe wins
    with pytest.raises(ValueError, match="zp_catalogs: unknown catalog 'apass' for filter"):
        chosen({"zp_catalogs": {"g": "apass"}})

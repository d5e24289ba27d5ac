"""``potpyri catalogs fetch`` against a recorded real service answer, then the run offline.

The recorded answers are the ones astroquery ships with its own tests: a Gaia DR3 cone search
of the ESA archive (50 sources around ra 280, dec -60, JSON) and a VizieR VOTable answer
(J/ApJ/706/83). Only astroquery's network call is replaced; astroquery parses the recorded bytes
itself and everything above (potpyri's checks, cache, parser, the steps) is production code.
A small raw night is drawn at the recorded field, its stars at the recorded Gaia positions, so
the astrometry step has to solve against the cache the fetch filled.
"""

from __future__ import annotations

import importlib
import types
from pathlib import Path

import astroquery
import numpy as np
import pytest
from astropy.io import fits
from astropy.table import Table
from astropy.wcs import WCS

from potpyri.catalogs import query, run_cache_dir
from potpyri.catalogs.fetch import night_fields, wanted_cones
from potpyri.cli import main as potpyri_main
from potpyri.framework.outcome import ExitCode
from potpyri.photometry.calibrate import field_cone
from potpyri.pipeline import make_reader, run_pipeline, validate
from tests.conftest import compose_config
from tests.framework.tiny import SEARCHPATH

ASTROQUERY_DATA = Path(astroquery.__file__).parent
GAIA_ANSWER = ASTROQUERY_DATA / "gaia" / "tests" / "data" / "cone_search_async.json"
VIZIER_ANSWER = ASTROQUERY_DATA / "vizier" / "tests" / "data" / "kang2010.xml"
pytestmark = pytest.mark.skipif(
    not (GAIA_ANSWER.is_file() and VIZIER_ANSWER.is_file()),
    reason="this astroquery installation ships no recorded test answers (gaia/tests/data, "
    "vizier/tests/data)",
)

SIZE = 600  # pixels of the toy frames (0.2"/px: 2' across, inside the recorded cone)
RA, DEC = 280.0, -60.0  # centre of the recorded Gaia answer
#: toycam with a frame large enough for the recorded field (datasec and overscan columns)
WIDE = (
    f'instrument.datasec=["[1:{SIZE},1:{SIZE}]"]',
    f'instrument.biassec=["[{SIZE + 1}:{SIZE + 8},1:{SIZE}]"]',
)
STEPS = "pipeline.steps=[ingest,process,astrometry,align,resample_grid,resample,stack,stack_wcs]"


def _recorded_gaia() -> Table:
    from astroquery.utils.tap.model.modelutils import read_results_table_from_file

    return read_results_table_from_file(str(GAIA_ANSWER), "json")


def _recorded_vizier():
    from astroquery.vizier.core import VizierClass

    response = types.SimpleNamespace(content=VIZIER_ANSWER.read_bytes())
    return VizierClass()._parse_result(response)


@pytest.fixture
def service(monkeypatch):
    """Astroquery's Gaia and VizieR network calls answer the recorded bytes; calls are counted."""
    from astroquery.gaia import GaiaClass
    from astroquery.vizier.core import VizierClass

    calls = {"gaia": [], "vizier": []}

    def launch_job_async(self, query, *args, **kwargs):
        calls["gaia"].append(query)
        return types.SimpleNamespace(get_results=_recorded_gaia)

    def query_region(self, coordinates, *args, **kwargs):
        calls["vizier"].append(kwargs.get("catalog"))
        return _recorded_vizier()

    monkeypatch.setattr(GaiaClass, "launch_job_async", launch_job_async)
    monkeypatch.setattr(VizierClass, "query_region", query_region)
    monkeypatch.setattr(importlib.import_module("potpyri.catalogs.query").time, "sleep", print)
    return calls


def _truth_wcs() -> WCS:
    """Where the recorded stars fall on an undithered frame: north up, 0.2"/px."""
    truth = WCS(naxis=2)
    truth.wcs.ctype = ["RA---TAN", "DEC--TAN"]
    truth.wcs.crval = [RA, DEC]
    truth.wcs.crpix = [(SIZE + 1) / 2, (SIZE + 1) / 2]
    truth.wcs.cd = [[-0.2 / 3600, 0], [0, 0.2 / 3600]]
    return truth


def _write_night(data_path: Path, n_frames: int = 2) -> None:
    """Toy raw frames whose stars are the recorded Gaia sources; the header WCS is 4" off."""
    stars = _recorded_gaia()
    mag = np.ma.filled(np.ma.asarray(stars["phot_g_mean_mag"], float), np.nan)
    keep = np.isfinite(mag)
    x, y = _truth_wcs().all_world2pix(
        np.asarray(stars["ra"])[keep], np.asarray(stars["dec"])[keep], 0
    )
    flux_e = 10 ** (-0.4 * (mag[keep] - 26.0)) * 10.0  # 10 s at zero point 26
    yy, xx = np.mgrid[0:SIZE, 0:SIZE]
    rng = np.random.default_rng(5)
    (data_path / "raw").mkdir(parents=True)
    for n in range(n_frames):
        dx = 3.0 * n  # dithered by 3 px east-west
        electrons = np.full((SIZE, SIZE), 500.0)
        for x0, y0, f in zip(x + dx, y, flux_e, strict=True):
            if -10 < x0 < SIZE + 10 and -10 < y0 < SIZE + 10:
                electrons += (
                    f
                    / (2 * np.pi * 2.0**2)
                    * np.exp(-((xx - x0) ** 2 + (yy - y0) ** 2) / (2 * 2.0**2))
                )
        adu = rng.poisson(electrons) / 2.0 + 500.0
        image = np.hstack([adu, np.full((SIZE, 8), 500.0)]).astype(np.float32)
        header = fits.Header(
            {
                "OBJECT": "recorded",
                "OBSTYPE": "object",
                "FILTER": "r",
                "EXPTIME": 10.0,
                "MJD-OBS": 60480.1 + n * 0.001,
                "CTYPE1": "RA---TAN",
                "CTYPE2": "DEC--TAN",
                "CRVAL1": RA + 4.0 / 3600 / np.cos(np.deg2rad(DEC)),  # 4" off: astrometry fixes it
                "CRVAL2": DEC,
                "CRPIX1": (SIZE + 1) / 2 + dx,
                "CRPIX2": (SIZE + 1) / 2,
                "CD1_1": -0.2 / 3600,
                "CD1_2": 0.0,
                "CD2_1": 0.0,
                "CD2_2": 0.2 / 3600,
            }
        )
        fits.PrimaryHDU(image, header).writeto(data_path / "raw" / f"toy{n:03d}.fits")


def _fetch(data_path: Path, *overrides: str) -> int:
    """``potpyri catalogs fetch ...`` as typed; its exit code."""
    args = ["catalogs", "fetch", SEARCHPATH, "instrument=toycam", f"data_path={data_path}"]
    with pytest.raises(SystemExit) as stopped:
        potpyri_main([*args, *WIDE, *overrides])
    return stopped.value.code


@pytest.fixture(scope="module")
def night(tmp_path_factory) -> Path:
    data_path = tmp_path_factory.mktemp("fetch_night")
    _write_night(data_path)
    return data_path


def test_fetch_fills_the_night_cache_then_the_run_solves_offline(night, service, capsys):
    assert _fetch(night, STEPS) == ExitCode.success
    out = capsys.readouterr().out
    stored = list((night / "catalog_cache" / "gaia").glob("*.ecsv"))
    assert len(stored) == 1 and len(service["gaia"]) == 1  # one cone for the field, asked once
    assert "FROM gaiadr3.gaia_source" in service["gaia"][0]
    assert Table.read(stored[0]).meta["service"] == "gaia" and len(Table.read(stored[0])) == 50
    assert "fetched" in out and stored[0].name in out.replace("\n", "")

    assert _fetch(night, STEPS, "catalog.offline=true") == ExitCode.success
    assert "cached" in capsys.readouterr().out and len(service["gaia"]) == 1  # no new call

    # The plain run (no catalog.cache_dir) uses the night's catalog_cache/, offline.
    cfg = compose_config(
        SEARCHPATH,
        "instrument=toycam",
        f"data_path={night}",
        *WIDE,
        STEPS,
        "catalog.offline=true",
        "astrometry.method=builtin",
    )
    validate(cfg)
    result = run_pipeline(cfg, recipe_yaml="data_path: x\n")
    for step, count in (("astrometry", 2), ("align", 2), ("stack_wcs", 1)):
        assert result.by_status(step) == {"ran": count}, step  # each asked the cache, offline
    assert len(service["gaia"]) == 1  # the reduction asked the cache only
    # The zero point would ask for the stack's cone: inside the one fetch planned for it.
    stack = next((night / "red").glob("*.stk.fits"))
    with fits.open(stack) as hdul:
        asked = field_cone(WCS(hdul["SCI"].header).celestial, hdul["SCI"].data.shape)
    fields, _ = night_fields(cfg, make_reader(cfg.instrument, None))
    planned = wanted_cones(cfg, fields, {"zeropoint"})
    assert [(catalog, field.name) for catalog, field, _ in planned] == [("skymapper", "recorded")]
    assert planned[0][2].contains(asked)
    frames = sorted((night / "red" / "workspace").glob("recorded.*.toy00?.fits"))
    assert len(frames) == 2
    for n, frame in enumerate(frames):
        with fits.open(frame) as hdul:
            wcs = WCS(hdul["SCI"].header).celestial
        centre = ((SIZE - 1) / 2, (SIZE - 1) / 2)
        solved = wcs.all_pix2world([centre], 0)[0]
        true = _truth_wcs().all_pix2world([(centre[0] - 3.0 * n, centre[1])], 0)[0]
        offset_arcsec = np.hypot(
            (solved[0] - true[0]) * np.cos(np.deg2rad(DEC)), solved[1] - true[1]
        )
        assert offset_arcsec * 3600 < 0.3  # the header's 4" error is gone


def test_a_cone_the_service_cannot_answer_is_named_and_not_cached(tmp_path, service, capsys):
    """r at dec -60 is calibrated by SkyMapper; the recorded VizieR answer is another
    catalogue's (no SkyMapper columns): refused, named, never cached; Gaia still fetched."""
    _write_night(tmp_path, n_frames=1)
    cache = tmp_path / "elsewhere"
    code = _fetch(tmp_path, f"catalog.cache_dir={cache}")
    captured = capsys.readouterr()
    assert code == ExitCode.partial
    assert service["vizier"] == ["II/358/smss"] * 3  # retried, then given up
    assert "skymapper cone ra=280.00" in captured.err and "not in the cache" in captured.err
    assert "lacks the catalog's column(s)" in captured.err
    assert not (cache / "skymapper").exists() and len(list((cache / "gaia").glob("*"))) == 1
    assert not (tmp_path / "catalog_cache").exists()  # an explicit cache_dir is where it goes


def test_the_documented_cache_file_is_read_as_written(tmp_path):
    """docs/install.rst's example Gaia file, put where the docs say, answers a query offline."""
    text = (Path(__file__).resolve().parents[2] / "docs" / "install.rst").read_text()
    block = text.split("the first lines of a Gaia file:")[1].split(".. code-block:: text")[1]
    lines = [ln[3:] for ln in block.split("\n\n")[1].splitlines()]
    folder = tmp_path / "gaia"
    folder.mkdir()
    (folder / "280.001944_-60.000000_0.036966.ecsv").write_text("\n".join(lines) + "\n")
    table = query("gaia", 280.0, -60.0, 0.01, cache_dir=tmp_path, offline=True)
    assert list(table["source_id"]) == ["6636090334814214528"]
    assert table["G_mag"][0] == pytest.approx(19.761656)


def test_the_cache_a_run_uses(tmp_path, monkeypatch):
    """catalog.cache_dir > DATA_PATH/catalog_cache (if it exists) > $POTPYRI_CATALOG_CACHE."""
    night, mine, env = tmp_path / "night", tmp_path / "mine", tmp_path / "env"
    night.mkdir()
    monkeypatch.setenv("POTPYRI_CATALOG_CACHE", str(env))
    assert run_cache_dir(None, night) == (env, "$POTPYRI_CATALOG_CACHE")
    (night / "catalog_cache").mkdir()
    assert run_cache_dir(None, night) == (night / "catalog_cache", "the night's own catalog_cache/")
    assert run_cache_dir(str(mine), night) == (mine, "catalog.cache_dir")

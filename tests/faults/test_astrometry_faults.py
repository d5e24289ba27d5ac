"""Frames whose astrometry cannot solve: one log line each, set aside, the others stacked.

A toy field of 25 stars with its Gaia answer in a catalog cache (offline); two frames of it (the
header pointing 2" off) solve with the built-in matcher (toycam's 24" field is too small for the
astrometry.net indices), one frame shows another field and one has no WCS in its header. The
step-level failure paths are tested in tests/astrometry; this is the whole run going on.
"""

from __future__ import annotations

import logging
from pathlib import Path

import numpy as np
import pytest
from astropy.io import fits
from astropy.table import Table
from astropy.wcs import WCS

from potpyri.catalogs import CatalogCache
from potpyri.catalogs.cache import Cone
from potpyri.pipeline import run_pipeline, validate
from tests.conftest import compose_config
from tests.faults.ledger import check_raw, watch
from tests.framework.tiny import SEARCHPATH, toy_wcs_cards

pytestmark = pytest.mark.fault("bad input")

NY, NX, N = 128, 120, 25
HEAD = toy_wcs_cards()
FAILS = {
    "elsewhere.fits": "astrometry failed: the built-in matcher found no pattern",
    "no_wcs.fits": "no header WCS to take the pointing from",
}


def _write_field(data_path: Path) -> None:
    rng = np.random.default_rng(2)
    raw = data_path / "raw"
    raw.mkdir(parents=True)
    xs, ys, flux = rng.uniform(5, NX - 5, N), rng.uniform(5, NY - 5, N), rng.uniform(3000, 40000, N)
    ra, dec = WCS(fits.Header(HEAD)).all_pix2world(xs, ys, 0)
    gaia = Table(
        {
            "source_id": np.arange(N),
            "ra": ra,
            "dec": dec,
            "pmra": np.zeros(N),
            "pmdec": np.zeros(N),
            "phot_g_mean_mag": 25 - 2.5 * np.log10(flux),
            "phot_bp_mean_mag": np.full(N, 19.0),
            "phot_rp_mean_mag": np.full(N, 18.0),
        }
    )
    CatalogCache(data_path / "catalogs").store("gaia", Cone(150.0, 2.0, 0.05), gaia, "test")
    yy, xx = np.mgrid[0:NY, 0:NX]

    def frame(name: str, x: np.ndarray, y: np.ndarray, wcs: bool = True) -> None:
        electrons = np.full((NY, NX), 1000.0)
        for x0, y0, f in zip(x, y, flux, strict=True):
            electrons += f / (8 * np.pi) * np.exp(-((xx - x0) ** 2 + (yy - y0) ** 2) / 8)
        adu = np.hstack([rng.poisson(electrons) / 2 + 500, np.full((NY, 8), 500.0)]).astype(
            np.float32
        )
        head = fits.Header(
            {
                "OBJECT": "field",
                "OBSTYPE": "object",
                "FILTER": "r",
                "EXPTIME": 10.0,
                "MJD-OBS": 60480.1,
            }
        )
        if wcs:
            head.update(HEAD)
            head["CRVAL1"] += 2 / 3600
        fits.PrimaryHDU(adu, head).writeto(raw / name)

    frame("a.fits", xs, ys)
    frame("b.fits", xs + 3, ys - 2)
    frame("elsewhere.fits", rng.uniform(5, NX - 5, N), rng.uniform(5, NY - 5, N))
    frame("no_wcs.fits", xs, ys, wcs=False)


@pytest.fixture(scope="module")
def reduced(tmp_path_factory):
    data_path = tmp_path_factory.mktemp("astrometry_faults")
    _write_field(data_path)
    raw = watch(data_path)
    cfg = compose_config(
        SEARCHPATH,
        "instrument=toycam",
        f"data_path={data_path}",
        "pipeline.steps=[ingest,process,astrometry,stack]",
        "astrometry.method=builtin",
        f"catalog.cache_dir={data_path / 'catalogs'}",
        "catalog.offline=true",
    )
    validate(cfg)
    records: list[str] = []
    handler = logging.Handler(logging.WARNING)
    handler.emit = lambda record: records.append(record.getMessage())
    logging.getLogger("potpyri").addHandler(handler)
    try:
        result = run_pipeline(cfg, recipe_yaml="data_path: x\n")
    finally:
        logging.getLogger("potpyri").removeHandler(handler)
    yield result, records
    assert check_raw(raw, forget=True) == []


@pytest.mark.parametrize("name", sorted(FAILS))
def test_unsolvable_frame_is_named_once_and_set_aside(reduced, name):
    result, lines = reduced
    mentions = [line for line in lines if name in line]
    assert len(mentions) == 1 and FAILS[name] in mentions[0], mentions
    (record,) = [r for r in result.records if r.step == "astrometry" and r.task == name]
    assert record.status == "failed" and "\n" not in record.note


def test_the_solved_frames_are_stacked(reduced):
    result, _ = reduced
    assert result.by_status("astrometry") == {"ran": 2, "failed": 2}
    (stack,) = [i for i in result.items if i.kind == "target"]
    assert sorted(stack.meta["inputs"]) == ["a.fits", "b.fits"]
    with fits.open(stack.path("stack")) as hdul:
        assert hdul[0].header["NCOMBINE"] == 2

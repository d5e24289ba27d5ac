"""Every instrument: a simulated small night ingested and calibrated through the pipeline, each
processed frame compared with the truth sky (electrons) pixel by pixel, in units of its
uncertainty."""

from __future__ import annotations

import numpy as np
import pytest
from astropy.io import fits

from potpyri.pipeline import run_pipeline, validate
from potpyri.sim.formats.base import FORMATS
from potpyri.sim.night import expected_image, simulate_night
from tests.conftest import compose_config

FORMATS_TESTED = [
    "gmos-n",
    "gmos-s",
    "lris-red",
    "lris-blue",
    "deimos",
    "binospec",
    "imacs",
    "f2",
    "mmirs",
    "mosfire",
    "fourstar",
]


@pytest.fixture(scope="module", params=FORMATS_TESTED)
def reduced(request, tmp_path_factory):
    fmt = request.param
    folder = tmp_path_factory.mktemp(fmt)
    sky_flats = FORMATS[fmt].flat_kind == "sky"
    night = simulate_night(fmt, folder, seed=21, frames=5 if sky_flats else 3, bands=None)
    cfg = compose_config(
        f"instrument={FORMATS[fmt].instrument}",
        f"data_path={folder}",
        "pipeline.steps=[ingest,bias,dark,flat,process,cosmic_rays]",
    )
    validate(cfg)
    return fmt, night, run_pipeline(cfg)


def test_classification_is_complete_and_right(reduced):
    fmt, night, result = reduced
    frames = {i.id: i for i in result.items if i.kind == "frame"}
    assert len(frames) == len(night.raw_files)
    science = [r["file"] for r in night.frames if r["kind"] == "science"]
    got = sorted(
        f for f, i in frames.items() if i.meta["type"] == "SCIENCE" and not i.meta.get("excluded")
    )
    expected = sorted(science)
    if fmt in ("imacs", "fourstar"):  # no bad-frame keyword (spec §9.4, §10.4): science
        expected = sorted(science + [r["file"] for r in night.frames if r["kind"] == "bad"])
    assert got == expected
    assert result.by_status("process") == {"ran": len(expected)}


def test_processed_frames_equal_the_truth_within_their_uncertainty(reduced):
    """Median pull within ±0.05 and its scatter within 1 ± 0.1, over unmasked pixels; the truth
    is scaled by the median of the true flat (the pipeline's flats are normalised to 1)."""
    fmt, night, result = reduced
    response = fits.getdata(night.truth_dir / "maps" / "flat.fits.fz")
    scale = float(np.median(response[response > 0]))
    kinds = {r["file"]: r["kind"] for r in night.frames}
    for item in result.items:
        if item.kind != "frame" or kinds.get(item.id) != "science" or "image" not in item.files:
            continue
        with fits.open(item.path("image")) as hdul:
            sci, mask, err = hdul["SCI"].data, hdul["MASK"].data, hdul["UNCERT"].data
        truth = expected_image(night.truth_dir, item.id, ("sky", "sources", "trail")) * scale
        truth_map = fits.getdata(
            night.truth_dir / "maps" / f"{item.id.split('.fits')[0]}_cr.fits.fz"
        )
        good = (mask == 0) & ((truth_map & 2) == 0)
        pulls = ((sci - truth) / err)[good]
        gross = np.abs(pulls) > 10
        assert gross.mean() < 1e-3, f"{item.id}: {gross.sum()} unflagged outliers"
        core = pulls[~gross]
        assert abs(np.median(core)) < 0.05, (fmt, item.id, np.median(core))
        assert abs(np.std(core) - 1) < 0.1, (fmt, item.id, np.std(core))

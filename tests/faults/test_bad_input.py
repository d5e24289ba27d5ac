"""Bad input: every broken file gets one log line naming it and the reason, is set aside, the run
goes on.

One tiny toycam night holds good frames and every kind of bad file at once, and is reduced once
(in-process, the whole default pipeline); each case then checks its own file.
"""

from __future__ import annotations

import bz2
import gzip
import logging
import re
from pathlib import Path

import numpy as np
import pytest
from astropy.io import fits

from potpyri.pipeline import run_pipeline, validate
from tests.conftest import compose_config
from tests.faults.ledger import check_raw, night, watch
from tests.framework.tiny import SEARCHPATH, TOY_STEPS

pytestmark = pytest.mark.fault("bad input")

#: file -> (step that sets it aside, the reason its one log line must give)
SET_ASIDE = {
    "truncated.fits": ("ingest", r"unreadable \(.*truncated"),
    "not_fits.fits": ("ingest", r"unreadable \(OSError: .*(empty or corrupt|SIMPLE)"),
    "broken.fits.gz": ("ingest", r"unreadable \(EOFError: Compressed file ended"),
    "broken.fits.bz2": ("ingest", r"unreadable \(OSError: Invalid data stream"),
    "no_exptime.fits": ("ingest", r"keyword EXPTIME \(exposure time\) missing"),
    "bad_exptime.fits": ("ingest", r"keyword EXPTIME \(exposure time\) malformed: 'ten'"),
    "no_filter.fits": ("ingest", r"keyword FILTER \(filter\) missing"),
    "no_date.fits": ("ingest", r"keyword MJD-OBS \(date\) missing"),
    "bad_date.fits": ("ingest", r"keyword MJD-OBS \(date\) malformed: 'yesterday'"),
    "othercam.fits": (
        "ingest",
        r"from another instrument \(INSTRUME='OTHERCAM'; this run reduces TOYCAM\)",
    ),
    "nan_filled.fits": ("process", r"no finite pixel \(a NaN-filled frame\)"),
    "constant.fits": ("process", r"every pixel is 0 ADU \(a constant frame, no image\)"),
}
#: Frames that are odd but usable: reduced, never lost.
KEPT = ["sexagesimal_radec.fits", "garbage_radec.fits"]


class _Records(logging.Handler):
    def __init__(self) -> None:
        super().__init__(logging.INFO)
        self.lines: list[tuple[int, str]] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.lines.append((record.levelno, record.getMessage()))


def _write_bad_files(raw: Path, good: Path) -> None:
    data, header = fits.getdata(good), fits.getheader(good)

    def variant(name: str, cards: dict | None = None, drop: str | None = None, pixels=None) -> None:
        head = header.copy()
        head.update(cards or {})
        if drop:
            del head[drop]
        fits.PrimaryHDU(data if pixels is None else pixels, head).writeto(raw / name)

    blob = good.read_bytes()
    (raw / "truncated.fits").write_bytes(blob[:5000])
    (raw / "not_fits.fits").write_text("SIMPLE? no: an HTML error page saved as .fits\n")
    (raw / "broken.fits.gz").write_bytes(gzip.compress(blob)[:3000])
    (raw / "broken.fits.bz2").write_bytes(bz2.compress(blob)[:10] + b"\0" * 200)
    variant("no_exptime.fits", drop="EXPTIME")
    variant("bad_exptime.fits", {"EXPTIME": "ten"})
    variant("no_filter.fits", drop="FILTER")
    variant("no_date.fits", drop="MJD-OBS")
    variant("bad_date.fits", {"MJD-OBS": "yesterday"})
    # Another camera's frame that the toycam keyword rules would otherwise take for science.
    fits.PrimaryHDU(np.ones((200, 300), np.float32) * 900, header.copy()).writeto(
        raw / "othercam.fits"
    )
    with fits.open(raw / "othercam.fits", mode="update") as hdul:
        hdul[0].header["INSTRUME"] = "OTHERCAM"
    variant("nan_filled.fits", pixels=np.full_like(data, np.nan))
    variant("constant.fits", pixels=np.zeros_like(data))
    variant("sexagesimal_radec.fits", {"RA": "10:00:00.00", "DEC": "+02:00:00.0"})
    variant("garbage_radec.fits", {"RA": "ten hours", "DEC": "north"})
    # A single frame of another target, and a science frame in a filter without a flat.
    variant("solo.fits", {"OBJECT": "solo"})
    variant("g_band.fits", {"FILTER": "g"})
    flat = np.full_like(data, 500.0) + np.random.default_rng(3).normal(0, 2.5, data.shape).astype(
        np.float32
    )
    flat[:, :120] += 8000.0  # toycam: 120 data columns, then the overscan at the bias level
    for n in range(3):  # flat.min_frames
        variant(f"flat_r{n}.fits", {"OBSTYPE": "flat", "OBJECT": "domeflat"}, pixels=flat)


@pytest.fixture(scope="module")
def reduced(tmp_path_factory):
    data_path = night(tmp_path_factory.mktemp("bad_input"), n_frames=3)
    _write_bad_files(data_path / "raw", data_path / "raw" / "toy0001.fits")
    raw = watch(data_path)  # again: now with the bad files
    handler = _Records()
    logger = logging.getLogger("potpyri")
    logger.addHandler(handler)
    level = logger.level
    logger.setLevel(logging.INFO)
    try:
        cfg = compose_config(
            SEARCHPATH,
            "instrument=toycam",
            TOY_STEPS,
            f"data_path={data_path}",
            "instrument.raw_format.default=*.fits*",
            "instrument.flat=true",
            "instrument.classify.flat={keywords:[OBSTYPE],values:[flat]}",
        )
        validate(cfg)
        result = run_pipeline(cfg, recipe_yaml="data_path: x\n")
    finally:
        logger.removeHandler(handler)
        logger.setLevel(level)
    listing = {}
    for line in (data_path / "file_list.txt").read_text().splitlines()[1:]:
        fields = line.split()
        listing[fields[0]] = line
    yield data_path, result, handler.lines, listing
    assert check_raw(raw, forget=True) == []


@pytest.mark.parametrize("name", sorted(SET_ASIDE))
def test_bad_file_is_named_once_and_set_aside(reduced, name):
    data_path, result, lines, listing = reduced
    step, reason = SET_ASIDE[name]
    mentions = [text for level, text in lines if level >= logging.WARNING and name in text]
    assert len(mentions) == 1, mentions
    assert re.search(reason, mentions[0]), mentions[0]
    if step == "ingest":
        assert " BAD " in listing[name]  # set aside in the file list
        frame = next(i for i in result.items if i.id == name)
        assert re.search(reason, frame.meta["excluded"])
    else:
        (record,) = [r for r in result.records if r.step == step and r.task == name]
        assert record.status == "failed" and re.search(reason, record.note)
    # Nothing downstream used it.
    assert not any(r.task == name for r in result.records if r.step not in ("ingest", step))
    stem = name.split(".fits")[0]
    assert not [p for p in (data_path / "red").rglob(f"*{stem}*") if "cache" not in p.parts]


def _stack(result, target_group: str):
    (item,) = [i for i in result.items if i.kind == "target" and i.id == target_group]
    return item


def test_the_run_goes_on_with_the_good_frames(reduced):
    _, result, _, _ = reduced
    stack = _stack(result, "field1_r_1_11")
    assert sorted(stack.meta["inputs"]) == sorted(
        ["toy0000.fits", "toy0001.fits", "toy0002.fits", *KEPT]
    )
    with fits.open(stack.path("stack")) as hdul:
        assert hdul[0].header["NCOMBINE"] == 5
        assert np.isfinite(hdul["SCI"].data).all() and (hdul["MASK"].data == 0).mean() > 0.9
    assert result.by_status("flat") == {"ran": 1}


@pytest.mark.parametrize("name", KEPT)
def test_odd_ra_dec_is_reduced_not_lost(reduced, name):
    """RA/DEC keywords are not read by any step yet (the WCS comes from the CD matrix): an odd
    format must not lose the frame."""
    _, result, lines, listing = reduced
    assert " SCIENCE " in listing[name]
    assert [r.status for r in result.records if r.task == name and r.step == "process"] == ["ran"]
    assert not [text for level, text in lines if level >= logging.WARNING and name in text]


def test_a_target_with_a_single_frame_is_stacked(reduced):
    _, result, _, _ = reduced
    stack = _stack(result, "solo_r_1_11")
    assert stack.meta["inputs"] == ["solo.fits"]
    with fits.open(stack.path("stack")) as hdul:
        assert hdul[0].header["NCOMBINE"] == 1 and hdul[0].header["OBJECT"] == "solo"


def test_science_without_its_flat_is_reduced_with_a_warning(reduced):
    """The g-band frame has no g flat: reduced, the skipped correction logged and recorded."""
    _, result, lines, _ = reduced
    (record,) = [r for r in result.records if r.step == "process" and r.task == "g_band.fits"]
    assert record.status == "ran" and record.note == "flat correction skipped (no master)"
    mentions = [text for level, text in lines if level >= logging.WARNING and "g_band.fits" in text]
    assert mentions == ["g_band.fits: flat correction skipped (no master)"]
    frame = next(i for i in result.items if i.id == "g_band.fits")
    with fits.open(frame.path("image")) as hdul:
        assert hdul[0].header["FLATCOR"] == "SKIPPED"
    r_frame = next(i for i in result.items if i.id == "toy0000.fits")
    with fits.open(r_frame.path("image")) as hdul:
        assert hdul[0].header["FLATCOR"].startswith("mflat")

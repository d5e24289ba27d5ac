"""The reference's ingest options: ``file_list_name``, ``no_redo_sort`` (a hand-edited list is
respected) and ``proc`` (which raw-name pattern is read)."""

from __future__ import annotations

import logging

from astropy.io import fits

from potpyri.pipeline import run_pipeline, validate
from tests.conftest import compose_config
from tests.framework.tiny import SEARCHPATH, write_tiny_night

STEPS = "pipeline.steps=[ingest,process,stack]"


def _run(data_path, *overrides):
    cfg = compose_config(
        SEARCHPATH, "instrument=toycam", f"data_path={data_path}", STEPS, *overrides
    )
    validate(cfg)
    return run_pipeline(cfg)


def _stack_inputs(result) -> int:
    stack = next(i for i in result.items if i.kind == "target")
    return fits.getheader(stack.path("stack"))["NCOMBINE"]


def test_file_list_name_names_the_list(tmp_path):
    write_tiny_night(tmp_path, n_frames=2)
    _run(tmp_path, "ingest.file_list_name=night1.txt")
    assert not (tmp_path / "file_list.txt").exists()
    lines = (tmp_path / "night1.txt").read_text().splitlines()
    titles = "File Target TargType Filter Amp Binning Exp Type CalType Time"
    assert " ".join(lines[0].split()) == titles
    assert [line.split()[0] for line in lines[1:]] == ["toy0000.fits", "toy0001.fits"]


def test_no_redo_sort_respects_a_hand_edited_list(tmp_path, caplog):
    write_tiny_night(tmp_path, n_frames=3)
    assert _stack_inputs(_run(tmp_path)) == 3
    listing = tmp_path / "file_list.txt"
    edited = listing.read_text().replace(
        next(line for line in listing.read_text().splitlines() if line.startswith("toy0001.fits")),
        next(
            line for line in listing.read_text().splitlines() if line.startswith("toy0001.fits")
        ).replace("SCIENCE", "BAD    "),
    )
    listing.write_text(edited)
    extra = write_tiny_night(tmp_path / "more", n_frames=1)[
        0
    ]  # a new raw file the list does not name
    extra.rename(tmp_path / "raw" / "toy9999.fits")
    with caplog.at_level(logging.INFO, logger="potpyri"):
        result = _run(tmp_path, "ingest.no_redo_sort=true")
    frames = {i.id: i for i in result.items if i.kind == "frame"}
    assert frames["toy0001.fits"].meta["excluded"] == "Type BAD in file_list.txt"
    assert "toy9999.fits" not in frames
    assert "toy9999.fits: not in file_list.txt; left out (ingest.no_redo_sort=true)" in caplog.text
    assert _stack_inputs(result) == 2
    assert listing.read_text() == edited  # not rewritten


def test_no_redo_sort_without_a_list_is_one_clear_error(tmp_path):
    write_tiny_night(tmp_path, n_frames=1)
    result = _run(tmp_path, "ingest.no_redo_sort=true")
    assert [(r.step, r.status) for r in result.records] == [("ingest", "failed")]
    assert (
        result.records[0].note
        == f"ingest.no_redo_sort=true but there is no file_list.txt in {tmp_path}"
    )


def test_proc_chooses_the_raw_name_pattern(tmp_path):
    write_tiny_night(tmp_path, n_frames=3)
    result = _run(
        tmp_path, "ingest.proc=dragons", "instrument.raw_format.dragons='toy000[01].fits'"
    )
    assert sorted(i.id for i in result.items if i.kind == "frame") == [
        "toy0000.fits",
        "toy0001.fits",
    ]


def test_no_redo_sort_applies_the_target_filter(tmp_path):
    write_tiny_night(tmp_path, n_frames=2, targets=("field1", "field2"))
    _run(tmp_path)  # writes the file list
    result = _run(tmp_path, "ingest.no_redo_sort=true", "target=field2")
    frames = {i.id: i.meta for i in result.items if i.kind == "frame"}
    kept = sorted(name for name, meta in frames.items() if not meta.get("excluded"))
    assert [frames[name]["target"] for name in kept] == ["field2", "field2"]
    assert all(
        meta["excluded"] == "target does not contain 'field2'"
        for meta in frames.values()
        if meta["target"] == "field1"
    )
    assert [
        i.meta["target"] for i in result.items if i.kind == "target" and "stack" in i.files
    ] == ["field2"]

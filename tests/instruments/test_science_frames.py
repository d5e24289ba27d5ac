"""The night's science frames read before any step (catalog-file check, ``catalogs fetch``): the
frames ingest would reduce, each header read once."""

from __future__ import annotations

from astropy.io import fits

from potpyri import pipeline
from potpyri.instruments.science_frames import science_frames
from potpyri.pipeline import make_reader, science_filters
from tests.conftest import compose_config
from tests.framework.tiny import SEARCHPATH, write_tiny_night


def _config(data_path, *overrides):
    return compose_config(SEARCHPATH, "instrument=toycam", f"data_path={data_path}", *overrides)


def test_the_frames_ingest_would_reduce(tmp_path):
    paths = write_tiny_night(tmp_path, n_frames=2, targets=("field1", "field2"))
    fits.setval(paths[0], "FILTER", value="g")
    (tmp_path / "raw" / "toy9999.fits").write_bytes(b"not a FITS file")
    cfg = _config(tmp_path, "target=field1")
    notes: list[str] = []
    frames = list(science_frames(cfg, make_reader(cfg.instrument, None), notes))
    assert [f.path.name for f in frames] == ["toy0000.fits", "toy0001.fits"]
    assert [f.meta["filter"] for f in frames] == ["g", "r"]
    assert len(notes) == 1 and notes[0].startswith("toy9999.fits: unreadable")
    assert science_filters(cfg) == ["g", "r"]
    assert science_filters(_config(tmp_path, "target=field2")) == ["r"]


def test_the_filters_are_read_once_per_unchanged_night(tmp_path, monkeypatch):
    paths = write_tiny_night(tmp_path, n_frames=2)
    cfg = _config(tmp_path)
    calls = []
    real = pipeline.science_frames
    monkeypatch.setattr(pipeline, "science_frames", lambda *a: calls.append(1) or real(*a))
    assert science_filters(cfg) == science_filters(cfg) == ["r"]
    assert len(calls) == 1
    fits.setval(paths[1], "FILTER", value="i")  # a changed file is read again
    assert science_filters(cfg) == ["i", "r"]
    assert len(calls) == 2

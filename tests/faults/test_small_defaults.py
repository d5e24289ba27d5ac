"""Issue 18 item 10 (the runner's share): ``main_pipeline --relative-calibration`` mapped to a key
that does not exist; a warning such as "bias correction skipped" was repeated at every later step
of the summary; ``cosmic_rays`` declared a dependency it never reads; a mistyped ``data_path``
created folders."""

from __future__ import annotations

import pytest

from potpyri.cli import main_pipeline
from potpyri.framework.runner import _task_key, step_dependencies
from potpyri.framework.step import STEPS, Item, Task
from potpyri.pipeline import ConfigError, run_pipeline, validate
from tests.conftest import compose_config
from tests.faults.ledger import night
from tests.framework.helpers import potpyri
from tests.framework.tiny import SEARCHPATH, TOY_STEPS

pytestmark = pytest.mark.fault("silent failures", item=10)


def test_relative_calibration_is_refused_with_one_line(tmp_path, capsys):
    night(tmp_path, n_frames=2)
    with pytest.raises(SystemExit) as stop:
        main_pipeline(["TOYCAM", str(tmp_path), "--relative-calibration", SEARCHPATH])
    assert stop.value.code == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert err == [
        "main_pipeline: error: --relative-calibration is not available: potpyri calibrates every "
        "stack against a reference catalog (zeropoint step); run without it"
    ]
    assert not (tmp_path / "red").exists()


def test_a_warning_is_noted_once_where_it_arose(tmp_path):
    data_path = night(tmp_path, n_frames=2)
    cfg = compose_config(
        SEARCHPATH, "instrument=toycam", TOY_STEPS, f"data_path={data_path}", "instrument.bias=true"
    )
    validate(cfg)
    result = run_pipeline(cfg)
    noted = [(r.step, r.task) for r in result.records if "bias correction skipped" in r.note]
    assert noted == [("process", "toy0000.fits"), ("process", "toy0001.fits")]
    # The frames still carry it (the QA report's per-frame facts), only the notes say it once.
    frame = next(i for i in result.items if i.id == "toy0000.fits")
    assert "bias correction skipped (no master)" in frame.meta["warnings"]


def _cosmic_rays_key(*overrides: str) -> str:
    cfg = compose_config("instrument=gmos", "data_path=/x", *overrides)
    cls = STEPS["cosmic_rays"]
    deps = step_dependencies(cfg, cls)
    params = dict(cfg.cosmic_rays)
    task = Task("f.fits", [Item("f.fits", "frame", key="k")])
    return _task_key(cls.name, cls.version, params, deps, task)


def test_cosmic_rays_key_ignores_a_value_it_never_reads():
    """The saturation level is never read by cosmic_rays (saturation is masked by process)."""
    assert _cosmic_rays_key() == _cosmic_rays_key("instrument.saturation=12345")
    assert _cosmic_rays_key() != _cosmic_rays_key("cosmic_rays.sigclip=5")


@pytest.mark.parametrize("where", ["missing", "no_raw"])
def test_a_mistyped_data_path_fails_with_one_line_and_creates_nothing(tmp_path, where):
    target = tmp_path / "nigth" if where == "missing" else tmp_path
    before = sorted(tmp_path.rglob("*"))
    proc = potpyri(SEARCHPATH, "instrument=toycam", TOY_STEPS, f"data_path={target}")
    assert proc.returncode == 2
    expected = (
        f"potpyri: error: data_path={target}: no such folder"
        if where == "missing"
        else f"potpyri: error: data_path={target}: no raw/ folder in it (raw files go in "
        "DATA_PATH/raw)"
    )
    assert proc.stderr.strip().splitlines() == [expected]
    assert sorted(tmp_path.rglob("*")) == before  # no red/, no log folder, nothing


def test_the_python_api_refuses_a_missing_data_path_too(tmp_path):
    cfg = compose_config(
        SEARCHPATH, "instrument=toycam", TOY_STEPS, f"data_path={tmp_path / 'nigth'}"
    )
    validate(cfg)
    with pytest.raises(ConfigError, match="nigth: no such folder"):
        run_pipeline(cfg)
    assert list(tmp_path.iterdir()) == []


def test_a_catalog_file_edited_in_place_changes_the_catalog_steps_keys(tmp_path):
    """The product cache must not reuse a zero point or a WCS made from the file's old content."""
    own = tmp_path / "field.csv"
    own.write_text("ra,dec,Vmag\n150.0,2.0,15.0\n")
    cfg = compose_config("instrument=gmos", "data_path=/x", f"catalog.file={own}")
    before = {name: step_dependencies(cfg, STEPS[name]) for name in ("astrometry", "zeropoint")}
    own.write_text("ra,dec,Vmag\n150.0,2.0,15.5\n")  # same name, same size, new magnitude
    after = {name: step_dependencies(cfg, STEPS[name]) for name in ("astrometry", "zeropoint")}
    for name in before:
        assert before[name]["catalog"] == after[name]["catalog"]  # the config did not change
        assert before[name] != after[name], name

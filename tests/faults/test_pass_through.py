"""Issue 18 item 4: a group task that cannot make its correction passes its frames on (unchanged,
or with the fallback correction) with a one-line warning, instead of setting every input aside.

Three cases on tiny nights, each of which used to lose its frames before the stack: a fringe
group of fewer than 3 z frames, a near-infrared sky flat from fewer than 3 science frames of a
filter, and a near-infrared target with 2 dithers (nirsky).
"""

from __future__ import annotations

import io
import logging

import numpy as np
import pytest
from astropy.io import fits
from rich.console import Console

from potpyri.framework import summary as summary_module
from potpyri.framework.cache import Cache
from potpyri.framework.outcome import ExitCode, run_outcome
from potpyri.framework.runner import _execute_task, _TaskSpec
from potpyri.framework.step import (
    Item,
    Output,
    PassedThrough,
    Product,
    Step,
    StepConfig,
    StepContext,
    Task,
)
from potpyri.pipeline import run_pipeline, validate
from tests.conftest import compose_config
from tests.faults.ledger import watch
from tests.framework.tiny import SEARCHPATH, TOY_STEPS, write_tiny_night

pytestmark = pytest.mark.fault("silent failures", item=4)

NIR_STEPS = (
    "pipeline.steps=[ingest,bias,dark,flat,process,cosmic_rays,satellites,nirsky,skysub,"
    "resample_grid,resample,stack,qa]"
)


def _night(data_path, n_frames: int, band: str = "r"):
    paths = write_tiny_night(data_path, n_frames=n_frames)
    for path in paths:
        with fits.open(path, mode="update") as hdul:
            hdul[0].header["FILTER"] = band
    watch(data_path)
    return data_path


def _run(data_path, *overrides: str, steps: str = TOY_STEPS):
    cfg = compose_config(
        SEARCHPATH, "instrument=toycam", steps, f"data_path={data_path}", *overrides
    )
    validate(cfg)
    return run_pipeline(cfg, recipe_yaml="data_path: x\n")


def _stack(result):
    (stack,) = [i for i in result.items if i.kind == "target" and i.ok]
    return stack


def _statuses(result, step: str) -> list[str]:
    return [r.status for r in result.records if r.step == step]


def test_fringe_with_two_z_frames_passes_them_to_the_stack(tmp_path, caplog):
    data_path = _night(tmp_path, 2, "z")
    with caplog.at_level(logging.WARNING, logger="potpyri"):
        result = _run(data_path)
    (record,) = [r for r in result.records if r.step == "fringe"]
    assert record.status == "passed"
    assert record.note == (
        "2 frame(s), fewer than fringe.min_frames=3; frames passed on without fringe correction"
    )
    stack = _stack(result)
    assert sorted(stack.meta["inputs"]) == ["toy0000.fits", "toy0001.fits"]
    with fits.open(stack.path("stack")) as hdul:
        header = hdul[0].header
        assert header["NCOMBINE"] == 2
        steps = {header[k]: header[k.replace("PPSTEP", "PPSTA")] for k in header["PPSTEP*"]}
        assert steps["fringe"] == "PASSED" and steps["stack"] == "COMPLETE"
    # One warning line, where it arose; no later step repeats it.
    lines = [r.getMessage() for r in caplog.records if "fringe.min_frames" in r.getMessage()]
    assert lines == [f"[fringe] z_1_11: {record.note}"]
    assert [r.step for r in result.records if "fringe.min_frames" in r.note] == ["fringe"]
    outcome = run_outcome(result)
    assert outcome.code is ExitCode.success
    assert outcome.line == "success: 1 target product(s); 1 task(s) passed frames through"


def test_the_summary_shows_the_passed_through_task(tmp_path, monkeypatch):
    data_path = _night(tmp_path, 2, "z")
    result = _run(data_path)
    out = io.StringIO()
    monkeypatch.setattr(summary_module, "CONSOLE", Console(file=out, width=200))
    summary_module.print_summary(result)
    text = out.getvalue()
    assert "passed through" in text and "fewer than fringe.min_frames=3" in text
    header = next(line for line in text.splitlines() if "ran" in line and "passed" in line)
    assert header.split()[:4] == ["┃", "step", "┃", "ran"]
    assert "success: 1 target product(s); 1 task(s) passed frames through" in text


def test_a_second_run_reuses_nothing_stale_and_passes_through_again(tmp_path):
    data_path = _night(tmp_path, 2, "z")
    _run(data_path)
    again = _run(data_path)
    assert _statuses(again, "fringe") == ["passed"]
    assert _statuses(again, "stack") == ["cached"]


def test_nir_target_with_two_dithers_reaches_the_stack(tmp_path):
    data_path = _night(tmp_path, 2)
    result = _run(data_path, "instrument.wavelength=NIR", steps=NIR_STEPS)
    (record,) = [r for r in result.records if r.step == "nirsky"]
    assert record.status == "passed"
    assert record.note == (
        "2 frame(s), fewer than nirsky.min_frames=3 dithered frames; passed on without a running "
        "sky (only skysub's background is subtracted)"
    )
    assert _statuses(result, "skysub") == ["ran", "ran"]
    stack = _stack(result)
    assert sorted(stack.meta["inputs"]) == ["toy0000.fits", "toy0001.fits"]
    with fits.open(stack.path("stack")) as hdul:
        assert hdul[0].header["NCOMBINE"] == 2


def test_nir_sky_flat_from_two_frames_passes_them_on_unflattened(tmp_path):
    data_path = _night(tmp_path, 2)
    result = _run(
        data_path,
        "instrument.wavelength=NIR",
        "instrument.flat=true",
        "nirsky.enabled=false",
        steps=NIR_STEPS,
    )
    (record,) = [r for r in result.records if r.step == "flat"]
    assert record.status == "passed"
    assert record.note == (
        "2 science frame(s), fewer than flat.min_frames=3 for a sky flat; frames passed on to "
        "process, which uses a master flat from red/cals or skips flat-fielding"
    )
    notes = [r.note for r in result.records if r.step == "process"]
    assert notes == ["flat correction skipped (no master)"] * 2
    stack = _stack(result)
    assert sorted(stack.meta["inputs"]) == ["toy0000.fits", "toy0001.fits"]
    assert run_outcome(result).code is ExitCode.success


class _FallbackStep(Step):
    """A step whose correction is impossible but which has a fallback (not registered)."""

    name = "fallback_demo"

    def run(self, task):
        hdus = fits.HDUList([fits.PrimaryHDU(np.zeros((2, 2), np.float32))])
        out = Output(task.id, "frame", {}, {"image": Product("f.fits", hdus, "workspace")})
        raise PassedThrough("no running sky; a constant sky subtracted instead", [out])


def test_a_fallback_correction_is_written_and_reused_as_passed(tmp_path):
    context = StepContext(cfg=None, instrument=None, data_path=tmp_path, log=logging.getLogger())
    record = {"step": "fallback_demo", "version": "1", "cfg_hash": "0", "params": {}}
    spec = _TaskSpec(
        step_cls=_FallbackStep,
        config=StepConfig(),
        context=context,
        task=Task("f.fits", [Item("f.fits", "frame", key="k")]),
        key="a" * 64,
        provenance=[{**record, "status": "COMPLETE"}],
        cache=Cache(tmp_path / "cache"),
        run_id="20261206T000000Z-abcdef",
    )
    first = _execute_task(spec)
    assert first.status == "passed"
    assert first.note == "no running sky; a constant sky subtracted instead"
    assert first.manifest["passed"] == first.note
    (out,) = first.manifest["outputs"]
    assert out["provenance"][0]["status"] == "PASSED"
    product = spec.cache.entry("fallback_demo", spec.key) / "f.fits"
    header = fits.getheader(product)
    assert header["PPSTA1"] == "PASSED" and header["PPRUNID"] == "20261206T000000Z-abcdef"
    again = _execute_task(spec)  # reused from the cache: still reported as passed through
    assert (again.status, again.note) == ("passed", first.note)

"""Issue 18 item 7: after a failed re-run, ``red/`` still holds the stacks of an earlier run. The
summary, ``run.json`` and the QA report must say which products are this run's; each product's
header names the run that wrote it (``PPRUNID``)."""

from __future__ import annotations

import io
import json

import pytest
from astropy.io import fits
from rich.console import Console

from potpyri.framework import summary as summary_module
from potpyri.framework.outcome import ExitCode, earlier_products, run_outcome, write_run_record
from potpyri.pipeline import run_pipeline, validate
from potpyri.report import write_report
from tests.conftest import compose_config
from tests.faults.ledger import night
from tests.framework.tiny import SEARCHPATH, TOY_STEPS

pytestmark = pytest.mark.fault("silent failures", item=7)


def _run(data_path, *overrides: str):
    cfg = compose_config(
        SEARCHPATH, "instrument=toycam", TOY_STEPS, f"data_path={data_path}", *overrides
    )
    validate(cfg)
    return run_pipeline(cfg, recipe_yaml="data_path: x\n")


def test_a_failed_rerun_does_not_pass_off_the_old_stack(tmp_path, monkeypatch):
    data_path = night(tmp_path, n_frames=2)
    first = _run(data_path)
    (stack,) = (data_path / "red").glob("*.stk.fits")
    assert stack in first.published
    assert fits.getval(stack, "PPRUNID") == first.run_id

    # A re-run whose stack fails: the old stack stays in red/, but it is not this run's.
    second = _run(data_path, "stack.min_frames=5")
    assert second.run_id != first.run_id
    assert second.by_status("stack") == {"failed": 1}
    assert stack.exists() and stack not in second.published
    assert stack in earlier_products(second)
    assert run_outcome(second).code is ExitCode.failure

    record_path = tmp_path / "run.json"
    write_run_record(second, record_path)
    record = json.loads(record_path.read_text())
    assert record["run_id"] == second.run_id
    assert stack.name in record["earlier_products"] and stack.name not in record["products"]

    out = io.StringIO()
    monkeypatch.setattr(summary_module, "CONSOLE", Console(file=out, width=250))
    summary_module.print_summary(second)
    (line,) = [ln for ln in out.getvalue().splitlines() if stack.name in ln]
    assert f"an earlier run ({first.run_id}): not this run's" in line

    write_report(second)
    page = (data_path / "red" / "qa" / "index.html").read_text()
    start = page.index('id="qa-data">') + len('id="qa-data">')
    data = json.loads(page[start : page.index("</script>", start)])
    (row,) = [p for p in data["products"] if p["file"] == stack.name]
    assert row["run_id"] == first.run_id and row["made_by"].startswith("an earlier run")
    assert data["run_id"] == second.run_id


def test_a_reused_product_is_this_runs(tmp_path):
    """A re-run that reuses the cached stack publishes it again: it is this run's product, though
    its header keeps the id of the run that computed it."""
    data_path = night(tmp_path, n_frames=2)
    first = _run(data_path)
    again = _run(data_path)
    (stack,) = (data_path / "red").glob("*.stk.fits")
    assert again.by_status("stack") == {"cached": 1}
    assert stack in again.published and stack not in earlier_products(again)
    assert fits.getval(stack, "PPRUNID") == first.run_id

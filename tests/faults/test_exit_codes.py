"""Issue 18 item 6: the exit code tells success (0), partial success (3: products made, but some
files rejected or tasks failed) and failure (1: nothing useful made), and the files rejected at
ingest appear in the summary table, ``summary.json``, ``run.json`` and the QA report, not only in
log lines."""

from __future__ import annotations

import json

import pytest
from astropy.io import fits

from potpyri.framework.outcome import ExitCode, run_outcome
from potpyri.pipeline import run_pipeline, validate
from tests.conftest import compose_config
from tests.faults.ledger import night, watch
from tests.framework.helpers import potpyri, run_dirs, summary
from tests.framework.tiny import SEARCHPATH, TOY_STEPS

pytestmark = pytest.mark.fault("silent failures", item=6)

BASE = (SEARCHPATH, "instrument=toycam", TOY_STEPS)


def _foreign(path) -> None:
    with fits.open(path, mode="update") as hdul:
        hdul[0].header["INSTRUME"] = "OTHERCAM"


def _qa_data(data_path) -> dict:
    page = (data_path / "red" / "qa" / "index.html").read_text()
    start = page.index('id="qa-data">') + len('id="qa-data">')
    return json.loads(page[start : page.index("</script>", start)])


def test_every_file_rejected_at_ingest_is_a_failure(tmp_path):
    data_path = night(tmp_path, n_frames=2)
    raw = data_path / "raw"
    for path in raw.iterdir():
        _foreign(path)
    (raw / "truncated.fits").write_bytes((raw / "toy0000.fits").read_bytes()[:4000])
    watch(data_path)
    proc = potpyri(*BASE, f"data_path={data_path}")
    assert proc.returncode == ExitCode.failure == 1, proc.stderr[-2000:]
    assert (
        "potpyri: error: failure: nothing useful was made (3 file(s) rejected at ingest)"
        in proc.stderr
    )
    (run_dir,) = run_dirs(data_path)
    rejected = {r["task"]: r["note"] for r in summary(run_dir) if r["status"] == "rejected"}
    assert sorted(rejected) == ["toy0000.fits", "toy0001.fits", "truncated.fits"]
    assert rejected["toy0000.fits"] == (
        "from another instrument (INSTRUME='OTHERCAM'; this run reduces TOYCAM)"
    )
    assert rejected["truncated.fits"].startswith("unreadable (")
    record = json.loads((run_dir / "run.json").read_text())
    assert record["exit_code"] == 1 and record["rejected"] == rejected
    qa = _qa_data(data_path)
    assert qa["rejected"] == rejected and qa["exit_code"] == 1
    # The summary table has a rejected column and the rejected files, by name.
    assert "rejected input files" in proc.stderr  # the summary is printed on the log's console
    assert "truncated.fits" in proc.stderr


def test_one_rejected_file_among_good_frames_is_a_partial_success(tmp_path):
    data_path = night(tmp_path, n_frames=3)
    raw = data_path / "raw"
    (raw / "truncated.fits").write_bytes((raw / "toy0000.fits").read_bytes()[:4000])
    watch(data_path)
    proc = potpyri(*BASE, f"data_path={data_path}")
    assert proc.returncode == ExitCode.partial == 3, proc.stderr[-2000:]
    warning = [ln for ln in proc.stderr.splitlines() if ln.startswith("potpyri: warning: partial")]
    assert warning == [
        "potpyri: warning: partial success: 1 target product(s); 1 file(s) rejected at ingest; "
        "see the summary above"
    ]
    (run_dir,) = run_dirs(data_path)
    assert [r["task"] for r in summary(run_dir) if r["status"] == "rejected"] == ["truncated.fits"]
    assert list(_qa_data(data_path)["rejected"]) == ["truncated.fits"]
    assert len(list((data_path / "red").glob("*.stk.fits"))) == 1


def test_a_clean_night_is_a_success(tmp_path):
    data_path = night(tmp_path, n_frames=2)
    proc = potpyri(*BASE, f"data_path={data_path}")
    assert proc.returncode == ExitCode.success == 0, proc.stderr[-2000:]
    assert proc.stderr.splitlines()[-1] == "success: 1 target product(s)"


def test_astrometry_failing_on_every_frame_is_a_failure(tmp_path):
    """Three stars and an empty offline catalog cache: astrometry fails on each frame, so no
    stack; the run made nothing useful although ingest and process ran."""
    data_path = night(tmp_path / "night", n_frames=2)
    cfg = compose_config(
        *BASE[:2],
        "pipeline.steps=[ingest,process,astrometry,resample_grid,resample,stack]",
        f"data_path={data_path}",
        "catalog.offline=true",
        f"catalog.cache_dir={tmp_path / 'empty_catalogs'}",
    )
    validate(cfg)
    result = run_pipeline(cfg)
    assert result.by_status("astrometry") == {"failed": 2}
    assert result.by_status("process") == {"ran": 2}
    outcome = run_outcome(result)
    assert outcome.code is ExitCode.failure
    assert outcome.line == "failure: nothing useful was made (2 task(s) failed)"

"""benchmarks/RESULTS.md is written by benchmarks/run.py (``--publish``) from one run, with the
commit measured, and never edited by hand: once published, it must equal the rendering of the
figures in benchmarks/RESULTS.json."""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


def _run_module():
    spec = importlib.util.spec_from_file_location("bench_run", ROOT / "benchmarks" / "run.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _report() -> dict:
    step = {"step": "stack", "scope": "target", "tasks": "1 ran", "wall_s": 4.1, "cpu_s": 4.0}
    return {
        "commit": "abc1234",
        "measured": "2026-12-07 05:00 UTC",
        "argv": ["--out", "/tmp/bench", "--workers", "1,2"],
        "machine": "Linux, 2 cores",
        "setup": {"fmt": "gmos-n"},
        "threads": 1,
        "runs": [
            {
                "frames": 9,
                "workers": 1,
                "n_science": 36,
                "sim_seconds": 133.0,
                "wall_seconds": 587.0,
                "cpu_seconds": 584.7,
                "peak_rss_mb": 979.0,
                "frames_per_minute": 3.68,
                "per_frame_seconds": 361.7,
                "steps": [{**step, "peak_rss_mb": 387.0}],
                "accuracy": {"stack astrometric RMS vs truth": "0.031 px (40 stars)"},
                "photometry": "16.9 ms CPU per source",
            }
        ],
    }


def test_publish_writes_the_report_with_its_commit_and_command(tmp_path):
    run = _run_module()
    md, js = tmp_path / "RESULTS.md", tmp_path / "RESULTS.json"
    run.publish(_report(), md, js)
    text = md.read_text()
    assert "Written by `benchmarks/run.py` from one run: commit abc1234" in text
    assert "`python benchmarks/run.py --out /tmp/bench --workers 1,2`" in text
    assert "| stack | target | 1 ran | 4.1 | 4.0 | 387 |" in text
    assert "- stack astrometric RMS vs truth: 0.031 px (40 stars)" in text
    assert run.published_markdown(json.loads(js.read_text())) == text


def test_the_commit_is_the_checkout_or_unknown():
    commit = _run_module().git_commit()
    assert commit == "unknown" or len(commit.split("+")[0]) >= 7


@pytest.mark.skipif(
    not (ROOT / "benchmarks" / "RESULTS.json").is_file(),
    reason="no published benchmark yet: python benchmarks/run.py ... --publish writes it",
)
def test_results_md_is_the_rendering_of_the_published_run():
    run = _run_module()
    report = json.loads(run.PUBLISHED_JSON.read_text())
    assert run.PUBLISHED_MD.read_text() == run.published_markdown(report)

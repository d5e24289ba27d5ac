"""README.md states the demo's time as measured by benchmarks/demo_time.py, not by hand."""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def _demo_time():
    spec = importlib.util.spec_from_file_location("demo_time", ROOT / "benchmarks/demo_time.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_readme_quotes_the_last_demo_measurement():
    demo_time = _demo_time()
    record = json.loads(demo_time.RESULT.read_text())
    assert record["wall_s"] > 0 and record["cpu_s"] > 0 and "cores" in record["machine"]
    readme = " ".join((ROOT / "README.md").read_text().split())
    assert demo_time.readme_phrase(record) in readme


def test_minutes_are_minutes_and_seconds():
    demo_time = _demo_time()
    assert [demo_time.minutes(s) for s in (159, 59.6, 358.2)] == ["2:39", "1:00", "5:58"]

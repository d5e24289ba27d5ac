"""docs/architecture.rst follows the code: every step of both pipelines in its flow, in pipeline
order, and every subpackage in its package table."""

from __future__ import annotations

import re
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[2]
PAGE = (ROOT / "docs" / "architecture.rst").read_text()


def _flow_steps() -> list[str]:
    """The step names that open the lines of the page's frame-flow drawing, in order."""
    flow = PAGE.split("One frame, raw file to calibrated catalog", 1)[1]
    names = re.findall(
        r"^\s*(?:\|\s+|\+-- \w+:\s+)?([a-z_]+)\s{2,}(?:run|calgroup|frame|target)\b", flow, re.M
    )
    return names


def test_flow_lists_every_step_in_pipeline_order():
    pipelines = yaml.safe_load((ROOT / "conf" / "pipeline" / "default.yaml").read_text())
    flow = _flow_steps()
    for regime in ("optical", "nir"):
        other = {"optical": "nirsky", "nir": "fringe"}[regime]
        assert [s for s in flow if s != other] == pipelines[regime], regime


def test_package_table_names_every_subpackage():
    packages = sorted(
        p.parent.name for p in (ROOT / "potpyri").glob("*/__init__.py") if p.parent.name != "conf"
    )
    for name in [*packages, "steps"]:
        assert f"``potpyri.{name}``" in PAGE, name

"""Sphinx configuration. The step, config and keyword references are generated from the code.

``potpyri.reference`` reads the step registry (each step's ``Config`` dataclass with its ``#:``
field comments) and ``potpyri.framework.docgen`` reads ``docs/keywords.yaml``; the generated RST
goes to ``docs/_generated/`` (not in git), as does the table of last measured values, rendered
from ``benchmarks/VERIFICATION.json`` (written by ``benchmarks/verification.py``).
"""

from __future__ import annotations

import importlib.util
import json
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))

from potpyri import __version__  # noqa: E402
from potpyri.framework.docgen import keywords_rst  # noqa: E402
from potpyri.reference import run_config_rst, steps_rst  # noqa: E402

project = "potpyri"
author = "potpyri developers"
copyright = "potpyri developers, GPL-3.0-or-later"  # noqa: A001
release = version = __version__
extensions: list[str] = []
exclude_patterns = ["_build", "_generated"]
html_theme = "alabaster"
html_theme_options = {"page_width": "1100px", "sidebar_width": "230px"}
html_static_path: list[str] = []
nitpicky = False
suppress_warnings: list[str] = []


def _measured_rst() -> str:
    """The last measured values, as ``benchmarks/verification.py`` wrote them."""
    script = HERE.parent / "benchmarks" / "verification.py"
    spec = importlib.util.spec_from_file_location("verification", script)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    if not module.PUBLISHED.is_file():
        return "Not measured yet: ``python benchmarks/verification.py`` writes this table.\n"
    return module.measured_rst(json.loads(module.PUBLISHED.read_text()))


def _write_generated() -> None:
    out = HERE / "_generated"
    out.mkdir(exist_ok=True)
    for name, text in {
        "steps.rst": steps_rst(),
        "run_config.rst": run_config_rst(),
        "keywords.rst": keywords_rst(),
        "measured.rst": _measured_rst(),
    }.items():
        target = out / name
        # Unchanged files keep the build incremental.
        if not target.exists() or target.read_text() != text:
            target.write_text(text)


_write_generated()

"""The README's demo night (``potpyri demo DIR``), simulated and reduced once per test session.

Shared by the end-to-end demo test (tests/test_demo.py) and the tutorial's code
(tests/docs/test_tutorial.py), so that CI reduces the demo once.
"""

from __future__ import annotations

import subprocess
from pathlib import Path
from typing import NamedTuple

import pytest

from tests.framework.helpers import potpyri, run_dirs


class ReducedDemo(NamedTuple):
    folder: Path  #: the demo's DIR (raw/, truth/, catalog_cache/, red/)
    first_run: Path  #: red/log/<time> of the first reduction
    proc: subprocess.CompletedProcess  #: the first ``potpyri demo DIR``


@pytest.fixture(scope="session")
def reduced_demo(tmp_path_factory) -> ReducedDemo:
    folder = tmp_path_factory.mktemp("demo") / "demo"
    proc = potpyri("demo", str(folder), timeout=900)
    assert proc.returncode == 0, proc.stderr[-3000:]
    return ReducedDemo(folder, run_dirs(folder)[-1], proc)

"""One small simulated GMOS-N night reduced by the real command line with the default pipeline,
shared by the tests of what users see (documented keywords, the QA report, the browser check)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import pytest

from potpyri.sim.night import NightResult, simulate_night
from tests.framework.helpers import potpyri, run_dirs


@dataclass
class Reduced:
    night: NightResult
    folder: Path
    red: Path
    run_dir: Path
    stderr: str

    @property
    def report(self) -> Path:
        return self.red / "qa" / "index.html"


@pytest.fixture(scope="session")
def reduced_night(tmp_path_factory) -> Reduced:
    folder = tmp_path_factory.mktemp("users_night")
    night = simulate_night("gmos-n", folder, seed=8, targets=1, frames=2, bands=["r"])
    proc = potpyri(
        "instrument=gmos",
        f"data_path={folder}",
        "catalog.offline=true",
        f"catalog.cache_dir={folder / 'catalog_cache'}",
        check=True,
    )
    (run_dir,) = run_dirs(folder)
    return Reduced(night, folder, folder / "red", run_dir, proc.stderr)

"""One small simulated GMOS-N night reduced with the default pipeline, shared by the tests of what
users see (documented keywords, the QA report, the browser check)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import pytest

from potpyri.runner import RunResult, run_pipeline
from potpyri.sim.night import NightResult, simulate_night
from potpyri.validate import validate
from tests.conftest import compose_config


@dataclass
class Reduced:
    night: NightResult
    folder: Path
    result: RunResult
    report: Path | None


@pytest.fixture(scope="session")
def reduced_night(tmp_path_factory) -> Reduced:
    from hydra.core.global_hydra import GlobalHydra

    folder = tmp_path_factory.mktemp("users_night")
    night = simulate_night("gmos-n", folder, seed=8, targets=1, frames=2, bands=["r"])
    GlobalHydra.instance().clear()
    cfg = compose_config("instrument=gmos", f"data_path={folder}", "catalog.offline=true",
                         f"catalog.cache_dir={folder / 'catalog_cache'}")
    GlobalHydra.instance().clear()
    validate(cfg)
    result = run_pipeline(cfg)
    report = None
    try:
        from potpyri.qa.report import write_report
    except ImportError:  # the report module is not in this tree yet
        pass
    else:
        report = write_report(result, recipe=None, log_dir=None)
    return Reduced(night, folder, result, report)

"""One small simulated GMOS-N night shared by the simulator tests (written once per session)."""

from __future__ import annotations

import time

import pytest

from potpyri.sim.night import simulate_night


@pytest.fixture(scope="session")
def gmos_night(tmp_path_factory):
    out = tmp_path_factory.mktemp("gmos_night")
    start = time.perf_counter()
    result = simulate_night("gmos-n", out, seed=7)
    result.seconds = time.perf_counter() - start
    return result

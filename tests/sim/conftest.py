"""One small simulated GMOS-N night shared by the simulator tests (written once per session)."""

from __future__ import annotations

import pytest

from potpyri.sim.night import simulate_night


@pytest.fixture(scope="session")
def gmos_night(tmp_path_factory):
    return simulate_night("gmos-n", tmp_path_factory.mktemp("gmos_night"), seed=7)

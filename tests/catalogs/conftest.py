"""Fixtures of the catalog tests: the simulated Johnson B/V night (see bv_night.py)."""

from __future__ import annotations

import pytest

from tests.catalogs.bv_night import BVNight, bv_night


@pytest.fixture(scope="session")
def bv_night_sim(tmp_path_factory) -> BVNight:
    """The simulated (not yet reduced) B/V night, once per session. Each reduction publishes into
    its ``red/`` folder: a test reducing it with other settings re-runs the zero point only."""
    return bv_night(tmp_path_factory.mktemp("bv_night"))

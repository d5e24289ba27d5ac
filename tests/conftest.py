"""Shared fixtures: a clean Hydra state per test, composing configs from the installed package."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from hydra import compose, initialize_config_module
from hydra.core.global_hydra import GlobalHydra

import potpyri.schema  # noqa: F401  (ConfigStore schema + resolvers)

SHARED = Path(os.environ.get("POTPYRI_SHARED", Path(__file__).resolve().parents[2] / "shared"))


@pytest.fixture(autouse=True)
def _clear_hydra():
    GlobalHydra.instance().clear()
    yield
    GlobalHydra.instance().clear()


@pytest.fixture(autouse=True)
def _plain_logs(monkeypatch):
    monkeypatch.setenv("POTPYRI_PLAIN_LOG", "1")


def compose_config(*overrides: str):
    """Compose ``config.yaml`` with overrides, as the CLI would (without running)."""
    with initialize_config_module(config_module="potpyri.conf", version_base="1.3"):
        return compose(config_name="config", overrides=list(overrides))


from tests.demo_night import reduced_demo  # noqa: E402, F401  (a session fixture)
from tests.nickel_night import nickel_night  # noqa: E402, F401  (a session fixture)

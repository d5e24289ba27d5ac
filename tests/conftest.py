"""Shared fixtures: a clean Hydra state per test, composing configs from the installed package."""

from __future__ import annotations

import inspect
import os
from pathlib import Path

import pytest
from hydra import compose, initialize_config_module
from hydra.core.global_hydra import GlobalHydra

import potpyri.schema  # noqa: F401  (ConfigStore schema + resolvers)

SHARED = Path(os.environ.get("POTPYRI_SHARED", Path(__file__).resolve().parents[2] / "shared"))


def pytest_configure(config):
    config.addinivalue_line(
        "markers", "shared_data: reads files under ../shared (set by conftest, not by hand)"
    )


def pytest_collection_modifyitems(config, items):
    """Mark the tests that read ``../shared`` (CI re-runs them in a clone without it, .ci/run):
    a skip for missing shared data, the session's Nickel night, or code (the test's or its
    fixtures') naming ``SHARED`` or a module path under it."""
    for item in items:
        if _reads_shared(item):
            item.add_marker(pytest.mark.shared_data)


def _reads_shared(item) -> bool:
    if any("shared data" in str(m.kwargs.get("reason", "")) for m in item.iter_markers("skipif")):
        return True
    if "nickel_night" in getattr(item, "fixturenames", ()):
        return True
    module = getattr(item, "module", None)
    names = (
        {"SHARED", "POTPYRI_SHARED"}
        | {
            name
            for name, value in vars(module).items()
            if isinstance(value, Path) and value.is_relative_to(SHARED)
        }
        if module
        else set()
    )
    functions = [getattr(item, "function", None)]
    closure = getattr(item, "_fixtureinfo", None)
    for defs in closure.name2fixturedefs.values() if closure else ():
        functions += [d.func for d in defs]
    for function in functions:
        try:
            source = inspect.getsource(function)
        except (OSError, TypeError):
            continue
        if any(name in source for name in names):
            return True
    return False


@pytest.fixture(autouse=True)
def _clear_hydra():
    GlobalHydra.instance().clear()
    yield
    GlobalHydra.instance().clear()


@pytest.fixture(autouse=True)
def _plain_logs(monkeypatch):
    monkeypatch.setenv("POTPYRI_PLAIN_LOG", "1")


@pytest.fixture
def measured(request):
    """``measured(line)`` prints one line of what this test measured and records it as a property
    of the test, from which ``benchmarks/verification.py`` writes ``docs/measured.rst``."""

    def record(line: str) -> None:
        print(line)
        request.node.user_properties.append(("measured", line))

    return record


def compose_config(*overrides: str):
    """Compose ``config.yaml`` with overrides, as the CLI would (without running)."""
    with initialize_config_module(config_module="potpyri.conf", version_base="1.3"):
        return compose(config_name="config", overrides=list(overrides))


from tests.demo_night import reduced_demo  # noqa: E402, F401  (a session fixture)
from tests.nickel_night import nickel_night  # noqa: E402, F401  (a session fixture)

"""A catalog service that times out or answers garbage: retried with back-off, never cached, one
clear error.

The fake service replaces astroquery's own query methods (the network boundary); the catalog
layer above it (retries, checks, cache, parser) is the production code.
"""

from __future__ import annotations

import importlib
from pathlib import Path

import pytest
from astropy.table import Table
from astroquery.exceptions import TableParseError
from astroquery.utils import TableList
from astroquery.vizier.core import VizierClass
from requests.exceptions import ReadTimeout

from potpyri.catalogs import CatalogUnavailable, query

pytestmark = pytest.mark.fault("bad input")

# The module (the package re-exports its function under the same name).
query_module = importlib.import_module("potpyri.catalogs.query")

#: a hand-written answer in the column set of VizieR II/349/ps1 (not recorded from the service)
HAND_WRITTEN = Path(__file__).resolve().parents[1] / "data" / "catalogs" / "ps1_dr1.ecsv"


class FakeVizier:
    """Answers queued replies (an exception is raised, anything else returned) and counts calls."""

    def __init__(self, replies: list) -> None:
        self.replies = list(replies)
        self.calls = 0

    def __call__(self, coordinates, radius=None, catalog=None, **kwargs):
        self.calls += 1
        reply = self.replies.pop(0)
        if isinstance(reply, BaseException):
            raise reply
        return reply


@pytest.fixture
def sleeps(monkeypatch):
    """The back-off delays asked for (not slept: the suite must stay fast)."""
    asked: list[float] = []
    monkeypatch.setattr(query_module.time, "sleep", asked.append)
    return asked


def _service(monkeypatch, replies: list) -> FakeVizier:
    fake = FakeVizier(replies)
    monkeypatch.setattr(
        VizierClass, "query_region", lambda self, *args, **kwargs: fake(*args, **kwargs)
    )
    return fake


def _answer(table: Table) -> TableList:
    return TableList({"II/349/ps1": table})


GARBAGE = {
    "timeout": ReadTimeout("HTTPSConnectionPool(host='vizier.cds.unistra.fr'): Read timed out."),
    "html_error_page": TableParseError(
        "Failed to parse VizieR result! The raw response can be found in self.response"
    ),
    "wrong_columns": _answer(Table({"foo": [1.0], "bar": [2.0]})),
    "non_numeric_values": "non_numeric",  # built in the test from the hand-written answer
    "not_a_table": "<html><body>503 Service Unavailable</body></html>",
}


@pytest.mark.parametrize("fault", sorted(GARBAGE))
def test_failing_service_is_retried_then_refused_clearly(monkeypatch, tmp_path, sleeps, fault):
    reply = GARBAGE[fault]
    if fault == "non_numeric_values":
        bad = Table.read(HAND_WRITTEN, format="ascii.ecsv")
        bad["RAJ2000"] = bad["RAJ2000"].astype(str)
        bad["RAJ2000"][0] = "n/a"
        reply = _answer(bad)
    fake = _service(monkeypatch, [reply] * 3)
    with pytest.raises(CatalogUnavailable) as caught:
        query("ps1", 150.0, 2.0, 0.05, cache_dir=tmp_path)
    message = str(caught.value)
    assert message.startswith(
        "ps1: no usable answer from the service for the cone ra=150.00000 dec=+2.00000"
    )
    assert "after 3 attempts" in message and "\n" not in message
    assert fake.calls == 3 and sleeps == [2.0, 4.0]  # exponential back-off
    assert not list(tmp_path.rglob("*.ecsv"))  # nothing cached: a later query asks again


def test_a_timeout_then_a_good_answer_is_used_and_cached(monkeypatch, tmp_path, sleeps):
    good = Table.read(HAND_WRITTEN, format="ascii.ecsv")
    fake = _service(monkeypatch, [GARBAGE["timeout"], _answer(Table({"x": [1]})), _answer(good)])
    table = query("ps1", 150.0, 2.0, 0.05, cache_dir=tmp_path)
    assert fake.calls == 3 and sleeps == [2.0, 4.0]
    assert len(table) == len(good) and {"source_id", "ra", "dec", "r_mag"} <= set(table.colnames)
    assert len(list(tmp_path.rglob("*.ecsv"))) == 1
    again = query("ps1", 150.0, 2.0, 0.05, cache_dir=tmp_path)  # from the cache: no call
    assert fake.calls == 3 and list(again["source_id"]) == list(table["source_id"])


def test_an_empty_field_is_an_answer_not_an_error(monkeypatch, tmp_path, sleeps):
    """VizieR answers an empty TableList when no source lies in the cone."""
    fake = _service(monkeypatch, [TableList({})])
    table = query("ps1", 10.0, -80.0, 0.01, cache_dir=tmp_path)
    assert len(table) == 0 and {"source_id", "ra", "dec", "g_mag", "g_err"} <= set(table.colnames)
    assert fake.calls == 1 and sleeps == []
    assert len(query("ps1", 10.0, -80.0, 0.01, cache_dir=tmp_path, offline=True)) == 0

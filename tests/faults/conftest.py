"""The fault suite: every test's raw/ hashed before and after, cases counted per fault class.

Tests declare their fault class with ``pytestmark = pytest.mark.fault("<class>")``; each test (each
parametrized case) is one case tried. At the end of the session a table gives, per class, the cases
tried and passed, with the raw folders hashed and the products compared.
"""

from __future__ import annotations

from collections import Counter

import pytest

from tests.faults.ledger import CLASSES, LEDGER, check_raw

_TRIED: Counter = Counter()
_PASSED: Counter = Counter()
_CLASS_OF: dict[str, str] = {}
_CALL_PASSED: set[str] = set()


def pytest_configure(config):
    config.addinivalue_line("markers", "fault(kind): the fault class a fault-suite test exercises")


def pytest_collection_modifyitems(config, items):
    for item in items:
        marker = item.get_closest_marker("fault")
        if marker is not None:
            kind = marker.args[0]
            if kind not in CLASSES:
                raise pytest.UsageError(f"{item.nodeid}: unknown fault class {kind!r}")
            _CLASS_OF[item.nodeid] = kind


def pytest_runtest_logreport(report):
    kind = _CLASS_OF.get(report.nodeid)
    if kind is None:
        return
    if report.when == "call" or (report.when == "setup" and not report.passed):
        _TRIED[kind] += 1
        _PASSED[kind] += report.passed
        if report.passed:
            _CALL_PASSED.add(report.nodeid)
    elif report.when == "teardown" and not report.passed and report.nodeid in _CALL_PASSED:
        _PASSED[kind] -= 1  # the raw check failed after the test itself passed


@pytest.fixture(autouse=True)
def _raw_unchanged():
    """Every raw/ folder watched (module nights and the test's own) is unchanged after the test."""
    before = set(LEDGER.raw_dirs)
    yield
    changed = {}
    for raw in list(LEDGER.raw_dirs):
        diff = check_raw(raw, forget=raw not in before)
        if diff:
            changed[str(raw)] = diff
    assert not changed, f"raw files changed: {changed}"


def pytest_terminal_summary(terminalreporter):
    if not _TRIED:
        return
    write = terminalreporter.write_line
    write("")
    write("fault suite (issue #9): cases tried per fault class")
    write(f"  {'class':<20}{'tried':>7}{'passed':>8}")
    for kind in CLASSES:
        write(f"  {kind:<20}{_TRIED[kind]:>7}{_PASSED[kind]:>8}")
    write(f"  {'total':<20}{sum(_TRIED.values()):>7}{sum(_PASSED.values()):>8}")
    write(
        f"  raw folders hashed before/after: {LEDGER.raw_checked} checks of "
        f"{LEDGER.raw_files_checked} files; raw files changed: {LEDGER.raw_files_changed}"
    )
    write(
        f"  products compared with an undisturbed run: {LEDGER.products_compared}; "
        f"lost or different: {LEDGER.products_lost}"
    )
    for case, done, total in LEDGER.interrupted:
        write(f"  {case}: signalled with {done}/{total} task products complete; resumed identical")

"""The fault suite: every test's raw/ hashed before and after, cases counted per fault class.

Tests declare their fault class with ``pytestmark = pytest.mark.fault("<class>")`` (silent
failures also their issue-#18 item: ``fault("silent failures", item=3)``); each test (each
parametrized case) is one case tried. At the end of the session a table gives, per class, the cases
tried and passed, with the raw folders hashed and the products compared.
"""

from __future__ import annotations

from collections import Counter

import pytest

from tests.faults.ledger import CLASSES, LEDGER, SILENT_FAILURES, check_raw

_TRIED: Counter = Counter()
_ITEM_TRIED: Counter = Counter()
_ITEM_PASSED: Counter = Counter()
_ITEM_OF: dict[str, int] = {}
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
            number = marker.kwargs.get("item")
            if kind == "silent failures" and number not in SILENT_FAILURES:
                raise pytest.UsageError(f"{item.nodeid}: silent failure without a valid item=")
            if number is not None:
                _ITEM_OF[item.nodeid] = number


def pytest_runtest_logreport(report):
    kind = _CLASS_OF.get(report.nodeid)
    if kind is None:
        return
    if report.when == "call" or (report.when == "setup" and not report.passed):
        _TRIED[kind] += 1
        _PASSED[kind] += report.passed
        number = _ITEM_OF.get(report.nodeid)
        if number is not None:
            _ITEM_TRIED[number] += 1
            _ITEM_PASSED[number] += report.passed
        if report.passed:
            _CALL_PASSED.add(report.nodeid)
    elif report.when == "teardown" and not report.passed and report.nodeid in _CALL_PASSED:
        _PASSED[kind] -= 1  # the raw check failed after the test itself passed
        if report.nodeid in _ITEM_OF:
            _ITEM_PASSED[_ITEM_OF[report.nodeid]] -= 1


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
    if _ITEM_TRIED:
        write("silent failures (issue #18): cases tried and passed per item")
        for number, what in SILENT_FAILURES.items():
            write(f"  {number:>2} {what:<52}{_ITEM_TRIED[number]:>5}{_ITEM_PASSED[number]:>6}")
    for case, done, total in LEDGER.interrupted:
        write(f"  {case}: signalled with {done}/{total} task products complete; resumed identical")

"""The fault suite covers every silent failure of issue #18: each item has a test marked with it."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

from tests.faults.ledger import SILENT_FAILURES

pytestmark = pytest.mark.fault("bad input")


def _marked_items() -> set[int]:
    """Item numbers of every ``fault("silent failures", item=n)`` mark in tests/faults."""
    items = set()
    for path in Path(__file__).parent.glob("test_*.py"):
        for node in ast.walk(ast.parse(path.read_text())):
            if (
                isinstance(node, ast.Call)
                and getattr(node.func, "attr", "") == "fault"
                and node.args
                and getattr(node.args[0], "value", None) == "silent failures"
            ):
                items |= {k.value.value for k in node.keywords if k.arg == "item"}
    return items


def test_every_silent_failure_item_has_a_fault_test():
    missing = sorted(set(SILENT_FAILURES) - _marked_items())
    assert not missing, f"issue #18 items without a fault-suite test: {missing}"

"""docs/verification.rst names real tests, and says rightly whether CI runs each (CI leaves out
the tests marked ``slow``): its CI column reads ``CI``, ``slow``, or ``some: ...`` where some of a
test's parameters are marked slow."""

from __future__ import annotations

import ast
import importlib.util
import json
import re
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
PAGE = ROOT / "docs" / "verification.rst"
#: ``tests/x/test_y.py::test_z`` as the page writes it.
TEST_REF = re.compile(r"``(tests/[\w/]+\.py)::(\w+)``")


def _rows(text: str) -> list[list[str]]:
    """The cells of every list-table row of the page (header rows included): a row starts at
    ``   * - ``, a cell at ``     - ``, and a deeper-indented line continues the cell."""
    rows: list[list[str]] = []
    for line in text.splitlines():
        if line.startswith("   * - "):
            rows.append([line[7:].strip()])
        elif line.startswith("     - ") and rows:
            rows[-1].append(line[7:].strip())
        elif line.startswith("     -") and not line.strip("- ") and rows:
            rows[-1].append("")  # an empty cell
        elif line.startswith("       ") and rows:
            rows[-1][-1] += " " + line.strip()
    return rows


def _functions(path: Path) -> dict[str, str]:
    """Test functions of a module -> ``'slow'`` (marked by decorator or ``pytestmark``),
    ``'some'`` (some parameters marked slow) or ``'CI'``."""
    tree = ast.parse(path.read_text())
    assigned = {
        target.id: ast.unparse(node.value)
        for node in tree.body
        if isinstance(node, ast.Assign)
        for target in node.targets
        if isinstance(target, ast.Name)
    }
    module_slow = "mark.slow" in assigned.get("pytestmark", "")
    marks = {}
    for node in ast.walk(tree):
        if not (isinstance(node, ast.FunctionDef) and node.name.startswith("test")):
            continue
        decorators = [ast.unparse(d) for d in node.decorator_list]
        params = [
            assigned.get(arg.id, "")
            for d in node.decorator_list
            if isinstance(d, ast.Call) and "parametrize" in ast.unparse(d.func)
            for arg in d.args
            if isinstance(arg, ast.Name)
        ]
        if module_slow or any(d.endswith("mark.slow") for d in decorators):
            marks[node.name] = "slow"
        elif any("mark.slow" in text for text in decorators + params):
            marks[node.name] = "some"
        else:
            marks[node.name] = "CI"
    return marks


def _named_tests() -> list[tuple[str, str, str]]:
    """(file, function, CI column) of every test the page's tables name."""
    named = []
    for row in _rows(PAGE.read_text()):
        if row[2] == "test":  # a header row
            continue
        for path, function in TEST_REF.findall(row[2]):
            named.append((path, function, row[3]))
    return named


def test_every_test_named_exists_and_its_ci_column_is_right():
    named = _named_tests()
    assert len(named) >= 30, named
    problems = []
    for path, function, ci in named:
        if not (ROOT / path).is_file():
            problems.append(f"{path}: no such file")
            continue
        functions = _functions(ROOT / path)
        if function not in functions:
            problems.append(f"{path}::{function}: no such test")
        elif ci.split(":")[0] != functions[function]:
            problems.append(
                f"{path}::{function}: the page says {ci!r}, it is {functions[function]}"
            )
    assert not problems, problems


def test_every_row_has_five_cells_and_the_page_is_in_the_toctree():
    rows = _rows(PAGE.read_text())
    assert rows and all(len(r) == 5 for r in rows), [r for r in rows if len(r) != 5]
    assert "   verification\n" in (ROOT / "docs" / "index.rst").read_text()


def test_slow_truth_checks_are_all_listed():
    """A test marked slow in the truth-check folders appears on the page (a claim left out of CI
    is said to be)."""
    listed = {(path, function) for path, function, _ in _named_tests()}
    missing = []
    for folder in ("astrometry", "photometry", "stacking"):
        for path in sorted((ROOT / "tests" / folder).glob("test_*.py")):
            rel = str(path.relative_to(ROOT))
            for function, mark in _functions(path).items():
                if mark != "CI" and (rel, function) not in listed:
                    missing.append(f"{rel}::{function}")
    assert not missing, missing


def _verification_script():
    spec = importlib.util.spec_from_file_location(
        "verification", ROOT / "benchmarks" / "verification.py"
    )
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_the_script_reads_what_tests_measured_from_pytests_junit_report(tmp_path):
    """benchmarks/verification.py reads outcomes and ``measured`` lines from a real JUnit report
    of pytest (recorded as the ``measured`` fixture records them), and renders them as RST."""
    (tmp_path / "test_x.py").write_text(
        "import pytest\n"
        "def test_ok(record_property):\n"
        "    record_property('measured', 'RMS 0.031 px')\n"
        "def test_bad(record_property):\n"
        "    record_property('measured', 'diff +0.0200')\n"
        "    assert False\n"
        "@pytest.mark.xfail(strict=True, reason='known')\n"
        "def test_known():\n"
        "    assert False\n"
    )
    junit = tmp_path / "junit.xml"
    subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "test_x.py"]
        + [f"--junitxml={junit}", "-o", "junit_family=xunit1"],
        cwd=tmp_path,
        capture_output=True,
        check=False,
    )
    script = _verification_script()
    cases = {c["test"]: c for c in script.outcomes(junit)}
    assert cases["test_x.py::test_ok"] == {
        "test": "test_x.py::test_ok",
        "outcome": "passed",
        "measured": ["RMS 0.031 px"],
    }
    assert cases["test_x.py::test_bad"]["outcome"] == "failed"
    assert cases["test_x.py::test_bad"]["measured"] == ["diff +0.0200"]
    assert cases["test_x.py::test_known"]["outcome"] == "xfail"
    report = {"commit": "abc1234", "measured": "now", "seconds": 12.0, "argv": []}
    text = script.measured_rst({**report, "cases": list(cases.values())})
    assert "commit abc1234" in text and "``python benchmarks/verification.py``" in text
    assert "   * - ``test_x.py::test_ok``\n     - passed\n     - | ``RMS 0.031 px``" in text


@pytest.mark.skipif(
    not (ROOT / "benchmarks" / "VERIFICATION.json").is_file(),
    reason="not measured yet: python benchmarks/verification.py writes VERIFICATION.json",
)
def test_every_ci_test_of_the_page_has_its_last_measurement():
    """The published measurements cover every CI test the page names (re-run the script when a
    row is added)."""
    report = json.loads((ROOT / "benchmarks" / "VERIFICATION.json").read_text())
    run = {case["test"].split("[")[0] for case in report["cases"]}
    missing = [
        f"{path}::{function}"
        for path, function, ci in _named_tests()
        if ci != "slow" and f"{path}::{function}" not in run
    ]
    assert not missing, missing

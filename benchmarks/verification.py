"""Run the accuracy tests that ``docs/verification.rst`` names and keep what they measured.

One command (from a clone with ``pip install -e .[test]``)::

    python benchmarks/verification.py            # the page's CI tests (about 20 minutes, 2 cores)
    python benchmarks/verification.py --slow     # and its slow ones

Each test reports its figures through the ``measured`` fixture (``tests/conftest.py``), which
pytest keeps as properties of the test in its JUnit XML. This script writes them, with every
test's outcome, the commit measured and the command, to ``benchmarks/VERIFICATION.json``; the
docs render that file as the "last measured" table of ``docs/verification.rst``. The file is
written only here, from one run: never edit it by hand.
"""

from __future__ import annotations

import argparse
import json
import re
import subprocess
import sys
import tempfile
import time
import xml.etree.ElementTree as ET
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
PAGE = ROOT / "docs" / "verification.rst"
PUBLISHED = HERE / "VERIFICATION.json"
#: ``tests/x/test_y.py::test_z`` as the page writes it.
TEST_REF = re.compile(r"``(tests/[\w/]+\.py::\w+)``")


def page_tests(page: Path = PAGE) -> list[str]:
    """The tests the page names (``file::function``), in page order, each once."""
    return list(dict.fromkeys(TEST_REF.findall(page.read_text())))


def outcomes(junit_xml: Path) -> list[dict[str, Any]]:
    """Each test case of a JUnit XML report: its id, outcome and the lines it measured."""
    cases = []
    for case in ET.parse(junit_xml).getroot().iter("testcase"):
        module = case.get("classname", "").replace(".", "/") + ".py"
        if case.find("failure") is not None or case.find("error") is not None:
            outcome = "failed"
        elif (skipped := case.find("skipped")) is not None:
            outcome = "xfail" if skipped.get("type") == "pytest.xfail" else "skipped"
        else:
            outcome = "passed"
        lines = [
            prop.get("value", "")
            for prop in case.iter("property")
            if prop.get("name") == "measured"
        ]
        test = f"{module}::{case.get('name')}"
        cases.append({"test": test, "outcome": outcome, "measured": lines})
    return cases


def measured_rst(report: dict[str, Any]) -> str:
    """The report as reStructuredText: a line naming the run, then one table row per test."""
    command = " ".join(["python benchmarks/verification.py", *report["argv"]])
    out = [
        f"Written by ``benchmarks/verification.py`` from one run: commit {report['commit']}, "
        f"{report['measured']}, {report['seconds']:.0f} s, ``{command}``.",
        "",
        ".. list-table::",
        "   :header-rows: 1",
        "   :widths: 40 8 52",
        "",
        "   * - test",
        "     - outcome",
        "     - measured",
    ]
    for case in report["cases"]:
        out += [f"   * - ``{case['test']}``", f"     - {case['outcome']}"]
        lines = [line.strip() for line in case["measured"] if line.strip()]
        if not lines:
            out.append("     -")
        for i, line in enumerate(lines):
            out.append(f"{'     - ' if i == 0 else '       '}| ``{line}``")
    return "\n".join(out) + "\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--slow", action="store_true", help="run the page's slow tests too")
    parser.add_argument("--workers", type=int, default=2, help="pytest-xdist workers (2)")
    args = parser.parse_args(argv)
    sys.path.insert(0, str(HERE))
    from run import git_commit

    commit = git_commit()
    with tempfile.TemporaryDirectory() as tmp:
        junit = Path(tmp) / "junit.xml"
        command = [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider"]
        command += ["-n", str(args.workers), f"--junitxml={junit}", "-o", "junit_family=xunit1"]
        command += [] if args.slow else ["-m", "not slow"]
        start = time.monotonic()
        subprocess.run([*command, *page_tests()], cwd=ROOT, check=False)
        seconds = time.monotonic() - start
        cases = outcomes(junit)
    report = {
        "commit": commit,
        "measured": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()),
        "seconds": seconds,
        "argv": list(sys.argv[1:] if argv is None else argv),
        "cases": sorted(cases, key=lambda c: c["test"]),
    }
    PUBLISHED.write_text(json.dumps(report, indent=1) + "\n")
    failed = [c["test"] for c in cases if c["outcome"] == "failed"]
    print(f"wrote {PUBLISHED}: {len(cases)} tests, {len(failed)} failed")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())

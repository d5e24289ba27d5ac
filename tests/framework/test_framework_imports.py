"""The framework is generic: of potpyri it imports only itself (and the package's version)."""

from __future__ import annotations

import ast
from pathlib import Path

FRAMEWORK = Path(__file__).resolve().parents[2] / "potpyri" / "framework"


def _imports(path: Path) -> set[str]:
    names = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            names |= {alias.name for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            names.add(node.module)
    return names


def test_the_framework_imports_only_itself_of_potpyri():
    outside = {
        f"{path.name}: {name}"
        for path in sorted(FRAMEWORK.glob("*.py"))
        for name in _imports(path)
        if name.startswith("potpyri.") and not name.startswith("potpyri.framework")
    }
    assert not outside, sorted(outside)

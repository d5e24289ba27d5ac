"""The package layout's rules, read from the source: who may import whom.

The folders show the architecture (docs/architecture.rst): the step framework knows no astronomy,
the science packages know no framework, steps never import each other, and no module imports
itself back through a circle.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
SCIENCE = ("instruments", "calibration", "astrometry", "stacking", "photometry", "catalogs", "qa")


def _module_name(path: Path) -> str:
    rel = path.relative_to(ROOT).with_suffix("")
    parts = list(rel.parts)
    if parts[0] == "steps":
        parts = ["potpyri", *parts]
    if parts[-1] == "__init__":
        parts = parts[:-1]
    return ".".join(parts)


def _sources() -> dict[str, Path]:
    files = [*ROOT.joinpath("potpyri").rglob("*.py"), *ROOT.joinpath("steps").glob("*.py")]
    return {_module_name(p): p for p in files}


MODULES = _sources()


def _imports(name: str, path: Path) -> set[str]:
    """Every potpyri module that ``name`` imports, at module level or inside a function."""
    found: set[str] = set()
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            targets = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package.split(".")[: len(package.split(".")) - node.level + 1]
                base = ".".join([*anchor, base] if base else anchor)
            targets = [f"{base}.{alias.name}" for alias in node.names] + [base]
        else:
            continue
        for target in targets:
            # the longest known module that the imported name lies in
            while target and target not in MODULES:
                target = target.rpartition(".")[0]
            if target and target != name:
                found.add(target)
    return found


GRAPH = {name: _imports(name, path) for name, path in MODULES.items()}


def _layer(module: str) -> str:
    parts = module.split(".")
    return parts[1] if len(parts) > 1 else ""


def _violations(rule) -> list[str]:
    return sorted(f"{a} imports {b}" for a, deps in GRAPH.items() for b in deps if rule(a, b))


def test_steps_never_import_steps():
    def rule(a, b):
        return _layer(a) == "steps" == _layer(b) and b != "potpyri.steps" and a != "potpyri.steps"

    assert _violations(rule) == []


def test_framework_knows_no_astronomy_and_no_step():
    forbidden = {"steps", "stepkit", "sim", "schema", "cli", *SCIENCE}
    assert _violations(lambda a, b: _layer(a) == "framework" and _layer(b) in forbidden) == []


def test_science_does_not_depend_on_the_framework():
    forbidden = {"framework", "stepkit", "steps", "schema", "cli", "sim"}
    assert _violations(lambda a, b: _layer(a) in SCIENCE and _layer(b) in forbidden) == []


def test_only_the_simulator_and_the_demo_command_import_the_simulator():
    def rule(a, b):
        return _layer(b) == "sim" and _layer(a) != "sim" and a != "potpyri.cli"

    assert _violations(rule) == []


def _cycles() -> list[list[str]]:
    """Strongly connected components with more than one module (Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []

    def visit(v: str) -> None:
        index[v] = low[v] = len(index)
        stack.append(v)
        on_stack.add(v)
        for w in GRAPH.get(v, ()):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on_stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            component = []
            while True:
                w = stack.pop()
                on_stack.discard(w)
                component.append(w)
                if w == v:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    for v in sorted(GRAPH):
        if v not in index:
            visit(v)
    return found


def test_no_import_circles():
    # A package __init__ that imports its own submodules is not a circle of logic: leave it out.
    def real(cycle):
        return [m for m in cycle if not any(m == c.rpartition(".")[0] for c in cycle)]

    assert [c for c in _cycles() if len(real(c)) > 1] == []


STEP_MODULES = sorted(n for n in MODULES if _layer(n) == "steps" and n != "potpyri.steps")


@pytest.mark.parametrize("name", STEP_MODULES)
def test_step_modules_stay_short(name):
    """A step declares and calls the science code: one or two screens."""
    lines = [ln for ln in MODULES[name].read_text().splitlines() if ln.strip()]
    assert len(lines) <= 160, f"{name}: {len(lines)} non-blank lines"

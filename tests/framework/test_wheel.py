"""The built wheel holds one namespace and composes its config from outside the source tree."""

from __future__ import annotations

import subprocess
import sys
import zipfile
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]


def _source_packages() -> set[str]:
    """Every package of the source tree as installed: each folder with an ``__init__.py`` under
    potpyri/, plus conf/ and steps/ as potpyri.conf and potpyri.steps."""
    found = {
        ".".join(init.parent.relative_to(REPO).parts)
        for init in (REPO / "potpyri").rglob("__init__.py")
    }
    return found | {"potpyri.conf", "potpyri.steps"}


def _pip(*args: str) -> None:
    subprocess.run([sys.executable, "-m", "pip", *args], check=True, capture_output=True, text=True)


def _wheel_packages(names: list[str]) -> set[str]:
    return {".".join(n.split("/")[:-1]) for n in names if n.endswith("/__init__.py")}


def test_wheel_installs_one_namespace_and_composes(tmp_path):
    _pip("wheel", "--no-deps", "--no-build-isolation", "-q", "-w", str(tmp_path), str(REPO))
    (wheel,) = tmp_path.glob("potpyri-*.whl")
    names = zipfile.ZipFile(wheel).namelist()
    tops = {n.split("/")[0] for n in names if not n.split("/")[0].endswith((".dist-info", ".data"))}
    assert tops == {"potpyri"}  # no top-level `steps` or `conf`
    missing = _source_packages() - _wheel_packages(names)
    assert not missing, f"packages not in the wheel; add them to pyproject.toml: {sorted(missing)}"
    assert "potpyri/conf/config.yaml" in names and "potpyri/conf/instrument/gmos.yaml" in names
    assert "potpyri/steps/stack.py" in names
    site = tmp_path / "site"
    _pip("install", "--no-deps", "-q", "--target", str(site), str(wheel))
    # Run from an empty folder with the installed copy first on sys.path, never the source tree.
    code = (
        f"import sys; sys.path.insert(0, {str(site)!r}); import potpyri; "
        f"assert potpyri.__file__.startswith({str(site)!r}), potpyri.__file__; "
        "sys.argv = ['potpyri', '--cfg', 'job', 'instrument=imacs', 'data_path=X', "
        "'stack.method=mean']; "
        "from potpyri.cli import main; main()"
    )
    workdir = tmp_path / "elsewhere"
    workdir.mkdir()
    proc = subprocess.run([sys.executable, "-c", code], cwd=workdir, capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr
    assert "method: mean" in proc.stdout and "name: IMACS" in proc.stdout

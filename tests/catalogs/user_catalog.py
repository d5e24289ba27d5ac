"""Reducing a simulated night with the field's catalog handed in as a user's file (catalog.file).

Reusable for any night: :func:`cached_catalog` takes the night's own cached survey answer in
standard columns, :func:`write_user_catalog` writes a table under a user's column names (and in
Vega if asked), and :func:`reduce_with_catalog` runs the pipeline with that file, the column
mapping given as the command-line overrides a user would type.
"""

from __future__ import annotations

from pathlib import Path

from astropy.table import Table

from potpyri.catalogs import parse
from potpyri.catalogs.magsys import VEGA_TO_AB
from potpyri.pipeline import check_catalog_file, run_pipeline, validate
from potpyri.sim.formats.base import FORMATS
from tests.conftest import compose_config

_FORMATS = {".csv": "ascii.csv", ".ecsv": "ascii.ecsv", ".fits": "fits"}


def cached_catalog(night_path: Path, catalog: str) -> Table:
    """The night's cached ``catalog`` answer (the simulator's, in the service's own columns) in
    standard columns: ``ra``, ``dec`` (deg), ``<band>_mag``/``<band>_err`` (AB)."""
    (path,) = sorted((Path(night_path) / "catalog_cache" / catalog).glob("*.ecsv"))
    return parse(catalog, Table.read(path, format="ascii.ecsv"))


def write_user_catalog(
    table: Table, path: Path, columns: dict[str, str], *, vega: dict[str, str] | None = None
) -> Path:
    """Write the ``columns`` of ``table`` (standard name -> the file's name) to ``path`` (format
    from the suffix). ``vega``: standard magnitude column -> Vega band (``{"V_mag": "V"}``),
    converted from AB with the one table of :mod:`potpyri.catalogs.magsys`."""
    out = Table()
    for standard, name in columns.items():
        out[name] = table[standard]
        if vega and standard in vega:
            out[name] = out[name] - VEGA_TO_AB[vega[standard]]
    out.write(path, format=_FORMATS[Path(path).suffix], overwrite=True)
    return Path(path)


def file_overrides(path: Path, columns: dict[str, str], magsys: str = "AB") -> list[str]:
    """The command-line overrides that hand ``path`` in with its column names: ``columns`` maps
    standard names (ra, dec, <band>_mag, <band>_err) to the file's."""
    args = [f"catalog.file={path}", f"catalog.magsys={magsys}"]
    for standard, name in columns.items():
        if standard in ("ra", "dec"):
            args.append(f"catalog.columns.{standard}={name}")
        elif standard.endswith(("_mag", "_err")):
            band, kind = standard.rsplit("_", 1)
            args.append(f"+catalog.columns.{'mag' if kind == 'mag' else 'err'}.{band}={name}")
    return args


def reduce_with_catalog(
    night_path: Path,
    table: Table,
    columns: dict[str, str],
    *overrides: str,
    fmt: str,
    steps: str,
    name: str = "field_catalog.csv",
    vega: dict[str, str] | None = None,
):
    """Write ``table`` as the user's catalog ``name`` in ``night_path`` under the ``columns``
    names (in Vega for the magnitude columns ``vega`` names), check it as the command line does,
    and reduce the night through ``steps`` with it (offline). Returns the run result."""
    path = write_user_catalog(table, Path(night_path) / name, columns, vega=vega)
    cfg = compose_config(
        f"instrument={FORMATS[fmt].instrument}",
        f"data_path={night_path}",
        f"pipeline.steps={steps}",
        f"catalog.cache_dir={Path(night_path) / 'catalog_cache'}",
        "catalog.offline=true",
        *file_overrides(path, columns, "Vega" if vega else "AB"),
        *overrides,
    )
    validate(cfg)
    check_catalog_file(cfg)
    return run_pipeline(cfg)

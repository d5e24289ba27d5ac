"""The root config schema, generated from the step registry, and its Hydra registration.

Importing this module registers ``potpyri_schema`` in Hydra's ConfigStore and the ``potpyri.*``
resolvers, so anything that composes a potpyri config (the CLI, tests, a notebook) imports it.
"""

from __future__ import annotations

import enum
import sys
from dataclasses import dataclass, field
from importlib.resources import files
from pathlib import Path
from typing import Any

from hydra.core.config_store import ConfigStore
from omegaconf import MISSING, OmegaConf

import potpyri.steps  # noqa: F401  (registers every built-in step)
from potpyri.catalogs.user_file import CatalogUse, MagSys
from potpyri.framework.config import root_schema
from potpyri.framework.step import STEPS
from potpyri.instruments.schema import InstrumentConfig

__all__ = [
    "CacheConfig",
    "CatalogColumns",
    "CatalogConfig",
    "ExecutorConfig",
    "ExecutorKind",
    "PipelineConfig",
    "PotpyriConfig",
    "RUN_KEYS",
    "StepName",
    "instrument_names",
    "red_path",
]

#: The registered steps as an Enum, so OmegaConf rejects unknown names in step lists.
StepName = enum.Enum("StepName", {name: name for name in sorted(STEPS)}, type=str)
StepName.__module__ = __name__


class ExecutorKind(str, enum.Enum):
    """How per-frame tasks are run."""

    serial = "serial"
    processes = "processes"
    dask = "dask"


@dataclass
class PipelineConfig:
    """Ordered step lists; ``steps`` (when set) wins over the list for the instrument's regime."""

    optical: list[StepName] = field(default_factory=list)  #: steps for optical instruments
    nir: list[StepName] = field(default_factory=list)  #: steps for near-infrared instruments
    steps: list[StepName] | None = None  #: explicit step list for this run


@dataclass
class ExecutorConfig:
    """Where per-frame tasks run."""

    kind: ExecutorKind = ExecutorKind.serial  #: serial, processes or dask
    workers: int = 0  #: worker processes (processes, dask LocalCluster); 0 = one per core
    threads: int = 0  #: threads of compiled code (OpenMP, BLAS) per worker; 0 = cores / workers
    address: str | None = None  #: dask scheduler (tcp://host:8786); none = start a LocalCluster
    measure_memory: bool = False  #: reset the peak-RSS counter per task (benchmarks; Linux)


@dataclass
class CacheConfig:
    """The content-addressed product cache."""

    enabled: bool = True  #: reuse products whose inputs and config are unchanged
    dir: str | None = None  #: cache location; default data_path/red/cache
    unpack_raw: bool = True  #: keep decompressed copies of .bz2/.gz raw files (decompress once)


@dataclass
class CatalogColumns:
    """Column names of a user's catalog file; unset ones are looked up under common spellings
    (ra, RA, RAJ2000, RA_ICRS, RAdeg...; <band>_mag, <band>mag; <band>_err, e_<band>mag...)."""

    ra: str | None = None  #: right ascension column, deg
    dec: str | None = None  #: declination column, deg
    pmra: str | None = None  #: proper motion in RA (times cos dec) column, mas/yr
    pmdec: str | None = None  #: proper motion in Dec column, mas/yr
    id: str | None = None  #: star name column
    #: band or filter name -> magnitude column (+catalog.columns.mag.V=Vmag)
    mag: dict[str, str] = field(default_factory=dict)
    #: band or filter name -> magnitude error column (0.02 mag assumed where there is none)
    err: dict[str, str] = field(default_factory=dict)


@dataclass
class CatalogConfig:
    """Reference catalogs, and a user's own catalog file."""

    offline: bool = False  #: never query services; use the on-disk cache only
    #: catalog cache; default data_path/catalog_cache if it exists, else $POTPYRI_CATALOG_CACHE
    #: or ~/.cache/potpyri/catalogs
    cache_dir: str | None = None
    #: a user's catalog (.fits, .ecsv, .csv) replacing Gaia and the surveys (see catalog.use)
    file: str | None = None
    columns: CatalogColumns = field(default_factory=CatalogColumns)  #: the file's column names
    magsys: MagSys = MagSys.AB  #: the file's magnitude system: AB or Vega (converted to AB)
    epoch: float | None = None  #: epoch of the file's positions, decimal year (with pmra/pmdec)
    #: what the file serves: [astrometry, zeropoint]; unset = both, zero point where it has the band
    use: list[CatalogUse] | None = None


_FIXED_FIELDS: list[tuple[str, Any, Any]] = [
    ("data_path", str, field(default=MISSING)),
    ("instrument", InstrumentConfig, field(default=MISSING)),
    ("target", str | None, field(default=None)),
    ("pipeline", PipelineConfig, field(default_factory=PipelineConfig)),
    ("executor", ExecutorConfig, field(default_factory=ExecutorConfig)),
    ("cache", CacheConfig, field(default_factory=CacheConfig)),
    ("catalog", CatalogConfig, field(default_factory=CatalogConfig)),
]

#: Root keys that are not step nodes.
RUN_KEYS = tuple(name for name, _, _ in _FIXED_FIELDS)


PotpyriConfig = root_schema("PotpyriConfig", __name__, _FIXED_FIELDS, STEPS)
ConfigStore.instance().store(name="potpyri_schema", node=PotpyriConfig)


def red_path(sub: str, *, _root_: Any) -> str:
    """Resolver ``${potpyri.red:X}``: ``<data_path>/red/X``; one clean line if data_path is
    missing."""
    data_path = OmegaConf.select(_root_, "data_path", throw_on_missing=False)
    if data_path is None or OmegaConf.is_missing(_root_, "data_path"):
        sys.exit(
            "potpyri: error: data_path is required, e.g. potpyri instrument=gmos data_path=./run"
        )
    return str(Path(str(data_path)).expanduser().absolute() / "red" / sub)


OmegaConf.register_new_resolver("potpyri.red", red_path, replace=True)


def instrument_names() -> list[str]:
    """Instruments with a YAML in the installed ``potpyri.conf/instrument`` folder."""
    folder = files("potpyri.conf").joinpath("instrument")
    return sorted(p.name[:-5] for p in folder.iterdir() if p.name.endswith(".yaml"))

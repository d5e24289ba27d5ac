"""The reference pages of the docs: the framework's generators given potpyri's registry and schema.

``docs/conf.py`` writes these to ``docs/_generated/``; each config field's meaning is written once,
as the ``#:`` comment on the field.
"""

from __future__ import annotations

from importlib.resources import files

from omegaconf import OmegaConf

from potpyri.framework import docgen
from potpyri.framework.docgen import FieldDoc
from potpyri.framework.step import STEPS
from potpyri.instruments.schema import InstrumentConfig
from potpyri.schema import CacheConfig, CatalogConfig, ExecutorConfig, PipelineConfig

__all__ = ["run_config_rst", "steps_rst"]


def steps_rst() -> str:
    """RST for every registered step, in the default optical then near-infrared order."""
    conf = OmegaConf.create(files("potpyri.conf").joinpath("pipeline/default.yaml").read_text())
    orders = [
        ("optical", "optical", list(conf.optical)),
        ("near-infrared", "NIR", list(conf.nir)),
    ]
    return docgen.steps_rst(STEPS, orders)


def run_config_rst() -> str:
    """RST for the run-wide config nodes (pipeline, executor, cache, catalog) and instruments."""
    fixed = [
        FieldDoc(
            "data_path", "str", "(required)", "folder holding raw/; products go to data_path/red"
        ),
        FieldDoc(
            "target", "str or null", "null", "only reduce targets whose name contains this string"
        ),
    ]
    nodes = [
        ("Pipeline", PipelineConfig, "pipeline."),
        ("Executor", ExecutorConfig, "executor."),
        ("Cache", CacheConfig, "cache."),
        ("Catalogs", CatalogConfig, "catalog."),
        ("Instrument", InstrumentConfig, "instrument."),
    ]
    return docgen.run_config_rst(fixed, nodes)

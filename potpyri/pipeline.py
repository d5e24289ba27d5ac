"""The potpyri pipeline: the generic step framework given potpyri's schema, steps and readers.

This is where the framework meets the astronomy: which steps run for an instrument's regime,
the checks a config must pass (the framework's own, plus a known instrument and raw reader), and
the raw-file reader every step gets from ``context.reader()``.
"""

from __future__ import annotations

import copy
import enum
import functools
import logging
from pathlib import Path
from typing import Any

from omegaconf import DictConfig, OmegaConf

from potpyri.catalogs.cache import run_cache_dir
from potpyri.catalogs.user_file import UserCatalogError, check_user_catalog, legacy_settings
from potpyri.framework import recipe, runner
from potpyri.framework.config import print_warning, rename_overrides
from potpyri.framework.step import STEPS
from potpyri.framework.validate import ConfigError, check_config
from potpyri.instruments import Reader, get_reader
from potpyri.instruments.science_frames import science_frames
from potpyri.schema import RUN_KEYS, PotpyriConfig, instrument_names

__all__ = [
    "ConfigError",
    "check_catalog_file",
    "check_data_path",
    "check_recipe",
    "make_reader",
    "rename_args",
    "run_pipeline",
    "step_list",
    "validate",
    "with_catalog_cache",
]

log = logging.getLogger("potpyri")


def step_list(cfg: DictConfig) -> list[str]:
    """The ordered step names for this run: ``pipeline.steps`` or the instrument regime's list."""
    if cfg.pipeline.steps is not None:
        names = cfg.pipeline.steps
    else:
        regime = _plain(cfg.instrument.wavelength)
        names = cfg.pipeline.nir if regime == "NIR" else cfg.pipeline.optical
    return [_plain(n) for n in names]


def _plain(value: Any) -> Any:
    return value.value if isinstance(value, enum.Enum) else value


def validate(cfg: DictConfig) -> None:
    """Refuse a config that cannot run, before any work, with a one-line :class:`ConfigError`.

    The instrument must be given and its reader registered; the rest is
    :func:`potpyri.framework.validate.check_config` (missing values, unknown keys, step list).
    """
    if OmegaConf.is_missing(cfg, "instrument"):
        raise ConfigError(
            f"no instrument given: add instrument=NAME ({', '.join(instrument_names())})"
        )
    check_config(cfg, PotpyriConfig, step_list(cfg))
    try:
        get_reader(cfg.instrument.reader)
    except ValueError as exc:
        raise ConfigError(str(exc)) from None


def check_data_path(cfg: DictConfig) -> Path:
    """The run's ``data_path``, refused with a one-line :class:`ConfigError` naming it unless it
    is a folder holding ``raw/``: a mistyped path must not get a ``red/`` tree of its own."""
    data_path = Path(str(cfg.data_path)).expanduser()
    if not data_path.is_dir():
        raise ConfigError(f"data_path={cfg.data_path}: no such folder")
    if not (data_path / "raw").is_dir():
        raise ConfigError(
            f"data_path={cfg.data_path}: no raw/ folder in it (raw files go in DATA_PATH/raw)"
        )
    return data_path


def check_catalog_file(cfg: DictConfig) -> None:
    """Refuse a user's catalog file (``catalog.file``, or the deprecated
    ``zeropoint.catalog_file``) that cannot serve the run, with one line naming the file and the
    missing column or bad value; the filters it must calibrate are the night's science filters
    (read from the raw headers) when the run calibrates."""
    legacy = OmegaConf.select(cfg, "zeropoint.catalog_file")
    if legacy:
        _warn_once(
            f"zeropoint.catalog_file is deprecated: use catalog.file={legacy} "
            "(read now as catalog.file with catalog.use=[zeropoint])"
        )
    settings = legacy_settings(cfg.catalog, legacy)
    if not settings.get("file"):
        return
    filters = science_filters(cfg) if "zeropoint" in step_list(cfg) else []
    try:
        check_user_catalog(settings, filters)
    except UserCatalogError as exc:
        raise ConfigError(str(exc)) from None


@functools.cache
def _warn_once(message: str) -> None:
    print_warning(message)


def science_filters(cfg: DictConfig) -> list[str]:
    """The filters of the science frames in ``data_path/raw`` that ingest would reduce (headers
    only; unreadable files are left to ingest to report)."""
    raw = Path(str(cfg.data_path)).expanduser() / "raw"
    stats = {p.name: p.stat() for p in sorted(raw.iterdir())}
    listing = tuple((name, s.st_size, s.st_mtime_ns) for name, s in stats.items())
    choice = [OmegaConf.select(cfg, k) for k in ("ingest.proc", "ingest.include_bad", "target")]
    key = (str(raw), cfg.instrument.name, repr(choice), listing)
    if key not in _SCIENCE_FILTERS:  # the pre-flight check and the job then read headers once
        reader = make_reader(cfg.instrument, None)
        frames = science_frames(cfg, reader, [])
        _SCIENCE_FILTERS[key] = sorted({f.meta["filter"] for f in frames if f.meta["filter"]})
    return _SCIENCE_FILTERS[key]


#: science_filters' answers by raw folder, its files' sizes and times, and the frame choice.
_SCIENCE_FILTERS: dict[tuple, list[str]] = {}


def make_reader(instrument: Any, unpacked: Path | None) -> Reader:
    """The raw-file reader the instrument node names (the steps' ``context.reader()``)."""
    return get_reader(instrument.reader)(instrument, unpacked)


def run_pipeline(
    cfg: DictConfig,
    *,
    publish_root: Path | None = None,
    recipe_yaml: str | None = None,
    show_progress: bool = False,
) -> runner.RunResult:
    """Run the steps of a validated config (see :func:`potpyri.framework.runner.run_pipeline`);
    a ``data_path`` that is no folder holding ``raw/`` is refused first (:func:`check_data_path`),
    before anything is written."""
    check_data_path(cfg)
    return runner.run_pipeline(
        with_catalog_cache(cfg),
        step_list(cfg),
        reader_factory=make_reader,
        publish_root=publish_root,
        recipe_yaml=recipe_yaml,
        show_progress=show_progress,
    )


def with_catalog_cache(cfg: DictConfig) -> DictConfig:
    """A copy of ``cfg`` whose ``catalog.cache_dir`` names the cache every step will use
    (:func:`potpyri.catalogs.run_cache_dir`), said once in the log. The recipe keeps what the
    user gave: the night's own ``catalog_cache/`` is found again wherever the night is carried."""
    folder, why = run_cache_dir(cfg.catalog.cache_dir, cfg.data_path)
    log.info("catalog cache: %s (%s)", folder, why)
    out = copy.deepcopy(cfg)
    out.catalog.cache_dir = str(folder)
    return out


def check_recipe(text: str, source: str) -> str:
    """A shared recipe checked against the schema (see
    :func:`potpyri.framework.recipe.check_recipe`); old names of renamed keys are warned about."""
    return recipe.check_recipe(text, source, RUN_KEYS)


def rename_args(args: list[str]) -> list[str]:
    """Command-line overrides with old names of renamed keys replaced, each warned about."""
    return rename_overrides(args, STEPS)

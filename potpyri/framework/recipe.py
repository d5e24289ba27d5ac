"""Recipes: the resolved config of a run, written beside its log and into its products.

A recipe re-runs with ``potpyri --recipe recipe.yaml`` (or ``--recipe-from stack.fits``). A recipe
from someone else is untrusted input: it may set values of the schema only — never Hydra settings,
``_target_`` import paths, or ``${...}`` interpolations that read the environment or files.
"""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path
from typing import Any

import yaml
from omegaconf import DictConfig, OmegaConf

from potpyri.framework.config import Warn, print_warning, rename_mapping
from potpyri.framework.step import STEPS
from potpyri.framework.validate import ConfigError

__all__ = ["PATH_KEYS", "RECIPE_HEADER", "check_recipe", "night_of", "recipe_text"]

#: What every recipe starts with: the shared Hydra settings and the package's search path.
RECIPE_HEADER: dict[str, Any] = {
    "defaults": ["potpyri_base", "_self_"],
    "hydra": {"searchpath": ["pkg://potpyri.conf"]},
}


#: Config keys that hold paths. A recipe holds no machine paths: it writes these relative to
#: ``data_path`` when they lie inside it, and leaves them out (the replaying machine's default)
#: otherwise; a replay reads a relative value against its own ``data_path``.
PATH_KEYS = ("catalog.cache_dir", "catalog.file", "cache.dir")


def recipe_text(cfg: DictConfig) -> str:
    """The resolved, self-contained recipe of a run, free of machine paths: ``data_path`` is left
    out (a replay takes it from the command line or from the night the recipe lies in) and the
    :data:`PATH_KEYS` are written relative to it, or left out when outside it."""
    body = OmegaConf.to_container(cfg, resolve=True, enum_to_str=True)
    data_path = Path(body.pop("data_path")).expanduser().absolute()
    for key in PATH_KEYS:
        group, _, name = key.partition(".")
        node = body.get(group)
        if not isinstance(node, dict) or node.get(name) is None:
            continue
        path = Path(str(node[name])).expanduser().absolute()
        node[name] = str(path.relative_to(data_path)) if path.is_relative_to(data_path) else None
    return yaml.safe_dump({**RECIPE_HEADER, **body}, sort_keys=False)


def night_of(path: Path) -> Path | None:
    """The night a recipe file or product lies in: the nearest folder above it holding
    ``raw/`` (``DATA/red/log/<time>/recipe.yaml`` -> ``DATA``), or None."""
    for folder in Path(path).absolute().parents:
        if (folder / "raw").is_dir():
            return folder
    return None


def check_recipe(
    text: str, source: str, run_keys: Iterable[str], warn: Warn = print_warning
) -> str:
    """Refuse anything in a shared recipe beyond plain values of the schema.

    ``run_keys`` are the root keys besides the registered steps. Old names of renamed step keys
    move to the new names, each with one ``warn`` line. Returns the recipe re-serialised with
    the standard header, ready to compose.

    Raises
    ------
    ConfigError
        Naming the file and the offending key.
    """
    try:
        # Anchors and aliases let a few lines expand into billions of nodes: a recipe has no use
        # for them (the recipes potpyri writes never contain any).
        if any(
            isinstance(t, yaml.AnchorToken | yaml.AliasToken)
            for t in yaml.scan(text, Loader=yaml.SafeLoader)
        ):
            raise ConfigError(
                f"{source}: YAML anchors and aliases (&name, *name) are not allowed in a recipe"
            )
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        raise ConfigError(f"{source}: not valid YAML ({str(exc).splitlines()[0]})") from None
    if not isinstance(data, dict):
        raise ConfigError(f"{source}: a recipe must be a YAML mapping")
    defaults = data.pop("defaults", RECIPE_HEADER["defaults"])
    if defaults != RECIPE_HEADER["defaults"]:
        raise ConfigError(
            f"{source}: 'defaults' may only be {RECIPE_HEADER['defaults']}, got {defaults}"
        )
    hydra = data.pop("hydra", RECIPE_HEADER["hydra"])
    if hydra != RECIPE_HEADER["hydra"]:
        raise ConfigError(f"{source}: Hydra settings are not allowed in a recipe (key 'hydra')")
    allowed = set(run_keys) | set(STEPS)
    for key in data:
        if key not in allowed:
            raise ConfigError(
                f"{source}: unknown key {key!r}; a recipe may name registered steps only"
            )
    _refuse_code(data, source, "")
    try:
        data = rename_mapping(data, STEPS, warn)
    except ValueError as exc:
        raise ConfigError(f"{source}: {exc}") from None
    _paths_from_data_path(data)
    return yaml.safe_dump({**RECIPE_HEADER, **data}, sort_keys=False)


def _paths_from_data_path(data: dict[str, Any]) -> None:
    """Relative :data:`PATH_KEYS` of a recipe are relative to the replay's ``data_path`` (the
    interpolation is ours, added after the check that refuses them in the recipe's text)."""
    for key in PATH_KEYS:
        group, _, name = key.partition(".")
        node = data.get(group)
        if isinstance(node, dict) and isinstance(node.get(name), str):
            value = node[name]
            if not Path(value).expanduser().is_absolute():
                node[name] = "${data_path}/" + value


def _refuse_code(node: Any, source: str, prefix: str) -> None:
    if isinstance(node, dict):
        for key, value in node.items():
            name = f"{prefix}{key}"
            if str(key) in ("_target_", "_partial_", "_args_", "_recursive_", "_convert_"):
                raise ConfigError(
                    f"{source}: '{key}' at {name} is not allowed; recipes cannot import code"
                )
            _refuse_code(value, source, f"{name}.")
    elif isinstance(node, list):
        for n, value in enumerate(node):
            _refuse_code(value, source, f"{prefix}[{n}].")
    elif isinstance(node, str) and "${" in node:
        raise ConfigError(
            f"{source}: interpolation {node!r} at {prefix.rstrip('.')} is not allowed in a recipe"
        )

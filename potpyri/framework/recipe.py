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

__all__ = ["RECIPE_HEADER", "check_recipe", "recipe_text"]

#: What every recipe starts with: the shared Hydra settings and the package's search path.
RECIPE_HEADER: dict[str, Any] = {
    "defaults": ["potpyri_base", "_self_"],
    "hydra": {"searchpath": ["pkg://potpyri.conf"]},
}


def recipe_text(cfg: DictConfig) -> str:
    """The resolved, self-contained recipe of a run (data_path made absolute)."""
    body = OmegaConf.to_container(cfg, resolve=True, enum_to_str=True)
    body["data_path"] = str(Path(body["data_path"]).expanduser().absolute())
    return yaml.safe_dump({**RECIPE_HEADER, **body}, sort_keys=False)


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
    return yaml.safe_dump({**RECIPE_HEADER, **data}, sort_keys=False)


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

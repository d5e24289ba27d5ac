"""Checks a composed config must pass before any work starts, each failing with one line."""

from __future__ import annotations

import dataclasses
import typing
from collections import Counter

from omegaconf import DictConfig, OmegaConf

from potpyri.framework.step import STEPS

__all__ = ["ConfigError", "check_config", "unknown_keys"]


class ConfigError(ValueError):
    """A config that cannot run; the message is one line naming the key."""


def check_config(cfg: DictConfig, schema: type, names: list[str]) -> None:
    """Refuse a config that cannot run, before any work.

    Checks: missing mandatory values, keys ``schema`` (the root config dataclass) does not know
    (``+key=`` typos bypass OmegaConf's struct mode), and the step list ``names`` (unknown,
    duplicated, or with a deleted node).

    Raises
    ------
    ConfigError
        With a one-line message naming the key.
    """
    missing = sorted(OmegaConf.missing_keys(cfg))
    if missing:
        raise ConfigError(f"missing required config value: {', '.join(missing)}")
    unknown = unknown_keys(cfg, schema)
    if unknown:
        raise ConfigError(
            f"unknown config key: {', '.join(unknown)} (a typo, or a `+key=` override?)"
        )
    twice = sorted(n for n, c in Counter(names).items() if c > 1)
    if twice:
        raise ConfigError(f"pipeline lists step(s) twice: {', '.join(twice)}")
    for name in names:
        if name not in STEPS:
            raise ConfigError(
                f"pipeline names unknown step {name!r} (known: {', '.join(sorted(STEPS))})"
            )
        if name not in cfg:
            raise ConfigError(
                f"pipeline lists {name!r} but its config node was deleted; use {name}.enabled=false"
            )


def unknown_keys(cfg: DictConfig, schema: type) -> list[str]:
    """Dotted keys present in ``cfg`` that the root config dataclass ``schema`` does not declare."""
    found: list[str] = []
    _walk(cfg, schema, "", found)
    return sorted(found)


def _walk(node: DictConfig, schema: type, prefix: str, found: list[str]) -> None:
    all_hints = typing.get_type_hints(schema)  # class variables too (``renamed``): not keys
    hints = {f.name: all_hints[f.name] for f in dataclasses.fields(schema)}
    for key in node:
        name = f"{prefix}{key}"
        if key not in hints:
            found.extend(_leaves(node._get_node(key), name))
            continue
        child_type = _dataclass_of(hints[key])
        if child_type is not None and not OmegaConf.is_missing(node, key):
            child = node._get_node(key)
            if isinstance(child, DictConfig):
                _walk(child, child_type, f"{name}.", found)


def _leaves(node: typing.Any, name: str) -> list[str]:
    if isinstance(node, DictConfig) and len(node):
        return [leaf for key in node for leaf in _leaves(node._get_node(key), f"{name}.{key}")]
    return [name]


def _dataclass_of(hint: typing.Any) -> type | None:
    if dataclasses.is_dataclass(hint):
        return hint
    for arg in typing.get_args(hint):
        if dataclasses.is_dataclass(arg):
            return arg
    return None

"""Checks a composed config must pass before any work starts, each failing with one line."""

from __future__ import annotations

import dataclasses
import typing
from collections import Counter

from omegaconf import DictConfig, OmegaConf

from potpyri.framework.runner import step_list
from potpyri.framework.step import STEPS
from potpyri.instruments import READERS
from potpyri.schema import PotpyriConfig, instrument_names

__all__ = ["ConfigError", "unknown_keys", "validate"]


class ConfigError(ValueError):
    """A config that cannot run; the message is one line naming the key."""


def validate(cfg: DictConfig) -> None:
    """Refuse a config that cannot run, before any work.

    Checks: missing mandatory values, keys the schema does not know (``+key=`` typos bypass
    OmegaConf's struct mode), the step list (unknown, duplicated, or with a deleted node), and
    that the instrument's reader is a registered class.

    Raises
    ------
    ConfigError
        With a one-line message naming the key.
    """
    if OmegaConf.is_missing(cfg, "instrument"):
        raise ConfigError(
            f"no instrument given: add instrument=NAME ({', '.join(instrument_names())})"
        )
    missing = sorted(OmegaConf.missing_keys(cfg))
    if missing:
        raise ConfigError(f"missing required config value: {', '.join(missing)}")
    unknown = unknown_keys(cfg)
    if unknown:
        raise ConfigError(
            f"unknown config key: {', '.join(unknown)} (a typo, or a `+key=` override?)"
        )
    names = step_list(cfg)
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
    reader = cfg.instrument.reader
    if reader not in READERS:
        raise ConfigError(
            f"instrument.reader={reader!r} is not a registered reader (known: {', '.join(sorted(READERS))})"
        )


def unknown_keys(cfg: DictConfig) -> list[str]:
    """Dotted keys present in ``cfg`` that the schema does not declare."""
    found: list[str] = []
    _walk(cfg, PotpyriConfig, "", found)
    return sorted(found)


def _walk(node: DictConfig, schema: type, prefix: str, found: list[str]) -> None:
    hints = typing.get_type_hints(schema)
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

"""Config machinery given a step registry: the root schema and renamed keys.

The root config is one dataclass whose fields are the run-wide nodes the application declares
plus one node per registered step. A step that renames a config field lists the old name in its
``Config.renamed`` (old -> new); command-line overrides and recipes that still use the old name
keep working for one release, with a one-line warning naming the new key.
"""

from __future__ import annotations

import re
import sys
from collections.abc import Callable, Iterable, Mapping
from dataclasses import field, make_dataclass
from typing import Any

from potpyri.framework.step import Step

__all__ = [
    "deprecated_key",
    "print_warning",
    "rename_mapping",
    "rename_overrides",
    "renamed_keys",
    "root_schema",
]

#: Called with the one-line message when an old key is used.
Warn = Callable[[str], None]


def root_schema(
    name: str, module: str, run_fields: list[tuple[str, Any, Any]], steps: Mapping[str, type[Step]]
) -> type:
    """The root config dataclass: ``run_fields`` (name, type, field) then one node per step.

    ``module`` is where the class is said to live, so that it pickles (multirun callbacks).
    """
    clash = set(steps) & {run_name for run_name, _, _ in run_fields}
    if clash:
        raise ValueError(f"step names clash with run-wide config keys: {sorted(clash)}")
    step_fields = [
        (step, steps[step].Config, field(default_factory=steps[step].Config))
        for step in sorted(steps)
    ]
    root = make_dataclass(name, run_fields + step_fields)
    root.__module__ = module
    root.__qualname__ = name
    return root


def renamed_keys(steps: Mapping[str, type[Step]]) -> dict[str, str]:
    """Every renamed config key as dotted names: ``{"align.match_radius": "align.match_...}``."""
    return {
        f"{name}.{old}": f"{name}.{new}"
        for name, cls in sorted(steps.items())
        for old, new in cls.Config.renamed.items()
    }


def deprecated_key(old: str, new: str) -> str:
    """The one-line message for a renamed key."""
    return f"{old} is deprecated; use {new}"


def print_warning(message: str) -> None:
    """Show ``message`` as one ``potpyri: warning:`` line on stderr (before logging is set up)."""
    print(f"potpyri: warning: {message}", file=sys.stderr)


#: A Hydra override: optional ``+``/``++``/``~``, the dotted key, optional ``@package``, value.
_OVERRIDE = re.compile(r"^(\+\+|\+|~)?([\w.]+)(@[\w.]*)?(=.*)?$", re.DOTALL)


def rename_overrides(
    args: Iterable[str], steps: Mapping[str, type[Step]], warn: Warn = print_warning
) -> list[str]:
    """Command-line arguments with old keys of overrides (sweeps too) replaced by the new keys."""
    renamed = renamed_keys(steps)
    out = []
    for arg in args:
        match = _OVERRIDE.match(arg)
        if match and match.group(2) in renamed:
            prefix, old, package, value = match.groups()
            new = renamed[old]
            warn(deprecated_key(old, new))
            arg = f"{prefix or ''}{new}{package or ''}{value or ''}"
        out.append(arg)
    return out


def rename_mapping(
    data: dict[str, Any], steps: Mapping[str, type[Step]], warn: Warn = print_warning
) -> dict[str, Any]:
    """A nested config mapping (a recipe) with old keys of step nodes moved to the new keys.

    A step node that sets both the old and the new name is refused: which one was meant?
    """
    out = dict(data)
    for name, node in data.items():
        cls = steps.get(name)
        if cls is None or not isinstance(node, dict) or not set(node) & set(cls.Config.renamed):
            continue
        moved: dict[str, Any] = {}
        for key, value in node.items():
            new = cls.Config.renamed.get(key)
            if new is None:
                moved[key] = value
                continue
            if new in node:
                raise ValueError(f"both {name}.{key} (deprecated) and {name}.{new} are set")
            warn(deprecated_key(f"{name}.{key}", f"{name}.{new}"))
            moved[new] = value
        out[name] = moved
    return out

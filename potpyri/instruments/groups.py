"""Calibration groups: which frames share a master, by their amplifier, binning and filter.

The group names are also the suffixes of the masters' file names (``mbias_{group}.fits``), so
every step that makes or looks up a master builds them here.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

__all__ = ["calibration_group", "filter_group", "sky_flat_group"]


def calibration_group(meta: Mapping[str, Any]) -> str:
    """``{amp}_{binning}``: the frames that share a master bias or dark."""
    return f"{meta['amp']}_{meta['binning']}"


def filter_group(meta: Mapping[str, Any]) -> str:
    """``{filter}_{amp}_{binning}``, blanks as ``_``: frames that share a flat or fringe frame."""
    return f"{meta['filter']}_{calibration_group(meta)}".replace(" ", "_")


def sky_flat_group(group: str, frame_id: str) -> str:
    """The group of the sky flat made for one frame of ``group`` (from the others)."""
    return f"{group}:{frame_id}"

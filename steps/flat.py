"""flat: normalised master flat per filter/amplifier/binning group (``red/cals/mflat_*``)."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from potpyri.calibration import Electrons, bad_pixels_from_flat
from potpyri.frames import read_master, subtract_dark
from potpyri.masks import BAD
from potpyri.master import MasterConfig, MasterStep, find_master
from potpyri.step import Item, Task, register_step

__all__ = ["Flat"]


@register_step("flat")
class Flat(MasterStep):
    """Bias- and dark-subtracted flats, each scaled by its median, combined and normalised to 1."""

    @dataclass
    class Config(MasterConfig):
        method: str = "median"
        low: float = 0.5  #: pixels responding below this fraction are flagged bad
        high: float = 1.5  #: pixels responding above this factor are flagged bad

    version = "1"
    kind = "FLAT"
    prefix = "mflat"
    normalise = True

    def references(self, task: Task, items: list[Item]) -> list[Item]:
        first = task.inputs[0].meta
        caltype = f"{first['amp']}_{first['binning']}"
        found = [find_master(items, "bias", caltype), find_master(items, "dark", caltype, float(first["exp"]))]
        return [f for f in found if f is not None]

    def prepare(self, exposure: Electrons, item: Item, task: Task) -> Electrons:
        for ref in task.refs:
            master = read_master(ref)
            if ref.meta["cal"] == "bias":
                exposure = Electrons(exposure.data - master.data, exposure.variance + master.variance)
            else:
                exposure = subtract_dark(exposure, master, ref.meta, float(item.meta["exp"]))
        return exposure

    def finish(self, value: np.ndarray, stddev: np.ndarray, task: Task) -> tuple[np.ndarray, dict]:
        bad = bad_pixels_from_flat(value, self.config.low, self.config.high)
        return np.where(bad, BAD, 0).astype(np.uint8), {}

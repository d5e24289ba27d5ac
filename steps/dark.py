"""dark: master dark per amplifier/binning group and exposure time (``red/cals/mdark_*``)."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from potpyri.calibration.apply import read_master, subtract_bias
from potpyri.calibration.masks import BAD
from potpyri.calibration.masters import Electrons, hot_pixels_from_dark
from potpyri.framework.step import Item, Task, register_step
from potpyri.stepkit.master import MasterConfig, MasterStep, find_master

__all__ = ["Dark"]


@register_step("dark")
class Dark(MasterStep):
    """Bias-subtracted (where the instrument has biases) combination of darks of one exposure
    time."""

    @dataclass
    class Config(MasterConfig):
        hot_nsigma: float = 10.0  #: dark-current outliers above this many robust sigmas are flagged

    version = "2"
    kind = "DARK"
    prefix = "mdark"

    def group_key(self, item: Item) -> str:
        return f"{item.meta['caltype']}_{float(item.meta['exp']):g}s"

    def references(self, task: Task, items: list[Item]) -> list[Item]:
        bias = find_master(items, "bias", task.inputs[0].meta["caltype"])
        return [bias] if bias is not None else []

    def prepare(
        self, exposure: Electrons, item: Item, task: Task, warnings: list[str]
    ) -> Electrons:
        if task.refs:
            return subtract_bias(exposure, read_master(task.refs[0].path("image")))
        return exposure

    def finish(self, value: np.ndarray, stddev: np.ndarray, task: Task) -> tuple[np.ndarray, dict]:
        exptime = float(task.inputs[0].meta["exp"])
        rate = value / exptime if exptime > 0 else value
        hot = hot_pixels_from_dark(rate, self.config.hot_nsigma)
        return np.where(hot, BAD, 0).astype(np.uint8), {
            "exp": exptime,
            "bias_subtracted": bool(task.refs),
        }

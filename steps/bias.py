"""bias: master bias per amplifier/binning group (``red/cals/mbias_{amp}_{binning}.fits``)."""

from __future__ import annotations

from dataclasses import dataclass

import bottleneck as bn
import numpy as np

from potpyri.calibration.masks import BAD
from potpyri.framework.step import Task, register_step
from potpyri.stepkit.master import MasterConfig, MasterStep

__all__ = ["Bias"]


@register_step("bias")
class Bias(MasterStep):
    """Sigma-clipped combination of bias exposures; unstable pixels flagged in its MASK."""

    @dataclass
    class Config(MasterConfig):
        unstable_factor: float = 5.0  #: flag pixels whose scatter exceeds this × the median scatter

    version = "1"
    kind = "BIAS"
    prefix = "mbias"

    def finish(self, value: np.ndarray, stddev: np.ndarray, task: Task) -> tuple[np.ndarray, dict]:
        typical = float(bn.nanmedian(stddev))
        unstable = (
            stddev > self.config.unstable_factor * typical
            if typical > 0
            else np.zeros(value.shape, bool)
        )
        return np.where(unstable | ~np.isfinite(value), BAD, 0).astype(np.uint8), {}

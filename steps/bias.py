"""bias: master bias per amplifier/binning group (``red/cals/mbias_{amp}_{binning}.fits``)."""

from __future__ import annotations

from dataclasses import dataclass

import bottleneck as bn
import numpy as np

from potpyri.calibration.masks import BAD
from potpyri.calibration.masters import ExposureCube
from potpyri.calibration.read_noise import ReadNoise, amplifier_sections, measure_read_noise
from potpyri.framework.step import Task, register_step
from potpyri.stepkit.master import MasterConfig, MasterStep

__all__ = ["Bias"]


@register_step("bias")
class Bias(MasterStep):
    """Sigma-clipped combination of bias exposures; unstable pixels flagged in its MASK."""

    @dataclass
    class Config(MasterConfig):
        unstable_factor: float = 5.0  #: flag pixels whose scatter exceeds this × the median scatter
        #: measure the read noise per amplifier from pairs of biases and use it (instead of the
        #: configured value) for the master bias and every frame calibrated with it
        measure_read_noise: bool = True

    version = "2"
    kind = "BIAS"
    prefix = "mbias"

    def measure_noise(
        self, cube: ExposureCube, kept: list[int], layout: dict[str, np.ndarray]
    ) -> ReadNoise | None:
        """Read noise per amplifier from pairs of the good biases; the biases' errors (read noise
        only) are set to it before the sigma clipping, which a wrong configured value would turn
        into masked pixels."""
        if not self.config.measure_read_noise or len(kept) < 2 or cube.data is None:
            return None
        shape = cube.data.shape[1:]
        sections = amplifier_sections(layout["gain"], layout["rdnoise"], shape)
        measured = measure_read_noise([cube.data[k] for k in kept], sections, layout["rdnoise"])
        if measured is not None:
            noise_map = measured.noise_map(layout["rdnoise"], shape)
            for k in kept:
                cube.error[k] = noise_map
        return measured

    def finish(self, value: np.ndarray, stddev: np.ndarray, task: Task) -> tuple[np.ndarray, dict]:
        typical = float(bn.nanmedian(stddev))
        unstable = (
            stddev > self.config.unstable_factor * typical
            if typical > 0
            else np.zeros(value.shape, bool)
        )
        return np.where(unstable | ~np.isfinite(value), BAD, 0).astype(np.uint8), {}

"""process: raw frame -> SCI (electrons), MASK, UNCERT, through the instrument's raw reader.

This is the first pixel step: overscan and trimming by the reader, gain to electrons, saturation
and non-finite pixels masked, an uncertainty image from read noise and Poisson noise. Bias, dark and
flat correction join it as their calibration steps land.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from potpyri.instruments import get_reader
from potpyri.masks import BAD, SATURATED
from potpyri.naming import frame_filename
from potpyri.products import make_frame
from potpyri.step import Output, Product, Scope, Step, StepConfig, Task, register_step

__all__ = ["Process"]


@register_step("process")
class Process(Step):
    """Assemble a raw science frame into electrons with a mask and an uncertainty image."""

    @dataclass
    class Config(StepConfig):
        saturation_fraction: float = 1.0  #: flag pixels above this fraction of instrument.saturation

    version = "1"
    scope = Scope.frame
    depends_on = ("instrument",)

    def run(self, task: Task) -> list[Output]:
        item = task.inputs[0]
        instrument = self.context.instrument
        raw = get_reader(instrument.reader)(instrument).read(self.context.data_path / item.meta["raw"])
        adu = raw.data
        mask = np.zeros(adu.shape, dtype=np.uint8)
        mask[~np.isfinite(adu)] |= BAD
        mask[adu >= self.config.saturation_fraction * instrument.saturation] |= SATURATED
        electrons = np.nan_to_num(adu * raw.gain, nan=0.0).astype(np.float32)
        variance = np.clip(electrons, 0.0, None) + np.asarray(raw.rdnoise, dtype=np.float32) ** 2
        header = raw.header
        header["BUNIT"] = ("electron", "pixel unit")
        header["GAIN"] = (1.0, "e-/ADU after gain correction")
        name = frame_filename(item.meta, item.id)
        frame = make_frame(electrons, mask, np.sqrt(variance), header)
        return [Output(item.id, "frame", dict(item.meta), {"image": Product(name, frame, "workspace")})]

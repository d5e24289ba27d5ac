"""fringe: a fringe frame per filter/amplifier/binning from the night's science frames, fitted
and subtracted from each of them (red filters only: ``fringe.bands``;
:mod:`potpyri.calibration.fringe`)."""

from __future__ import annotations

from contextlib import ExitStack
from dataclasses import dataclass, field
from typing import ClassVar

import numpy as np
from astropy.io import fits

from potpyri.calibration.fringe import NoSkyLevel, fringe_pattern, fringe_residual, fringe_scale
from potpyri.framework.step import (
    Item,
    Output,
    PassedThrough,
    Product,
    Scope,
    Step,
    StepConfig,
    StepFailed,
    Task,
    register_step,
)
from potpyri.instruments.groups import filter_group
from potpyri.stepkit.frame_io import copy_hdus

__all__ = ["Fringe"]


@register_step("fringe")
class Fringe(Step):
    """Median of sky-normalised, source-masked frames minus their smooth sky; scaled per frame."""

    @dataclass
    class Config(StepConfig):
        renamed: ClassVar[dict[str, str]] = {"smooth": "smooth_px"}  # old -> new
        bands: list[str] = field(default_factory=lambda: ["z", "Z", "Y"])  #: fringing filters
        min_frames: int = 3  #: fewer frames cannot separate fringes from sources
        smooth_px: int = 65  #: median-filter size of the smooth sky removed before fitting
        source_nsigma: float = 3.0  #: pixels this far above the sky are masked as sources

    version = "1"
    scope = Scope.calgroup

    def select(self, items: list[Item]) -> list[Item]:
        bands = tuple(self.config.bands)
        return [i for i in super().select(items) if str(i.meta.get("filter", "")).startswith(bands)]

    def group_key(self, item: Item) -> str:
        return filter_group(item.meta)

    def run(self, task: Task) -> list[Output]:
        frames = task.inputs
        if len(frames) < self.config.min_frames:  # too few to make a fringe frame: frames go on
            raise PassedThrough(
                f"{len(frames)} frame(s), fewer than fringe.min_frames={self.config.min_frames}; "
                "frames passed on without fringe correction"
            )
        with ExitStack() as stack:
            hduls = [stack.enter_context(fits.open(f.path("image"))) for f in frames]
            try:
                residuals = [
                    fringe_residual(
                        h["SCI"].data.astype(np.float32),
                        h["MASK"].data,
                        self.config.smooth_px,
                        self.config.source_nsigma,
                    )
                    for h in hduls
                ]
            except NoSkyLevel as exc:
                raise StepFailed(str(exc)) from None
            pattern = fringe_pattern(residuals)
            outputs = []
            for item, hdul, (residual, _) in zip(frames, hduls, residuals, strict=True):
                scale = fringe_scale(pattern, residual)
                frame = copy_hdus(hdul)
                frame["SCI"].data = (frame["SCI"].data - scale * pattern).astype(np.float32)
                frame[0].header["FRINGSCL"] = (scale, "fringe frame scale subtracted, electrons")
                product = Product(item.path("image").name, frame, "workspace")
                outputs.append(Output(item.id, "frame", dict(item.meta), {"image": product}))
        name = f"mfringe_{task.id}.fits"
        pattern_hdus = fits.HDUList([fits.PrimaryHDU(pattern.astype(np.float32))])
        outputs.append(
            Output(
                f"mfringe_{task.id}",
                "calibration",
                {"cal": "fringe", "caltype": task.id, "file": name},
                {"image": Product(name, pattern_hdus, "cals")},
            )
        )
        return outputs

"""skysub: subtract a smooth 2-D background from each frame; keep it as ``*_bkg.fits``."""

from __future__ import annotations

import enum
from dataclasses import dataclass
from typing import ClassVar

import numpy as np
from astropy.io import fits

from potpyri.calibration.mesh_background import mesh_background
from potpyri.framework.step import Output, Product, Scope, Step, StepConfig, Task, register_step
from potpyri.stepkit.frame_io import read_product

__all__ = ["SkySub"]


class SkyMethod(str, enum.Enum):
    """How the background is modelled."""

    local = "local"  #: photutils Background2D on a mesh of boxes (sources clipped)


@register_step("skysub")
class SkySub(Step):
    """Mesh-based background (sigma-clipped medians, median-filtered, interpolated) subtracted,
    sources and their wings masked (:mod:`potpyri.calibration.mesh_background`)."""

    @dataclass
    class Config(StepConfig):
        renamed: ClassVar[dict[str, str]] = {  # old -> new
            "box_size": "box_size_px",
            "filter_size": "filter_size_boxes",
            "source_grow": "source_grow_px",
        }
        method: SkyMethod = SkyMethod.local  #: background model (reference --bkg-sub)
        box_size_px: int = 64  #: mesh box size
        filter_size_boxes: int = 3  #: median filter over boxes
        sigma: float = 3.0  #: clipping of sources inside each box
        source_nsigma: float = 3.0  #: sources (>= 5 px this far above a first background) masked
        source_grow_px: int = 8  #: source masks grown by this much (their wings)

    version = "2"
    scope = Scope.frame

    def run(self, task: Task) -> list[Output]:
        item = task.inputs[0]
        frame = read_product(item.path("image"))
        sci, mask = frame["SCI"].data, frame["MASK"].data
        background = mesh_background(
            sci,
            mask,
            self.config.box_size_px,
            self.config.filter_size_boxes,
            self.config.sigma,
            self.config.source_nsigma,
            self.config.source_grow_px,
        )
        frame["SCI"].data = (sci - background).astype(np.float32)
        frame[0].header["SKYSUB"] = (self.config.method.value, "background model subtracted")
        frame[0].header["SKYLEVEL"] = (float(np.median(background)), "median background, electrons")
        name = item.path("image").name
        bkg_name = name.removesuffix(".fits") + "_bkg.fits"
        meta = {**item.meta, "sky_e": float(np.median(background))}
        return [
            Output(
                item.id,
                "frame",
                meta,
                {
                    "image": Product(name, frame, "workspace"),
                    "background": Product(
                        bkg_name, fits.HDUList([fits.PrimaryHDU(background)]), "workspace"
                    ),
                },
            )
        ]

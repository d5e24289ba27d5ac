"""cosmic_rays: flag cosmic-ray hits in the frame's MASK (bit 2).

L.A.Cosmic (astroscrappy), then star cores unflagged and faint track pixels added
(:mod:`potpyri.calibration.cosmic_rays`).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

import numpy as np

from potpyri.calibration.cosmic_rays import detect_cosmic_rays
from potpyri.calibration.masks import COSMIC_RAY, grow
from potpyri.framework.step import Output, Product, Scope, Step, StepConfig, Task, register_step
from potpyri.stepkit.frame_io import read_product

__all__ = ["CosmicRays"]


@register_step("cosmic_rays")
class CosmicRays(Step):
    """Detect cosmic rays on the processed frame (electrons) and set mask bit 2."""

    @dataclass
    class Config(StepConfig):
        renamed: ClassVar[dict[str, str]] = {"grow": "grow_px"}  # old -> new
        sigclip: float = 4.5  #: Laplacian-to-noise detection limit
        sigfrac: float = 0.15  #: fraction of sigclip for neighbouring pixels
        objlim: float = 5.0  #: contrast limit between a CR and an underlying star
        niter: int = 4  #: iterations of detection and cleaning
        source_ring_nsig: float = 10.0  #: unflag groups whose 2-4 px ring is this far above sky
        tail_nsig: float = 2.0  #: add neighbours of hits this far above their local sky (tails)
        grow_px: int = 1  #: flag neighbours within this radius of a cosmic ray (mask bit 8)

    version = "4"
    scope = Scope.frame

    def run(self, task: Task) -> list[Output]:
        item = task.inputs[0]
        frame = read_product(item.path("image"))
        sci, mask, uncert = frame["SCI"].data, frame["MASK"].data, frame["UNCERT"].data
        # The image is in electrons; process recorded the read noise (electrons) in the header.
        readnoise = float(
            frame[0].header.get("RDNOISE", np.sqrt(max(np.nanpercentile(uncert**2, 1), 0.0)))
        )
        c = self.config
        crmask = detect_cosmic_rays(
            sci,
            mask > 0,
            uncert,
            readnoise,
            sigclip=c.sigclip,
            sigfrac=c.sigfrac,
            objlim=c.objlim,
            niter=c.niter,
            source_ring_nsig=c.source_ring_nsig,
            tail_nsig=c.tail_nsig,
        )
        frame["MASK"].data = grow(
            mask | np.where(crmask, COSMIC_RAY, 0).astype(np.uint8), self.config.grow_px, COSMIC_RAY
        )
        frame[0].header["NCRPIX"] = (int(crmask.sum()), "pixels flagged as cosmic rays")
        name = item.path("image").name
        return [
            Output(item.id, "frame", dict(item.meta), {"image": Product(name, frame, "workspace")})
        ]

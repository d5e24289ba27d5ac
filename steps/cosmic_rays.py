"""cosmic_rays: flag cosmic-ray hits with astroscrappy (L.A.Cosmic) in the frame's MASK."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from astropy.io import fits

from potpyri.masks import COSMIC_RAY, grow
from potpyri.step import Output, Product, Scope, Step, StepConfig, Task, register_step

__all__ = ["CosmicRays"]


@register_step("cosmic_rays")
class CosmicRays(Step):
    """Detect cosmic rays on the processed frame (electrons) and set mask bit 2."""

    @dataclass
    class Config(StepConfig):
        sigclip: float = 4.0  #: Laplacian-to-noise detection limit
        sigfrac: float = 0.3  #: fraction of sigclip for neighbouring pixels
        objlim: float = 5.0  #: contrast limit between a CR and an underlying star
        niter: int = 4  #: iterations of detection and cleaning
        grow: int = 1  #: flag neighbours within this radius of a cosmic ray (mask bit 8), pixels

    version = "3"
    scope = Scope.frame
    depends_on = ("instrument.saturation",)

    def run(self, task: Task) -> list[Output]:
        import astroscrappy

        item = task.inputs[0]
        with fits.open(item.path("image")) as hdul:
            frame = fits.HDUList([h.copy() for h in hdul])
        sci, mask, uncert = frame["SCI"].data, frame["MASK"].data, frame["UNCERT"].data
        # The image is in electrons; process recorded the read noise (electrons) in the header.
        readnoise = float(frame[0].header.get("RDNOISE", np.sqrt(max(np.nanpercentile(uncert**2, 1), 0.0))))
        crmask, _ = astroscrappy.detect_cosmics(
            sci, inmask=mask > 0, gain=1.0, readnoise=readnoise, satlevel=np.inf,
            sigclip=self.config.sigclip, sigfrac=self.config.sigfrac, objlim=self.config.objlim,
            niter=self.config.niter,
        )
        frame["MASK"].data = grow(mask | np.where(crmask, COSMIC_RAY, 0).astype(np.uint8), self.config.grow,
                                  COSMIC_RAY)
        frame[0].header["NCRPIX"] = (int(crmask.sum()), "pixels flagged as cosmic rays")
        name = item.path("image").name
        return [Output(item.id, "frame", dict(item.meta), {"image": Product(name, frame, "workspace")})]

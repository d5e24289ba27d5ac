"""nirsky: near-infrared sky frames from a target's own dithered exposures, subtracted.

For each frame, the sky is the median of the *other* frames of its target group, each scaled by
its own sky level, with sources masked (a source in one dither position is sky in another).
The sky is scaled to the frame's level and subtracted; each frame's sky is kept as ``*_sky.fits``.
"""

from __future__ import annotations

from contextlib import ExitStack
from dataclasses import dataclass

import bottleneck as bn
import numpy as np
from astropy.io import fits
from scipy import ndimage

from potpyri.masks import BAD
from potpyri.step import (
    Item,
    Output,
    Product,
    Scope,
    Step,
    StepConfig,
    StepFailed,
    Task,
    register_step,
)

__all__ = ["NirSky"]


@register_step("nirsky")
class NirSky(Step):
    """Running sky from dithered frames of the same target, sources masked."""

    @dataclass
    class Config(StepConfig):
        source_nsigma: float = 3.0  #: pixels this far above the sky are masked as sources
        dilate: int = 3  #: source masks are grown by this many pixels
        min_frames: int = 3  #: fewer frames in a group cannot make a sky (the group is set aside)

    version = "1"
    scope = Scope.target
    depends_on = ("instrument.wavelength",)

    def select(self, items: list[Item]) -> list[Item]:
        regime = getattr(self.context.instrument.wavelength, "value", self.context.instrument.wavelength)
        return super().select(items) if regime == "NIR" else []

    def run(self, task: Task) -> list[Output]:
        frames = task.inputs
        if len(frames) < self.config.min_frames:
            raise StepFailed(f"{task.id}: {len(frames)} frame(s), nirsky needs nirsky.min_frames="
                             f"{self.config.min_frames} dithered frames")
        with ExitStack() as stack:
            hduls = [stack.enter_context(fits.open(f.path("image"))) for f in frames]
            levels, normed = [], []
            for hdul in hduls:
                sci, mask = hdul["SCI"].data.astype(np.float32), hdul["MASK"].data
                level = float(bn.nanmedian(np.where(mask == 0, sci, np.nan)))
                if not level > 0:
                    raise StepFailed(f"{task.id}: a frame has no positive sky level to scale by")
                levels.append(level)
                normed.append(np.where(self._sources(sci, mask, level), np.nan, sci / level))
            cube = np.stack(normed)
            outputs = []
            for n, (item, hdul) in enumerate(zip(frames, hduls, strict=True)):
                others = np.delete(cube, n, axis=0)
                sky = bn.nanmedian(others, axis=0) * levels[n]
                frame = fits.HDUList([h.copy() for h in hdul])
                hole = ~np.isfinite(sky)
                frame["SCI"].data = np.where(hole, 0.0, frame["SCI"].data - sky).astype(np.float32)
                frame["MASK"].data = frame["MASK"].data | np.where(hole, BAD, 0).astype(np.uint8)
                frame[0].header["NIRSKY"] = (len(frames) - 1, "frames in the subtracted sky")
                name = item.path("image").name
                sky_product = fits.HDUList([fits.PrimaryHDU(np.nan_to_num(sky).astype(np.float32))])
                outputs.append(Output(item.id, "frame", {**item.meta, "sky_e": levels[n]}, {
                    "image": Product(name, frame, "workspace"),
                    "sky": Product(name.removesuffix(".fits") + "_sky.fits", sky_product, "workspace"),
                }))
        return outputs

    def _sources(self, sci: np.ndarray, mask: np.ndarray, level: float) -> np.ndarray:
        noise = 1.4826 * float(bn.nanmedian(np.abs(np.where(mask == 0, sci, np.nan) - level)))
        found = (sci > level + self.config.source_nsigma * noise) | (mask > 0)
        if self.config.dilate > 0:
            found = ndimage.binary_dilation(found, iterations=self.config.dilate)
        return found

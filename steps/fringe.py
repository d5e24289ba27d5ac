"""fringe: a fringe frame per filter/amplifier/binning from the night's science frames, fitted
and subtracted from each of them (red filters only: ``fringe.bands``)."""

from __future__ import annotations

from contextlib import ExitStack
from dataclasses import dataclass, field

import bottleneck as bn
import numpy as np
from astropy.io import fits
from scipy import ndimage

from potpyri.framework.step import (
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
from potpyri.stepkit.frame_io import copy_hdus

__all__ = ["Fringe"]


@register_step("fringe")
class Fringe(Step):
    """Median of sky-normalised, source-masked frames minus their smooth sky; scaled per frame."""

    @dataclass
    class Config(StepConfig):
        bands: list[str] = field(
            default_factory=lambda: ["z", "Z", "Y"]
        )  #: filters starting with these fringe
        min_frames: int = 3  #: fewer frames cannot separate fringes from sources
        smooth: int = 65  #: median-filter size for the smooth sky removed before fitting, pixels
        source_nsigma: float = 3.0  #: pixels this far above the sky are masked as sources

    version = "1"
    scope = Scope.calgroup

    def select(self, items: list[Item]) -> list[Item]:
        bands = tuple(self.config.bands)
        return [i for i in super().select(items) if str(i.meta.get("filter", "")).startswith(bands)]

    def group_key(self, item: Item) -> str:
        return f"{item.meta['filter']}_{item.meta['amp']}_{item.meta['binning']}".replace(" ", "_")

    def run(self, task: Task) -> list[Output]:
        frames = task.inputs
        if len(frames) < self.config.min_frames:
            raise StepFailed(
                f"fringe {task.id}: {len(frames)} frame(s), fewer than fringe.min_frames="
                f"{self.config.min_frames}; frames left uncorrected"
            )
        with ExitStack() as stack:
            hduls = [stack.enter_context(fits.open(f.path("image"))) for f in frames]
            residuals = [
                self._residual(h["SCI"].data.astype(np.float32), h["MASK"].data) for h in hduls
            ]
            pattern = bn.nanmedian(np.stack([r / s for r, s in residuals]), axis=0)
            pattern = np.nan_to_num(pattern - bn.nanmedian(pattern))
            outputs = []
            for item, hdul, (residual, _) in zip(frames, hduls, residuals, strict=True):
                good = np.isfinite(residual)
                scale = float(
                    (pattern[good] * residual[good]).sum() / max((pattern[good] ** 2).sum(), 1e-30)
                )
                frame = copy_hdus(hdul)
                frame["SCI"].data = (frame["SCI"].data - scale * pattern).astype(np.float32)
                frame[0].header["FRINGSCL"] = (scale, "fringe frame scale subtracted, electrons")
                outputs.append(
                    Output(
                        item.id,
                        "frame",
                        dict(item.meta),
                        {"image": Product(item.path("image").name, frame, "workspace")},
                    )
                )
        name = f"mfringe_{task.id}.fits"
        outputs.append(
            Output(
                f"mfringe_{task.id}",
                "calibration",
                {"cal": "fringe", "caltype": task.id, "file": name},
                {
                    "image": Product(
                        name, fits.HDUList([fits.PrimaryHDU(pattern.astype(np.float32))]), "cals"
                    )
                },
            )
        )
        return outputs

    def _residual(self, sci: np.ndarray, mask: np.ndarray) -> tuple[np.ndarray, float]:
        """Frame minus its smooth sky, sources and flagged pixels as NaN; and the sky level."""
        small = sci[::4, ::4]
        smooth = ndimage.zoom(
            ndimage.median_filter(small, size=max(3, self.config.smooth // 4)),
            (sci.shape[0] / small.shape[0], sci.shape[1] / small.shape[1]),
            order=1,
        )
        smooth = smooth[: sci.shape[0], : sci.shape[1]]
        residual = sci - smooth
        noise = 1.4826 * float(bn.nanmedian(np.abs(residual[mask == 0])))
        sources = ndimage.binary_dilation(
            residual > self.config.source_nsigma * noise, iterations=2
        )
        residual = np.where(sources | (mask > 0), np.nan, residual)
        level = float(bn.nanmedian(smooth))
        if not level > 0:
            raise StepFailed("fringe: a frame has no positive sky level")
        return residual, level

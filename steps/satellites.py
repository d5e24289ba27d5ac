"""satellites: find straight trails (satellites, aircraft) and flag them bad in the frame's MASK.

Pixels standing ``threshold`` noise levels above a local background, after removing compact
sources, vote in a Hough transform; a line with enough votes, as long as a good part of the
frame, is masked over ``width_px`` pixels on either side (:mod:`potpyri.calibration.trails`).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

import numpy as np

from potpyri.calibration.masks import BAD
from potpyri.calibration.trails import find_trails, trail_pixels
from potpyri.framework.step import Output, Product, Scope, Step, StepConfig, Task, register_step
from potpyri.stepkit.frame_io import read_product

__all__ = ["Satellites"]


@register_step("satellites")
class Satellites(Step):
    """Hough-transform detection of long straight trails; masked as bad pixels (bit 1)."""

    @dataclass
    class Config(StepConfig):
        renamed: ClassVar[dict[str, str]] = {  # old -> new
            "min_length": "min_length_fraction",
            "width": "width_px",
        }
        threshold: float = 2.0  #: pixels above this many noise levels vote
        min_length_fraction: float = 0.5  #: a trail crosses this much of the shorter side
        width_px: float = 6.0  #: pixels masked on either side of the trail's centre line
        max_trails: int = 3  #: at most this many trails per frame

    version = "1"
    scope = Scope.frame

    def run(self, task: Task) -> list[Output]:
        item = task.inputs[0]
        frame = read_product(item.path("image"))
        sci, mask = frame["SCI"].data, frame["MASK"].data
        c = self.config
        trails = find_trails(sci, mask, c.threshold, c.min_length_fraction, c.max_trails)
        flagged = trail_pixels(sci.shape, trails, c.width_px)
        frame["MASK"].data = mask | np.where(flagged, BAD, 0).astype(np.uint8)
        frame[0].header["NTRAILS"] = (len(trails), "satellite trails masked")
        if trails:
            self.log.info(
                "%s: %d trail(s) masked (%d pixels)", item.id, len(trails), int(flagged.sum())
            )
        product = Product(item.path("image").name, frame, "workspace")
        return [Output(item.id, "frame", dict(item.meta), {"image": product})]

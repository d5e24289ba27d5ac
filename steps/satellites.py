"""satellites: find straight trails (satellites, aircraft) and flag them bad in the frame's MASK.

Lines voted by pixels above a mask-aware local background are kept as trails when, measured along
their length, they are a ridge above the sky on both sides over a long stretch of the illuminated
area (not an edge, a masked column's neighbour or a one-pixel column defect); each is masked over
at least ``width_px`` pixels on either side (:mod:`potpyri.calibration.trails`).
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
        width_px: float = 6.0  #: least pixels masked on either side of the trail's centre line
        max_trails: int = 3  #: at most this many trails per frame
        edge_margin_px: int = 16  #: pixels this near the edges or a masked column do not vote

    version = "2"
    scope = Scope.frame

    def run(self, task: Task) -> list[Output]:
        item = task.inputs[0]
        frame = read_product(item.path("image"))
        sci, mask = frame["SCI"].data, frame["MASK"].data
        c = self.config
        trails = find_trails(
            sci,
            mask,
            c.threshold,
            c.min_length_fraction,
            c.max_trails,
            width_px=c.width_px,
            edge_margin_px=c.edge_margin_px,
        )
        flagged = trail_pixels(sci.shape, trails)
        frame["MASK"].data = mask | np.where(flagged, BAD, 0).astype(np.uint8)
        frame[0].header["NTRAILS"] = (len(trails), "satellite trails masked")
        for trail in trails:
            self.log.info(
                "%s: trail masked at %.1f deg, seen over %.0f px at %.1f noise levels, "
                "%.0f px on either side",
                item.id,
                np.rad2deg(trail.angle_rad) % 180.0 - 90.0,  # the line's direction, not its normal
                trail.length_px,
                trail.significance,
                trail.half_width_px,
            )
        product = Product(item.path("image").name, frame, "workspace")
        return [Output(item.id, "frame", dict(item.meta), {"image": product})]

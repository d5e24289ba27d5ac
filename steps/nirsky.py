"""nirsky: near-infrared sky frames from a target's own dithered exposures, subtracted.

For each frame, the sky is the median of the *other* frames of its target group, each scaled by
its own sky level, with sources masked (a source in one dither position is sky in another).
The sky is scaled to the frame's level and subtracted; each frame's sky is kept as ``*_sky.fits``.
When the frames were divided by different flats (the per-frame sky flats of ``flat``), the sky is
taken from the frames' counts before their flats and divided by the frame's own flat, so that no
other frame's flat (which holds this frame's star wings) enters this frame
(:mod:`potpyri.calibration.running_sky`).
"""

from __future__ import annotations

from contextlib import ExitStack
from dataclasses import dataclass
from typing import ClassVar

import numpy as np
from astropy.io import fits

from potpyri.calibration.running_sky import FlatsOnDisk, running_skies, subtract_sky
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
from potpyri.instruments.classify import is_near_infrared
from potpyri.stepkit.frame_io import copy_hdus
from potpyri.stepkit.master import frame_flat

__all__ = ["NirSky"]


@register_step("nirsky")
class NirSky(Step):
    """Running sky from dithered frames of the same target, sources masked."""

    @dataclass
    class Config(StepConfig):
        renamed: ClassVar[dict[str, str]] = {"dilate": "dilate_px"}  # old -> new
        source_nsigma: float = 3.0  #: pixels this far above the sky are masked as sources
        dilate_px: int = 3  #: source masks are grown by this many pixels
        #: fewer frames in a group cannot make a running sky: they go on with skysub's background
        min_frames: int = 3

    version = "3"
    scope = Scope.target
    depends_on = ("instrument.wavelength",)

    def select(self, items: list[Item]) -> list[Item]:
        return super().select(items) if is_near_infrared(self.context.instrument) else []

    def references(self, task: Task, items: list[Item]) -> list[Item]:
        """The flats the frames were divided by (each frame's own sky flat, else its group's)."""
        found = []
        for frame in task.inputs:
            flat = frame_flat(items, frame)
            if flat is not None and flat not in found:
                found.append(flat)
        return found

    def run(self, task: Task) -> list[Output]:
        frames = task.inputs
        if len(frames) < self.config.min_frames:
            raise PassedThrough(
                f"{len(frames)} frame(s), fewer than nirsky.min_frames="
                f"{self.config.min_frames} dithered frames; passed on without a running sky "
                "(only skysub's background is subtracted)"
            )
        with ExitStack() as stack:
            hduls = [stack.enter_context(fits.open(f.path("image"))) for f in frames]
            flats, note = self._flats(hduls, task)
            outputs = []
            meta_warnings = [note] if note else []
            try:
                skies = running_skies(
                    [h["SCI"].data for h in hduls],
                    [h["MASK"].data for h in hduls],
                    flats,
                    nsigma=self.config.source_nsigma,
                    dilate=self.config.dilate_px,
                )
                for item, hdul, (sky, level) in zip(frames, hduls, skies, strict=True):
                    frame = copy_hdus(hdul)
                    frame["SCI"].data, frame["MASK"].data = subtract_sky(
                        frame["SCI"].data, frame["MASK"].data, sky
                    )
                    frame[0].header["NIRSKY"] = (len(frames) - 1, "frames in the subtracted sky")
                    name = item.path("image").name
                    sky_product = fits.HDUList(
                        [fits.PrimaryHDU(np.nan_to_num(sky).astype(np.float32))]
                    )
                    meta = {**item.meta, "sky_e": level}
                    if meta_warnings:
                        meta["warnings"] = list(item.meta.get("warnings", [])) + meta_warnings
                    outputs.append(
                        Output(
                            item.id,
                            "frame",
                            meta,
                            {
                                "image": Product(name, frame, "workspace"),
                                "sky": Product(
                                    name.removesuffix(".fits") + "_sky.fits",
                                    sky_product,
                                    "workspace",
                                ),
                            },
                        )
                    )
            except ValueError as exc:
                raise StepFailed(f"{task.id}: {exc}") from None
        return outputs

    def _flats(self, hduls: list[fits.HDUList], task: Task) -> tuple[FlatsOnDisk | None, str]:
        """The frames' flats (by their FLATCOR header) when they differ, else None; and a warning
        when they differ but one cannot be read (the sky is then taken after the flats)."""
        names = [str(h[0].header.get("FLATCOR", "")) for h in hduls]
        if len(set(names)) <= 1:  # one flat for all (or none): the frames share their response
            return None, ""
        by_file = {str(ref.meta.get("file", ""))[:68]: ref for ref in task.refs}  # FLATCOR keeps 68
        paths = []
        for name in names:
            ref = by_file.get(name)
            if ref is None:
                return None, (
                    f"flat {name or '(none)'} of a frame is not in this run: sky taken after the "
                    "frames' different flats (their star wings may bias the star fluxes)"
                )
            paths.append(ref.path("image"))
        return FlatsOnDisk(paths), ""

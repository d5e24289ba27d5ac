"""flat: normalised master flat per filter/amplifier/binning group (``red/cals/mflat_*``)."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from potpyri.calibration.apply import apply_master, dark_scale, read_master
from potpyri.calibration.masks import BAD
from potpyri.calibration.masters import (
    Electrons,
    bad_pixels_from_flat,
    mask_sources,
    remove_gradient,
)
from potpyri.framework.step import Item, Output, PassedThrough, Step, Task, register_step
from potpyri.instruments.classify import flats_from_science
from potpyri.instruments.groups import calibration_group, filter_group, sky_flat_group
from potpyri.stacking.combine import CombineMethod
from potpyri.stepkit.master import MasterConfig, MasterStep, find_master

__all__ = ["Flat"]


@register_step("flat")
class Flat(MasterStep):
    """Bias- and dark-subtracted flats, each scaled by its median, combined and normalised to 1."""

    @dataclass
    class Config(MasterConfig):
        method: CombineMethod = CombineMethod.median  #: median, mean or sigclip
        low: float = 0.5  #: pixels responding below this fraction are flagged bad
        high: float = 1.5  #: pixels responding above this factor are flagged bad

    version = "2"
    kind = "FLAT"
    prefix = "mflat"
    normalise = True
    photons = True
    screen_levels = False  # a flat's level follows the lamp or the sky

    def select(self, items: list[Item]) -> list[Item]:
        if self.uses() and flats_from_science(self.context.instrument):
            return Step.select(self, items)  # the science frames, as every science step takes
        return super().select(items)

    def group_key(self, item: Item) -> str:
        return item.meta.get("caltype") or filter_group(item.meta)

    def run(self, task: Task) -> list[Output]:
        sky_flats = flats_from_science(self.context.instrument)
        if sky_flats and len(task.inputs) < self.config.min_frames:
            # The inputs are science frames: too few for a sky flat must not cost the night them.
            raise PassedThrough(
                f"{len(task.inputs)} science frame(s), fewer than "
                f"flat.min_frames={self.config.min_frames} for a sky flat; frames passed on to "
                "process, which uses a master flat from red/cals or skips flat-fielding"
            )
        if not (sky_flats and len(task.inputs) > self.config.min_frames):
            return super().run(task)
        # Sky flats: each frame gets a flat made from the *other* frames, so that a frame is never
        # divided by its own noise (which would make it look better than its uncertainty says).
        outputs = []
        for item in task.inputs:
            others = Task(task.id, [i for i in task.inputs if i is not item], task.refs)
            (out,) = super().run(others)
            # A science frame unfit for a sky flat is left out of it, not out of the night.
            for frame_id, reason in out.meta.pop("set_aside", {}).items():
                note = f"{frame_id} not in the sky flat: {reason}"
                out.meta.setdefault("warnings", []).append(note)
            out.id = f"{out.id}__{item.id}"
            out.meta["caltype"] = sky_flat_group(task.id, item.id)
            product = out.products["image"]
            product.filename = f"mflat_{task.id}.{item.id.split('.fits')[0]}.fits"
            out.meta["file"] = product.filename
            outputs.append(out)
        return outputs

    def references(self, task: Task, items: list[Item]) -> list[Item]:
        first = task.inputs[0].meta
        caltype = calibration_group(first)
        found = [
            find_master(items, "bias", caltype),
            find_master(items, "dark", caltype, float(first["exp"])),
        ]
        return [f for f in found if f is not None]

    def prepare(
        self, exposure: Electrons, item: Item, task: Task, warnings: list[str]
    ) -> Electrons:
        exptime = float(item.meta["exp"])
        for ref in task.refs:  # the group's master bias and dark
            master = read_master(ref.path("image"))
            if ref.meta["cal"] == "dark" and (text := dark_scale(ref.meta, exptime)[1]):
                warnings.append(text)
            exposure = apply_master(exposure, ref.meta["cal"], master, ref.meta, exptime)
        if (
            item.meta.get("type") == "SCIENCE"
        ):  # a sky flat: no sources, no frame-to-frame sky gradient
            exposure = Electrons(remove_gradient(mask_sources(exposure.data)), exposure.variance)
        return exposure

    def finish(self, value: np.ndarray, stddev: np.ndarray, task: Task) -> tuple[np.ndarray, dict]:
        bad = bad_pixels_from_flat(value, self.config.low, self.config.high)
        return np.where(bad, BAD, 0).astype(np.uint8), {}

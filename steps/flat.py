"""flat: normalised master flat per filter/amplifier/binning group (``red/cals/mflat_*``)."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from potpyri.calibration.apply import read_master, subtract_dark
from potpyri.calibration.masks import BAD
from potpyri.calibration.masters import (
    Electrons,
    bad_pixels_from_flat,
    mask_sources,
    remove_gradient,
)
from potpyri.framework.step import Item, Output, Task, register_step
from potpyri.stepkit.master import MasterConfig, MasterStep, find_master

__all__ = ["Flat"]


@register_step("flat")
class Flat(MasterStep):
    """Bias- and dark-subtracted flats, each scaled by its median, combined and normalised to 1."""

    @dataclass
    class Config(MasterConfig):
        method: str = "median"
        low: float = 0.5  #: pixels responding below this fraction are flagged bad
        high: float = 1.5  #: pixels responding above this factor are flagged bad

    version = "1"
    kind = "FLAT"
    prefix = "mflat"
    normalise = True
    photons = True

    def select(self, items: list[Item]) -> list[Item]:
        if self.uses() and self._from_science():
            return [
                i
                for i in items
                if i.ok
                and i.kind == "frame"
                and i.meta.get("type") == "SCIENCE"
                and not i.meta.get("excluded")
            ]
        return super().select(items)

    def group_key(self, item: Item) -> str:
        meta = item.meta
        return meta.get("caltype") or f"{meta['filter']}_{meta['amp']}_{meta['binning']}".replace(
            " ", "_"
        )

    def _from_science(self) -> bool:
        """Sky flats from the dithered science frames: near-infrared instruments whose reference
        has no flat-frame rule (MMIRS, FourStar)."""
        instrument = self.context.instrument
        regime = getattr(instrument.wavelength, "value", instrument.wavelength)
        return regime == "NIR" and not instrument.classify.flat.keywords

    def run(self, task: Task) -> list[Output]:
        if not (self._from_science() and len(task.inputs) > self.config.min_frames):
            return super().run(task)
        # Sky flats: each frame gets a flat made from the *other* frames, so that a frame is never
        # divided by its own noise (which would make it look better than its uncertainty says).
        outputs = []
        for item in task.inputs:
            others = Task(task.id, [i for i in task.inputs if i is not item], task.refs)
            (out,) = super().run(others)
            out.id = f"{out.id}__{item.id}"
            out.meta["caltype"] = f"{task.id}:{item.id}"
            product = out.products["image"]
            product.filename = f"mflat_{task.id}.{item.id.split('.fits')[0]}.fits"
            out.meta["file"] = product.filename
            outputs.append(out)
        return outputs

    def references(self, task: Task, items: list[Item]) -> list[Item]:
        first = task.inputs[0].meta
        caltype = f"{first['amp']}_{first['binning']}"
        found = [
            find_master(items, "bias", caltype),
            find_master(items, "dark", caltype, float(first["exp"])),
        ]
        return [f for f in found if f is not None]

    def prepare(self, exposure: Electrons, item: Item, task: Task) -> Electrons:
        for ref in task.refs:
            master = read_master(ref)
            if ref.meta["cal"] == "bias":
                exposure = Electrons(
                    exposure.data - master.data, exposure.variance + master.variance
                )
            else:
                exposure = subtract_dark(exposure, master, ref.meta, float(item.meta["exp"]))
        if (
            item.meta.get("type") == "SCIENCE"
        ):  # a sky flat: no sources, no frame-to-frame sky gradient
            exposure = Electrons(remove_gradient(mask_sources(exposure.data)), exposure.variance)
        return exposure

    def finish(self, value: np.ndarray, stddev: np.ndarray, task: Task) -> tuple[np.ndarray, dict]:
        bad = bad_pixels_from_flat(value, self.config.low, self.config.high)
        return np.where(bad, BAD, 0).astype(np.uint8), {}

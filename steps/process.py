"""process: raw science frame -> SCI (electrons), MASK, UNCERT, calibrated.

Overscan and trimming by the instrument's reader, gain to electrons, then the master bias, dark
and flat of the frame's calibration group; saturated and non-finite pixels and the masters' bad
pixels are flagged; the uncertainty carries read noise, Poisson noise and the masters' errors. A
missing master skips that correction with a warning in the summary, never silently.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import ClassVar

import numpy as np

from potpyri.calibration.apply import apply_master, dark_scale, photon_variance, read_master
from potpyri.calibration.frame_cards import write_electron_cards
from potpyri.calibration.masks import BAD, grow, no_image_reason, raw_mask, static_mask
from potpyri.calibration.masters import Electrons, to_electrons
from potpyri.calibration.sky_noise import add_sky_noise
from potpyri.framework.step import (
    Item,
    Output,
    Product,
    Scope,
    Step,
    StepConfig,
    StepContext,
    StepFailed,
    Task,
    register_step,
)
from potpyri.instruments.groups import calibration_group, filter_group
from potpyri.stepkit.frame_io import make_frame
from potpyri.stepkit.master import (
    closest_master,
    find_master,
    frame_flat,
    masters_on_disk,
    measured_read_noise,
)
from potpyri.stepkit.naming import frame_filename

__all__ = ["Process"]


@register_step("process")
class Process(Step):
    """Assemble and calibrate one raw science frame."""

    @dataclass
    class Config(StepConfig):
        renamed: ClassVar[dict[str, str]] = {"grow": "grow_px"}  # old -> new
        saturation_fraction: float = 1.0  #: flag pixels above this fraction of the saturation
        grow_px: int = 1  #: flag neighbours within this radius of bad/saturated pixels (bit 8)
        sky_noise: bool = True  #: add the measured sky noise the noise model lacks
        sky_noise_min: float = 1.02  #: sky pull scatter above which that noise is added
        sky_noise_max: float = 1.5  #: above this the sky has structure: model kept, warning

    version = "7"
    scope = Scope.frame
    depends_on = ("instrument", "bias.enabled", "dark.enabled", "flat.enabled")

    def __init__(self, config: StepConfig, context: StepContext) -> None:
        super().__init__(config, context)
        self._seen_on_disk: dict[tuple[str, str], list[Item]] = {}

    def references(self, task: Task, items: list[Item]) -> list[Item]:
        meta = task.inputs[0].meta
        group = calibration_group(meta)
        exptime = float(meta.get("exp") or 0.0)
        flat_group = filter_group(meta)
        found = {
            "bias": find_master(items, "bias", group),
            "dark": find_master(items, "dark", group, exptime),
            "flat": frame_flat(items, task.inputs[0]),
        }
        for cal, caltype in (("bias", group), ("dark", group), ("flat", flat_group)):
            wanted = getattr(self.context.instrument, cal) and self.context.cfg[cal].enabled
            if found[cal] is None and wanted:  # none made this run: an earlier run's, if compatible
                found[cal] = closest_master(
                    self._on_disk(cal, caltype), exptime if cal == "dark" else None
                )
        return [f for f in found.values() if f is not None]

    def _on_disk(self, cal: str, caltype: str) -> list[Item]:
        """Masters in red/cals, looked up once per calibration group (not once per frame)."""
        if (cal, caltype) not in self._seen_on_disk:
            self._seen_on_disk[cal, caltype] = masters_on_disk(
                self.context.data_path / "red" / "cals", cal, caltype
            )
        return self._seen_on_disk[cal, caltype]

    def run(self, task: Task) -> list[Output]:
        item = task.inputs[0]
        instrument = self.context.instrument
        raw = self.context.reader().read(self.context.data_path / item.meta["raw"])
        if reason := no_image_reason(raw.data):
            raise StepFailed(reason)
        saturation_adu = self.config.saturation_fraction * instrument.saturation
        mask = raw_mask(raw.data, raw.gain, saturation_adu)
        measured = measured_read_noise(task.refs)  # from the biases, as the master bias records
        if measured is not None:
            raw = replace(raw, rdnoise=measured.noise_map(raw.rdnoise, raw.data.shape))
        exposure = to_electrons(raw, poisson=False)
        header = raw.header
        warnings: list[str] = []
        exposure, mask = self._calibrate(exposure, mask, header, task, warnings)
        mask[~np.isfinite(exposure.data)] |= BAD
        mask |= static_mask(instrument, self.context.data_path, mask.shape)
        mask = grow(mask, self.config.grow_px)
        write_electron_cards(header, raw.gain, raw.rdnoise, saturation_adu, measured is not None)
        sci = np.nan_to_num(exposure.data, nan=0.0)
        uncert = np.sqrt(np.nan_to_num(exposure.variance, nan=np.inf))
        if self.config.sky_noise:
            low, high = self.config.sky_noise_min, self.config.sky_noise_max
            uncert = add_sky_noise(sci, uncert, mask, header, warnings, low, high)
        for text in warnings:
            self.log.warning("%s: %s", item.id, text)
        frame = make_frame(sci, mask, uncert, header)
        meta = {**item.meta, "warnings": warnings} if warnings else dict(item.meta)
        name = frame_filename(item.meta, item.id)
        return [Output(item.id, "frame", meta, {"image": Product(name, frame, "workspace")})]

    def _calibrate(
        self, exposure: Electrons, mask: np.ndarray, header, task: Task, warnings: list[str]
    ) -> tuple[Electrons, np.ndarray]:
        """Apply the task's masters in order (bias, dark, flat) and the photon noise; a missing or
        incompatible master is skipped with a warning and a ``*COR = SKIPPED`` header card."""
        instrument = self.context.instrument
        item = task.inputs[0]
        masters = {ref.meta["cal"]: ref for ref in task.refs}
        poisson_added = False
        for cal in ("bias", "dark", "flat"):
            if not getattr(instrument, cal):
                continue
            ref, card = masters.get(cal), f"{cal.upper()}COR"
            if ref is None:
                reason = "disabled" if not self.context.cfg[cal].enabled else "no master"
                warnings.append(f"{cal} correction skipped ({reason})")
                header[card] = ("SKIPPED", f"{cal} correction: {reason}")
                continue
            master = read_master(ref.path("image"))
            if ref.meta.get("external"):
                if master.data.shape != exposure.data.shape:
                    warnings.append(
                        f"{cal} correction skipped (red/cals/{ref.meta['file']} has shape "
                        f"{master.data.shape}, the frame {exposure.data.shape})"
                    )
                    header[card] = ("SKIPPED", f"{cal} correction: incompatible master")
                    continue
                warnings.append(
                    f"no {cal} exposures in this run: used red/cals/{ref.meta['file']} from an "
                    "earlier run"
                )
            if cal == "flat":  # Poisson noise of the light alone, once bias and dark are gone
                exposure.variance = exposure.variance + photon_variance(exposure.data)
                poisson_added = True
            exptime = float(item.meta["exp"])
            if cal == "dark" and (text := dark_scale(ref.meta, exptime)[1]):
                warnings.append(text)
            exposure = apply_master(exposure, cal, master, ref.meta, exptime)
            mask |= master.mask
            header[card] = (ref.meta["file"][:68], f"master {cal} applied")
        if not poisson_added:
            exposure.variance = exposure.variance + photon_variance(exposure.data)
        return exposure, mask

"""What the bias, dark and flat steps share: grouping, reading, combining, writing a master."""

from __future__ import annotations

from dataclasses import dataclass, replace
from pathlib import Path
from typing import ClassVar

import numpy as np
from astropy.io import fits

from potpyri.calibration.apply import photon_variance
from potpyri.calibration.masters import (
    Electrons,
    ExposureCube,
    combine_cube,
    exposure_cube,
    to_electrons,
)
from potpyri.calibration.read_noise import ReadNoise
from potpyri.calibration.screening import UnusableExposure, level_outliers, unusable_reason
from potpyri.framework.step import Item, Output, Product, Scope, Step, StepConfig, StepFailed, Task
from potpyri.instruments.groups import filter_group, sky_flat_group
from potpyri.stacking.combine import CombineMethod

__all__ = [
    "MasterConfig",
    "MasterStep",
    "closest_master",
    "find_master",
    "frame_flat",
    "masters_on_disk",
    "measured_read_noise",
]


@dataclass
class MasterConfig(StepConfig):
    """Fields every master-calibration step has."""

    method: CombineMethod = CombineMethod.sigclip  #: median, mean or sigclip
    sigma: float = 3.0  #: sigclip rejection threshold, in uncertainties
    min_frames: int = 3  #: fewer exposures: no master (the correction is skipped, with a warning)


class MasterStep(Step):
    """A calibration-group step turning exposures of one type into a master frame.

    Subclasses set ``kind`` ('BIAS', 'DARK', 'FLAT'), ``prefix`` and implement :meth:`prepare`
    (what to subtract or normalise before combining) and :meth:`finish` (the master's mask).
    """

    kind: ClassVar[str] = ""
    prefix: ClassVar[str] = ""
    scope = Scope.calgroup
    depends_on = ("instrument",)

    def uses(self) -> bool:
        """Whether the instrument takes this calibration at all."""
        return bool(getattr(self.context.instrument, self.kind.lower()))

    def select(self, items: list[Item]) -> list[Item]:
        if not self.uses():
            return []
        return [
            i
            for i in items
            if i.ok
            and i.kind == "frame"
            and i.meta.get("type") == self.kind
            and not i.meta.get("excluded")
        ]

    def group_key(self, item: Item) -> str:
        return str(item.meta["caltype"])

    def run(self, task: Task) -> list[Output]:
        if len(task.inputs) < self.config.min_frames:
            raise StepFailed(
                f"{self.prefix}_{task.id}: {len(task.inputs)} exposure(s), fewer than "
                f"{self.name}.min_frames={self.config.min_frames}"
            )
        reader = self.context.reader()
        headers: dict[str, fits.Header] = {}  # kept from the reads: each raw file is opened once
        layout: dict[str, np.ndarray] = {}  # the first exposure's gain and read noise per pixel
        noise = measured_read_noise(task.refs)  # from the master bias (darks, flats)
        saturation_adu = float(self.context.instrument.saturation)
        warnings: list[str] = []

        def loader(item: Item):
            def load() -> Electrons:
                raw = reader.read(self.context.data_path / item.meta["raw"])
                headers.setdefault(item.id, raw.header)
                if reason := unusable_reason(raw.data, saturation_adu):
                    raise UnusableExposure(reason)
                layout.setdefault("gain", raw.gain)
                layout.setdefault("rdnoise", raw.rdnoise)
                if noise is not None:
                    raw = replace(raw, rdnoise=noise.noise_map(raw.rdnoise, raw.data.shape))
                exposure = self.prepare(to_electrons(raw, poisson=False), item, task, warnings)
                if self.photons:  # Poisson noise of the light only, not of a detector pedestal
                    exposure.variance = exposure.variance + photon_variance(exposure.data)
                return exposure

            return load

        names = [i.id for i in task.inputs]
        with exposure_cube([loader(i) for i in task.inputs], normalise=self.normalise) as cube:
            if self.screen_levels:
                kept = cube.kept()
                for n, reason in level_outliers([cube.levels[k] for k in kept]).items():
                    cube.set_aside[kept[n]] = reason
            kept = cube.kept()
            if len(kept) < self.config.min_frames:
                raise StepFailed(
                    f"{self.prefix}_{task.id}: {len(kept)} usable exposure(s) of {len(names)}, "
                    f"fewer than {self.name}.min_frames={self.config.min_frames}; set aside: "
                    + "; ".join(f"{names[n]}: {r}" for n, r in sorted(cube.set_aside.items()))
                )
            measured = self.measure_noise(cube, kept, layout)
            value, uncertainty, stddev = combine_cube(
                cube, kept, method=CombineMethod(self.config.method).value, sigma=self.config.sigma
            )
        used = [task.inputs[n] for n in kept]
        if self.normalise:
            norm = float(np.nanmedian(value))
            value, uncertainty = value / norm, uncertainty / norm
        mask, extra = self.finish(value, stddev, task)
        name = self.filename(task)
        primary = _calibration_header(headers[used[0].id], used, self.kind)
        if "exp" in extra:  # a master read back from red/cals by a later run must describe itself
            primary["EXPTIME"] = (extra["exp"], "exposure time of the combined exposures, s")
        if "bias_subtracted" in extra:
            primary["BIASSUB"] = (
                extra["bias_subtracted"],
                "master bias subtracted before combining",
            )
        if measured is not None:
            for key, value_, comment in measured.header_cards():
                primary[key] = (value_, comment)
            extra["rdnoise"] = measured.to_meta()
            if text := measured.disagreement():
                warnings.append(text)
        hdus = fits.HDUList(
            [
                fits.PrimaryHDU(header=primary),
                fits.ImageHDU(value.astype(np.float32), name="SCI"),
                fits.ImageHDU(mask.astype(np.uint8), name="MASK"),
                fits.ImageHDU(uncertainty.astype(np.float32), name="UNCERT"),
            ]
        )
        others = f"{self.prefix}_{task.id} made from the other {len(kept)}"
        meta = {
            "cal": self.kind.lower(),
            "caltype": task.inputs[0].meta.get("caltype") or task.id,
            "file": name,
            "inputs": [i.id for i in used],
            **extra,
        }
        if cube.set_aside:  # the runner records each as set aside (by name, with its reason)
            meta["set_aside"] = {
                names[n]: f"{reason}; set aside, {others}"
                for n, reason in sorted(cube.set_aside.items())
            }
        warnings = list(dict.fromkeys(warnings))  # a dark warning is the same for every flat
        for text in warnings:
            self.log.warning("%s: %s", name, text)
        if warnings:
            meta["warnings"] = warnings
        for key in ("filter", "amp", "binning", "exp", "time"):
            meta.setdefault(key, task.inputs[0].meta.get(key))
        return [
            Output(
                f"{self.prefix}_{task.id}",
                "calibration",
                meta,
                {"image": Product(name, hdus, "cals")},
            )
        ]

    normalise: ClassVar[bool] = False
    photons: ClassVar[bool] = False  #: the exposures hold light (flats): add its Poisson noise
    #: set aside exposures whose level or noise is far off the others' (biases, darks; not flats,
    #: whose level follows the lamp or the twilight sky)
    screen_levels: ClassVar[bool] = True

    def filename(self, task: Task) -> str:
        """Reference naming: ``mbias_{amp}_{binning}.fits`` and alike."""
        return f"{self.prefix}_{task.id}.fits"

    def prepare(
        self, exposure: Electrons, item: Item, task: Task, warnings: list[str]
    ) -> Electrons:
        """Correct one exposure before combining (default: nothing); a correction that is only
        approximate appends a one-line warning to ``warnings``."""
        return exposure

    def measure_noise(
        self, cube: ExposureCube, kept: list[int], layout: dict[str, np.ndarray]
    ) -> ReadNoise | None:
        """The read noise measured from the exposures (biases), with the cube's errors revised
        to it; default: none measured."""
        return None

    def finish(self, value: np.ndarray, stddev: np.ndarray, task: Task) -> tuple[np.ndarray, dict]:
        """The master's bad-pixel mask and extra metadata (default: nothing flagged)."""
        return np.zeros(value.shape, np.uint8), {}


def find_master(
    items: list[Item], cal: str, caltype: str, exptime: float | None = None
) -> Item | None:
    """The master calibration of kind ``cal`` for ``caltype`` (closest exposure time for darks)."""
    return closest_master(
        [
            i
            for i in items
            if i.kind == "calibration"
            and i.ok
            and i.meta.get("cal") == cal
            and i.meta.get("caltype") == caltype
        ],
        exptime,
    )


def frame_flat(items: list[Item], frame: Item) -> Item | None:
    """The frame's own sky flat (made without it) if there is one, else its group's flat."""
    group = filter_group(frame.meta)
    return find_master(items, "flat", sky_flat_group(group, frame.id)) or find_master(
        items, "flat", group
    )


def masters_on_disk(cals_dir: Path, cal: str, caltype: str) -> list[Item]:
    """Every readable master of kind ``cal`` for ``caltype`` left in ``cals_dir`` by an earlier
    run, by file name (used when this run has no exposures to make that master).

    An item's cache key is the file's size and modification time, so a replaced file is seen.
    """
    prefix = f"m{cal}_{caltype}"
    candidates = sorted(
        Path(cals_dir).glob(f"{prefix}_*s.fits" if cal == "dark" else f"{prefix}.fits")
    )
    found = []
    for path in candidates:
        try:
            header = fits.getheader(path)
        except (
            OSError
        ):  # a damaged file is no calibration; the correction is skipped with a warning
            continue
        meta = {
            "cal": cal,
            "caltype": caltype,
            "file": path.name,
            "external": True,
            "exp": float(header.get("EXPTIME", 0.0)),
            "bias_subtracted": bool(header.get("BIASSUB", False)),
        }
        if cal == "bias" and (noise := ReadNoise.from_header(header)) is not None:
            meta["rdnoise"] = noise.to_meta()
        stat = path.stat()
        found.append(
            Item(
                path.stem,
                "calibration",
                meta,
                {"image": str(path)},
                key=f"{stat.st_size}:{stat.st_mtime_ns}",
            )
        )
    return found


def closest_master(found: list[Item], exptime: float | None = None) -> Item | None:
    """The first of ``found``, or for darks (``exptime`` given) the closest in exposure time."""
    if not found:
        return None
    if exptime is None:
        return found[0]
    return min(found, key=lambda i: abs(float(i.meta.get("exp") or 0.0) - exptime))


def measured_read_noise(refs: list[Item]) -> ReadNoise | None:
    """The read noise measured from the biases, as the master bias among ``refs`` records it."""
    for ref in refs:
        if ref.meta.get("cal") == "bias":
            return ReadNoise.from_meta(ref.meta.get("rdnoise"))
    return None


def _calibration_header(raw: fits.Header, used: list[Item], kind: str) -> fits.Header:
    header = fits.Header()
    for key in (
        "INSTRUME",
        "TELESCOP",
        "OBSERVAT",
        "DATE-OBS",
        "MJD-OBS",
        "CCDSUM",
        "DETECTOR",
        "FILTER",
        "FILTER1",
        "FILTER2",
        "DWFILNAM",
        "FILTNAM",
    ):
        if key in raw:
            header[key] = raw[key]
    header["OBSTYPE"] = (f"M{kind}", "potpyri master calibration")
    header["NCOMBINE"] = (len(used), "exposures combined")
    header["BUNIT"] = ("electron", "pixel unit")
    for n, item in enumerate(used, start=1):
        header[f"IMCMB{n:03d}"] = item.id[:68]  # no comment: names can fill the card
    return header

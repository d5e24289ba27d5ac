"""Calibration exposures unfit for a master, found before combining and set aside by name.

One bad exposure must not spoil a master (or make it fail and leave the night uncalibrated): an
exposure with no image (all NaN, one value everywhere), mostly saturated, with no light to
normalise by (flats), or far off the others' level or noise (biases, darks) is set aside with a
one-line reason and the master is made from the rest.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from potpyri.calibration.masks import no_image_reason
from potpyri.calibration.read_noise import robust_sigma

__all__ = ["Level", "UnusableExposure", "level_of", "level_outliers", "unusable_reason"]

#: A calibration exposure with more than this fraction of its pixels saturated is set aside.
SATURATED_FRACTION = 0.5
#: Sub-sampled pixels used for an exposure's level and noise (enough for 0.1% precision).
_SAMPLE = 250_000


class UnusableExposure(ValueError):
    """An exposure that cannot enter a master; the message is the reason."""


def unusable_reason(data_adu: np.ndarray, saturation_adu: float) -> str:
    """Why a raw calibration exposure (ADU, overscan subtracted) cannot be used ('' if it can)."""
    if reason := no_image_reason(data_adu):
        return reason
    with np.errstate(invalid="ignore"):
        saturated = float(np.mean(data_adu >= 0.95 * saturation_adu))
    if saturated > SATURATED_FRACTION:
        return f"{saturated:.0%} of its pixels saturated (>= 95% of {saturation_adu:g} ADU)"
    return ""


@dataclass
class Level:
    """An exposure's median level and robust pixel-to-pixel noise, e-."""

    median: float
    noise: float


def level_of(data: np.ndarray) -> Level:
    """Median and robust sigma of an exposure (a regular sub-sample of its pixels)."""
    step = max(1, int(np.sqrt(data.size / _SAMPLE)))
    sample = np.asarray(data[::step, ::step], np.float64)
    finite = sample[np.isfinite(sample)]
    if finite.size == 0:
        return Level(float("nan"), float("nan"))
    return Level(float(np.median(finite)), robust_sigma(finite))


def level_outliers(
    levels: Sequence[Level], *, level_nsigma: float = 10.0, noise_factor: float = 3.0
) -> dict[int, str]:
    """Exposures (by index) whose level or noise is absurd next to the others' (biases, darks).

    The others' median level and noise are the reference: an exposure more than ``level_nsigma``
    times the typical pixel noise off the median level (a light leak, a shifted pedestal), or with
    more than ``noise_factor`` times the typical noise (a noisy readout), is an outlier. Needs at
    least three exposures (with two, neither can be called the odd one).
    """
    if len(levels) < 3:
        return {}
    medians = np.array([lv.median for lv in levels])
    noises = np.array([lv.noise for lv in levels])
    level, noise = float(np.median(medians)), float(np.median(noises))
    out = {}
    for n, (m, s) in enumerate(zip(medians, noises, strict=True)):
        if not noise > 0:
            break
        if abs(m - level) > level_nsigma * noise:
            out[n] = (
                f"level {m:.1f} e- against {level:.1f} e- of the others (more than "
                f"{level_nsigma:g}x their pixel noise {noise:.1f} e-)"
            )
        elif s > noise_factor * noise:
            out[n] = f"pixel noise {s:.1f} e- against {noise:.1f} e- of the others"
    return out

"""The header cards of a frame once its pixels are in electrons."""

from __future__ import annotations

import numpy as np
from astropy.io import fits

__all__ = ["write_electron_cards"]


def write_electron_cards(
    header: fits.Header,
    gain: np.ndarray,
    rdnoise: np.ndarray,
    saturation_adu: float,
    read_noise_measured: bool,
) -> None:
    """BUNIT, GAIN (1 after the gain correction), SATLEVEL, RDNOISE and RDNSRC.

    ``SATLEVEL`` is the flagged level in electrons above the overscan, with the lowest positive
    gain (chip gaps have gain 0): the photometry's saturation cut needs it once the gain is gone.
    """
    header["BUNIT"] = ("electron", "pixel unit")
    header["GAIN"] = (1.0, "e-/ADU after gain correction")
    gain = np.asarray(gain, float)
    header["SATLEVEL"] = (
        round(float(saturation_adu * gain[gain > 0].min()), 1),
        "e-: pixels at or above are flagged saturated",
    )
    header["RDNOISE"] = (
        float(np.median(rdnoise)),
        "read noise, electrons (median over amplifiers)",
    )
    header["RDNSRC"] = (
        "measured" if read_noise_measured else "configured",
        "read noise: measured (biases) or configured",
    )

"""Magellan FourStar (``fsr_0012_01.fits``): one file per HAWAII-2RG chip; the simulator writes
chip 1. Data-less primary, image and classification keywords in extension 1 (as the reference
reads FourStar like MMIRS).

Assumptions (no real FourStar header in shared data): 2048×2048 per chip, 32 channels (NAMPS),
gains/read noise of the reference's parameters; flats come from the science frames (no flat
frames in the night), darks remove the pedestal.
"""

from __future__ import annotations

import numpy as np
from astropy.io import fits

from potpyri.sim.formats.base import FrameMeta, Setup, register_format
from potpyri.sim.formats.generic import Amp, AmplifierFormat

__all__ = ["FourStar"]


@register_format
class FourStar(AmplifierFormat):
    """FourStar chip 1."""

    name = "fourstar"
    instrument = "fourstar"
    wavelength = "NIR"
    filters = {"J": "J", "H": "H", "K": "Ks"}
    calibrations = ("dark",)
    flat_kind = "sky"
    min_exptime = 0.1
    dark_current = 0.05
    full_well = 110000.0
    zeropoint_ab = {"J": 25.9, "H": 26.0, "K": 25.6}
    site = (-70.69208, -29.01418, 2380.0)
    pixscale_unbinned = 0.159
    amps = (Amp(0, 0, 2048, 2048, 2.65, 25.5, 4000.0, True),)
    crop = (0, 0, 2048, 2048)
    window = (1024, 1024)
    small_binning = (1, 1)
    overscan = 0
    dtype = np.float32
    default_setup = Setup(binning=(1, 1), size="small")

    def filename(self, meta: FrameMeta, setup: Setup) -> str:
        return f"fsr_{meta.number:04d}_01.fits"

    def primary_header(self, meta: FrameMeta, setup: Setup) -> fits.Header:
        return fits.Header({"TELESCOP": "Baade_Mag_1", "INSTRUME": "FourStar"})

    def image_header(self, n: int, amp: Amp, meta: FrameMeta, setup: Setup) -> dict:
        kind = meta.kind
        return {
            "TELESCOP": "Baade_Mag_1", "INSTRUME": "FourStar", "CHIP": 1,
            "OBJECT": "dark" if kind == "dark" else meta.object_name, "EXPTIME": float(meta.exptime),
            "FILTER": self.filters.get(meta.band, "J"), "OBSMODE": "spectral" if kind == "spectrum" else "imaging",
            "APTYPE": "mask" if kind == "acquisition" else "open", "APERTURE": "open",
            "MOSID": "closed" if kind == "bad" else "open", "CCDSUM": "1 1", "NAMPS": 32,
            "MJD": round(meta.date_obs.mjd, 6), "DATE-OBS": meta.date_obs.strftime("%Y-%m-%dT%H:%M:%S"),
            "RA": meta.ra, "DEC": meta.dec, "AIRMASS": round(meta.airmass, 3),
        }

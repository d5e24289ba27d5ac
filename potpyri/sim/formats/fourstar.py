"""Magellan FourStar (``fsr_0012_01.fits``): one file per HAWAII-2RG chip; the simulator writes
chip 1. Data-less primary, image and classification keywords in extension 1: the reference reads
FourStar with the same keyword rules as MMIRS, so the format is MMIRS's with FourStar's numbers.

Assumptions (no real FourStar header in shared data): 2048×2048 per chip, 32 channels (NAMPS),
gain and read noise of the reference's parameters, RA in degrees; flats come from the science
frames (no flat frames in the night), darks remove the pedestal.
"""

from __future__ import annotations

from potpyri.sim.formats.base import SITES, FrameMeta, Setup, register_format
from potpyri.sim.formats.generic import Amp
from potpyri.sim.formats.mmirs import MmtInfraredArray as Mmirs

__all__ = ["FourStar"]


@register_format
class FourStar(Mmirs):
    """FourStar chip 1."""

    name = "fourstar"
    instrument = "fourstar"
    full_well = 110000.0
    zeropoint_ab = {"J": 25.9, "H": 26.0, "K": 25.6}
    site = SITES["Magellan"]
    pixscale_unbinned = 0.159
    amps = (Amp(0, 0, 2048, 2048, 2.65, 25.5, 4000.0, True),)
    crop = (0, 0, 2048, 2048)
    telescope, instrume, ra_in_hours = "Baade_Mag_1", "FourStar", False

    def filename(self, meta: FrameMeta, setup: Setup) -> str:
        return f"fsr_{meta.number:04d}_01.fits"

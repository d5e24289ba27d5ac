"""MMT BINOSPEC imaging (``sci_img_2024.0618.012345.fits``), as its archive delivers it.

Keyword set from the real 2018 BINOSPEC header in ``shared/data/potpyri_reference/flats``: the
classification keywords (MASK, SCRN), OBJECT, FILTER ('r_filter'), CCDSUM, EXPTIME, MJD, DATE-OBS,
and RA/DEC in the MMT's units (RA in hours, Dec in degrees) live in extension 1. Assumptions: two
4k×4k CCDs (sides A and B) with a 166-pixel gap, two amplifiers each (one HDU per amplifier);
the reference keeps a 4731×3695 region (its static-mask shape) spanning both sides.
"""

from __future__ import annotations

from astropy.io import fits

from potpyri.sim.formats.base import SITES, FrameMeta, Setup, register_format
from potpyri.sim.formats.generic import Amp, AmplifierFormat

__all__ = ["Binospec"]


@register_format
class Binospec(AmplifierFormat):
    """BINOSPEC: two 4k×4k CCDs, two amplifiers each."""

    name = "binospec"
    instrument = "binospec"
    filters = {"g": "g_filter", "r": "r_filter", "i": "i_filter", "z": "z_filter"}
    calibrations = ("flat",)
    full_well = 120000.0
    zeropoint_ab = {"g": 28.1, "r": 28.3, "i": 28.0, "z": 27.2}
    site = SITES["MMT"]
    pixscale_unbinned = 0.24
    amps = (
        Amp(0, 0, 2048, 4112, 1.02, 4.0, 1005.0, False, 0),
        Amp(2048, 0, 2048, 4112, 1.08, 4.0, 990.0, True, 0),
        Amp(4262, 0, 2048, 4112, 1.04, 4.0, 1012.0, False, 1),
        Amp(6310, 0, 2048, 4112, 1.06, 4.0, 998.0, True, 1),
    )
    crop = (208, 1789, 3695, 4731)
    window = (1800, 1800)

    def filename(self, meta: FrameMeta, setup: Setup) -> str:
        stamp = meta.date_obs.strftime("%Y.%m%d.%H%M%S")
        return f"sci_img_{stamp}_{meta.number:04d}.fits"

    def primary_header(self, meta: FrameMeta, setup: Setup) -> fits.Header:
        return fits.Header({"OBSERVAT": "MMTO", "TELESCOP": "MMT", "INSTRUME": "Binospec"})

    def image_header(self, n: int, amp: Amp, meta: FrameMeta, setup: Setup) -> dict:
        kind = meta.kind
        bx, by = self._binning(setup)
        return {
            "INSTRUME": "Binospec",
            "OBSERVAT": "MMTO",
            "TELESCOP": "MMT",
            "OBJECT": meta.object_name,
            "MASK": {"spectrum": "spectroscopy", "bad": "mira", "acquisition": "longslit1"}.get(
                kind, "imaging"
            ),
            "SCRN": "deployed" if kind == "flat" else "stowed",
            "IMAGETYP": {"flat": "flat", "acquisition": "acq"}.get(kind, "object"),
            "FILTER": self.filters.get(meta.band, "r_filter"),
            "CCDSUM": f"{bx} {by}",
            "EXPTIME": float(meta.exptime),
            "MJD": round(meta.date_obs.mjd, 5),
            "DATE-OBS": meta.date_obs.strftime("%Y-%m-%dT%H:%M:%S"),
            "RA": meta.ra / 15.0,
            "DEC": meta.dec,
            "POSANG": meta.position_angle,
            "AIRMASS": round(meta.airmass, 3),
            "SATURATE": 65000.0,
        }

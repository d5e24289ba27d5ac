"""MMT MMIRS imaging (``SIM01_GRB.0012.fits``): a data-less primary and the image in extension 1,
where the classification keywords also live (the reference reads extension 1).

Keyword set from the real MMIRS J pixel flat in ``shared/data/potpyri_reference/flats`` is minimal,
so these follow the MMIRS raw convention: OBJECT, EXPTIME, FILTER, OBSMODE, APTYPE, APERTURE,
MOSID, CCDSUM, NAMPS (32 read-out channels), MJD, RA (hours)/DEC. A HAWAII-2 array, 2040×2040 after
the 4 reference-pixel border (the static-mask shape). No flats in the night: as the reference does,
flats come from the dithered science frames themselves.
"""

from __future__ import annotations

import numpy as np
from astropy.io import fits

from potpyri.sim.formats.base import SITES, FrameMeta, Setup, register_format
from potpyri.sim.formats.generic import Amp, InfraredArrayFormat

__all__ = ["Mmirs"]


@register_format
class Mmirs(InfraredArrayFormat):
    """MMIRS: one 2k×2k HAWAII-2 array (extension 1)."""

    name = "mmirs"
    instrument = "mmirs"
    filters = {"J": "J", "H": "H", "K": "Ks"}
    calibrations = ("dark",)
    flat_kind = "sky"
    min_exptime = 0.1
    dark_current = 0.05
    full_well = 120000.0
    zeropoint_ab = {"J": 26.2, "H": 26.3, "K": 25.9}
    site = SITES["MMT"]
    pixscale_unbinned = 0.202
    amps = (Amp(0, 0, 2048, 2048, 2.68, 12.0, 2500.0, True),)
    crop = (4, 4, 2040, 2040)
    dtype = np.float32

    def filename(self, meta: FrameMeta, setup: Setup) -> str:
        return f"{meta.object_name.replace(' ', '_')}.{meta.number:04d}.fits"

    telescope, instrume, ra_in_hours = "MMT", "MMIRS", True

    def primary_header(self, meta: FrameMeta, setup: Setup) -> fits.Header:
        return fits.Header({"TELESCOP": self.telescope, "INSTRUME": self.instrume})

    def image_header(self, n: int, amp: Amp, meta: FrameMeta, setup: Setup) -> dict:
        kind = meta.kind
        return {
            "TELESCOP": self.telescope,
            "INSTRUME": self.instrume,
            "OBJECT": "dark" if kind == "dark" else meta.object_name,
            "EXPTIME": float(meta.exptime),
            "FILTER": "dark" if kind == "dark" else self.filters.get(meta.band, "J"),
            "OBSMODE": "spectral" if kind == "spectrum" else "imaging",
            "APTYPE": "mos" if kind == "acquisition" else "open",
            "APERTURE": "open",
            "MOSID": "closed" if kind == "bad" else "open",
            "CCDSUM": "1 1",
            "NAMPS": 32,
            "MJD": round(meta.date_obs.mjd, 6),
            "DATE-OBS": meta.date_obs.strftime("%Y-%m-%dT%H:%M:%S"),
            "RA": meta.ra / 15.0 if self.ra_in_hours else meta.ra,
            "DEC": meta.dec,
            "AIRMASS": round(meta.airmass, 3),
        }

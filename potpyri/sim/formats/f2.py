"""Gemini Flamingos-2 (``S20240618S0012.fits.bz2``), in the layout of the real raw F2 darks.

From ``shared/data/f2_darks``: a primary header with the observation keywords (INSTRUME 'F2',
OBJECT, OBSTYPE, OBSCLASS, DECKER, MASKNAME, FILTER1/FILTER2, GRORDER, READMODE, LNRS, EXPTIME,
MJD-OBS, GAIN, RDNOISE) and one image extension holding a (1, 2048, 2048) cube with the WCS.
A HAWAII-2 array: no overscan; a reset pedestal the darks remove. Flats are GCAL flats.
"""

from __future__ import annotations

import numpy as np
from astropy.io import fits

from potpyri.sim.formats.base import SITES, FrameMeta, Setup, register_format
from potpyri.sim.formats.generic import Amp, InfraredArrayFormat

__all__ = ["Flamingos2"]


@register_format
class Flamingos2(InfraredArrayFormat):
    """Flamingos-2 imaging: one 2k×2k HAWAII-2 array."""

    name = "f2"
    instrument = "f2"
    filters = {"Y": "Y_G0811", "J": "J_G0802", "H": "H_G0803", "K": "Ks_G0804"}
    dark_current = 0.5
    full_well = 155000.0
    zeropoint_ab = {"Y": 26.0, "J": 26.3, "H": 26.4, "K": 26.0}
    site = SITES["Gemini-South"]
    pixscale_unbinned = 0.1792
    amps = (Amp(0, 0, 2048, 2048, 4.44, 11.7, 3000.0, True),)
    crop = (0, 0, 2048, 2048)
    cube = True
    dtype = np.int32

    def filename(self, meta: FrameMeta, setup: Setup) -> str:
        return f"S{meta.date_obs.strftime('%Y%m%d')}S{meta.number:04d}.fits.bz2"

    def primary_header(self, meta: FrameMeta, setup: Setup) -> fits.Header:
        kind = meta.kind
        filt = "Dark" if kind == "dark" else self.filters.get(meta.band, "J_G0802")
        return fits.Header(
            {
                "INSTRUME": "F2",
                "TELESCOP": "Gemini-South",
                "OBSERVAT": "Gemini-South",
                "OBJECT": {"dark": "Dark", "flat": "GCALflat", "acquisition": "Acquisition"}.get(
                    kind, meta.object_name
                ),
                "OBSTYPE": {"dark": "DARK", "flat": "FLAT"}.get(kind, "OBJECT"),
                "OBSCLASS": {"dark": "dayCal", "flat": "dayCal", "acquisition": "acq"}.get(
                    kind, "science"
                ),
                "DECKER": {
                    "bad": "Closed",
                    "spectrum": "Long_slit",
                    "acquisition": "Long_slit",
                }.get(kind, "Open"),
                "MASKNAME": {"spectrum": "4pix-slit", "acquisition": "4pix-slit"}.get(kind, "None"),
                "FILTER1": "Open",
                "FILTER2": filt,
                "FILTER": filt,
                "GRORDER": 1 if kind == "spectrum" else 0,
                "READMODE": "Bright",
                "LNRS": 1,
                "EXPTIME": float(meta.exptime),
                "DATE-OBS": meta.date_obs.strftime("%Y-%m-%d"),
                "TIME-OBS": meta.date_obs.strftime("%H:%M:%S.%f")[:10],
                "MJD-OBS": meta.date_obs.mjd,
                "RA": meta.ra,
                "DEC": meta.dec,
                "AIRMASS": round(meta.airmass, 3),
                "GAIN": 4.44,
                "RDNOISE": 11.7,
                "RAWGEMQA": "FAIL" if kind == "bad" else "USABLE",
            }
        )

"""Keck MOSFIRE imaging (KOA names ``MF.20240618.12345.fits.gz``): one HAWAII-2RG image in the
primary HDU.

Assumptions (no real MOSFIRE header in shared data): 2048×2048 (the reference static-mask shape),
no overscan, a reset pedestal removed with darks. KOA keywords: TARGNAME, OBJECT, ELAPTIME,
FILTER/DWFILNAM ('Dark' for darks), GRATMODE, MASKNAME, PONAME, MJD-OBS, sexagesimal RA/DEC.
Flats are dome flats (OBJECT containing 'flat').

Size "small" reads the whole array, as "full" does: the reference processes MOSFIRE images only
at their full 2048×2048 shape (its static mask), and a 3′ central window of a high-latitude field
holds ~3 Gaia stars, too few for any plate solution.
"""

from __future__ import annotations

import numpy as np
from astropy.io import fits

from potpyri.sim.formats.base import SITES, FrameMeta, Setup, register_format
from potpyri.sim.formats.generic import Amp, InfraredArrayFormat, koa_filename, sexagesimal

__all__ = ["Mosfire"]


@register_format
class Mosfire(InfraredArrayFormat):
    """MOSFIRE: one 2k×2k HAWAII-2RG array."""

    name = "mosfire"
    instrument = "mosfire"
    filters = {"Y": "Y", "J": "J", "H": "H", "K": "Ks"}
    dark_current = 0.01
    full_well = 130000.0
    zeropoint_ab = {"Y": 26.6, "J": 26.8, "H": 26.9, "K": 26.5}
    site = SITES["Keck"]
    pixscale_unbinned = 0.1799
    amps = (Amp(0, 0, 2048, 2048, 2.15, 14.0, 1500.0, True),)
    crop = (0, 0, 2048, 2048)
    window = (2048, 2048)  # no windowed read-out: see the module docstring
    primary_data = True
    dtype = np.int32

    def filename(self, meta: FrameMeta, setup: Setup) -> str:
        return koa_filename("MF", meta)

    def primary_header(self, meta: FrameMeta, setup: Setup) -> fits.Header:
        kind = meta.kind
        ra, dec = sexagesimal(meta.ra, meta.dec)
        filt = "Dark" if kind == "dark" else self.filters.get(meta.band, "J")
        return fits.Header(
            {
                "TELESCOP": "Keck I",
                "INSTRUME": "MOSFIRE",
                "TARGNAME": meta.object_name,
                "OBJECT": "Dome flat" if kind == "flat" else meta.object_name,
                "ELAPTIME": float(meta.exptime),
                "TRUITIME": float(meta.exptime),
                "FILTER": filt,
                "DWFILNAM": filt,
                "GRATMODE": "spectroscopy" if kind == "spectrum" else "imaging",
                "MASKNAME": {
                    "bad": "CLOSED",
                    "acquisition": "long2pos",
                    "spectrum": "long2pos",
                }.get(kind, "OPEN"),
                "PONAME": "MIRA" if kind == "bad" else "MOSFIRE",
                "NUMREADS": 16,
                "COADDONE": 1,
                "DATE-OBS": meta.date_obs.strftime("%Y-%m-%d"),
                "UTC": meta.date_obs.strftime("%H:%M:%S.%f")[:11],
                "MJD-OBS": meta.date_obs.mjd,
                "RA": ra,
                "DEC": dec,
                "AIRMASS": round(meta.airmass, 3),
                "SYSGAIN": 2.15,
            }
        )

"""Keck DEIMOS direct imaging (KOA names ``DE.20240618.12345.fits.gz``).

Assumptions (no real DEIMOS header in shared data): imaging uses the four CCDs of one row of the
2×4 mosaic, 2k×4k each, one amplifier each, 60-pixel gaps; each CCD is an image extension with
DETSEC/DATASEC/BIASSEC. Keywords as KOA writes them (MOSMODE, OBSMODE, SLMSKNAM, HATCHPOS,
OBSTYPE, DWFILNAM, ELAPTIME, BINNING 'x,y', NVIDINP, MJD-OBS).
"""

from __future__ import annotations

from astropy.io import fits

from potpyri.sim.formats.base import SITES, FrameMeta, Setup, register_format
from potpyri.sim.formats.generic import (
    Amp,
    AmplifierFormat,
    koa_filename,
    koa_time_and_pointing,
)

__all__ = ["Deimos"]


@register_format
class Deimos(AmplifierFormat):
    """DEIMOS: four 2k×4k CCDs, one amplifier each."""

    name = "deimos"
    instrument = "deimos"
    filters = {"g": "g", "r": "R", "i": "I", "z": "Z"}
    fringe_bands = ("z",)
    full_well = 100000.0
    zeropoint_ab = {"g": 28.0, "r": 28.4, "i": 28.2, "z": 27.5}
    site = SITES["Keck"]
    pixscale_unbinned = 0.1185
    amps = tuple(
        Amp(
            k * 2108,
            0,
            2048,
            4096,
            (1.21, 1.23, 1.24, 1.27)[k],
            (2.6, 2.5, 2.7, 2.6)[k],
            (1100.0, 1080.0, 1120.0, 1090.0)[k],
            True,
            k,
        )
        for k in range(4)
    )
    crop = (0, 0, 4096, 8372)
    window = (2048, 2048)

    def filename(self, meta: FrameMeta, setup: Setup) -> str:
        return koa_filename("DE", meta)

    def primary_header(self, meta: FrameMeta, setup: Setup) -> fits.Header:
        bx, by = self._binning(setup)
        kind = meta.kind
        spectral = kind == "spectrum"
        head = fits.Header()
        head.update(
            {
                "TELESCOP": "Keck II",
                "INSTRUME": "DEIMOS",
                "OBJECT": meta.object_name,
                "OBSTYPE": {"bias": "Bias", "flat": "DmFlat"}.get(kind, "Object"),
                "MOSMODE": "Spectral" if spectral else "Direct",
                "OBSMODE": "longslit" if spectral else "imaging",
                # Acquisition images are taken through the slit mask: not "None", so not science.
                "SLMSKNAM": {
                    "spectrum": "LVMslitC",
                    "bad": "GOH_X",
                    "acquisition": "GRB_acq_mask",
                }.get(kind, "None"),
                "HATCHPOS": "closed" if kind == "bias" else "open",
                "PONAME": "MIRA" if kind == "bad" else "DEIMOS",
                "DWFILNAM": self.filters.get(meta.band, "Clear"),
                "ELAPTIME": float(meta.exptime),
                "EXPTIME": float(meta.exptime),
                "BINNING": f"{bx},{by}",
                "NVIDINP": len(self.amps),
                **koa_time_and_pointing(meta, "UTC"),
            }
        )
        if kind == "flat":
            head["OBJECT"] = "DmFlat"
        return head

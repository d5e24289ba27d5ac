"""Keck LRIS, red and blue sides (KOA archive names ``LR.20240618.12345.fits.gz`` / ``LB...``).

Assumptions (no real LRIS header in shared data): the red side is one 4k×4k CCD read by four
amplifiers (quadrants); the reference keeps a 3600×2500 window of it (its static-mask shape). The
blue side is two 2k×4k CCDs with a 111-pixel gap (4207 columns, the blue static-mask shape), two
amplifiers each. Each amplifier is an image extension with DETSEC/DATASEC/BIASSEC. Gains and read
noise from the reference's parameters; KOA keywords (KOAIMTYP, TARGNAME, ELAPTIME, BINNING 'x,y',
SLITNAME, GRANAME/GRISNAME, TRAPDOOR, GRISTRAN, MJD-OBS) written as KOA does.
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

__all__ = ["LrisBlue", "LrisRed"]

_KOAIMTYP = {
    "bias": "bias",
    "flat": "flat",
    "science": "object",
    "short": "object",
    "bad": "focus",
    "spectrum": "object",
    "acquisition": "object",
}


class _Lris(AmplifierFormat):
    instrument = "lris"
    min_exptime = 15.0
    full_well = 120000.0
    pixscale_unbinned = 0.135
    site = SITES["Keck"]
    side = "red"
    prefix = "LR"

    def filename(self, meta: FrameMeta, setup: Setup) -> str:
        return koa_filename(self.prefix, meta)

    def primary_header(self, meta: FrameMeta, setup: Setup) -> fits.Header:
        bx, by = self._binning(setup)
        kind = meta.kind
        filt = self.filters.get(meta.band, "clear") if kind not in ("bias",) else "clear"
        head = fits.Header()
        head.update(
            {
                "TELESCOP": "Keck I",
                "INSTRUME": "LRIS" if self.side == "red" else "LRISBLUE",
                "KOAIMTYP": _KOAIMTYP[kind],
                "TARGNAME": meta.object_name,
                "OBJECT": meta.object_name,
                "ELAPTIME": float(meta.exptime),
                "EXPTIME": float(meta.exptime),
                "TTIME": float(meta.exptime),
                # Slit acquisitions are taken through the slit: not "direct", so not science.
                "SLITNAME": {
                    "bad": "GOH_LRIS",
                    "spectrum": "long_1.0",
                    "acquisition": "long_1.0",
                }.get(kind, "direct"),
                "GRANAME": "mirror",
                "GRISNAME": "clear",
                "TRAPDOOR": "closed" if kind == "bias" else "open",
                "GRISTRAN": "deployed" if kind == "spectrum" else "stowed",
                "BINNING": f"{bx},{by}",
                "NUMAMPS": len(self.amps),
                "AMPMODE": "SINGLE:B",
                **koa_time_and_pointing(meta, "UT"),
                "FILTER": filt,
                "REDFILT" if self.side == "red" else "BLUFILT": filt,
            }
        )
        return head


@register_format
class LrisRed(_Lris):
    """LRIS red side: one 4k×4k CCD, four amplifiers."""

    name = "lris-red"
    side = "red"
    prefix = "LR"
    filters = {"r": "R", "i": "I", "z": "RG850", "g": "G"}
    zeropoint_ab = {"g": 27.9, "r": 28.3, "i": 28.1, "z": 27.4}
    fringe_bands = ("z",)
    amps = (
        Amp(0, 0, 2048, 2048, 1.26, 3.9, 1020.0, False),
        Amp(2048, 0, 2048, 2048, 1.18, 4.2, 1045.0, True),
        Amp(0, 2048, 2048, 2048, 1.22, 3.6, 980.0, False),
        Amp(2048, 2048, 2048, 2048, 1.20, 3.6, 1010.0, True),
    )
    crop = (798, 248, 2500, 3600)
    window = (1800, 1800)


@register_format
class LrisBlue(_Lris):
    """LRIS blue side: two 2k×4k CCDs, two amplifiers each."""

    name = "lris-blue"
    side = "blue"
    prefix = "LB"
    filters = {"u": "U", "g": "G", "B": "B", "V": "V"}
    zeropoint_ab = {"u": 27.0, "g": 28.3}
    amps = (
        Amp(0, 0, 1024, 4096, 1.55, 3.9, 890.0, False, 0),
        Amp(1024, 0, 1024, 4096, 1.56, 4.2, 905.0, True, 0),
        Amp(2159, 0, 1024, 4096, 1.63, 3.6, 920.0, False, 1),
        Amp(3183, 0, 1024, 4096, 1.70, 3.6, 900.0, True, 1),
    )
    crop = (0, 0, 4096, 4207)
    window = (1800, 1800)

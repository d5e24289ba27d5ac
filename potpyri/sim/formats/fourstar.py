"""Magellan FourStar (``fsr_0012_01_c1.fits``): one file per HAWAII-2RG detector, as the spec
describes it (``real_formats.md`` §10; no real FourStar header was seen). The simulator writes
detector c1.

The pixels are in the primary HDU (the user pipeline FSRP reads ``fits.open(f)[0].data``), with
the keywords the spec lists: OBJECT, EXPTIME, FILTER, DATE-OBS (ISO date and time), AIRMASS,
RA/DEC (sexagesimal; the format is not in the spec), TELESCOP, INSTRUME. No GAIN/RDNOISE (the
reader uses the handout's per-detector table), no CCDSUM/NAMPS/DATASEC, no sky WCS, and none of
MMIRS's OBSMODE/APTYPE/MOSID. A full-size file is the whole 2048×2048 array with its 4-pixel
reference border (bias level and read noise only); the small read-out is a 1024×1024 window,
which has no reference pixels.

FourStar has no spectroscopic mode and no header keyword marks a bad frame: the simulator writes
the "spectrum" kind as a focus frame (OBJECT ``<target>_focus``), which the rules set aside, and
the "bad" kind as an ordinary science frame. Darks are named 'Dark'; flats come from the dithered
science frames. The pointing RA/DEC is the simulated detector's centre.
"""

from __future__ import annotations

import numpy as np
from astropy.io import fits

from potpyri.sim.formats.base import SITES, TELESCOPES, FrameMeta, Setup, register_format
from potpyri.sim.formats.generic import Amp, InfraredArrayFormat, sexagesimal

__all__ = ["FourStar"]

BORDER = 4  #: reference pixels around a full array (the reader's options.reference_pixels)


@register_format
class FourStar(InfraredArrayFormat):
    """FourStar detector c1."""

    name = "fourstar"
    instrument = "fourstar"
    filters = {"J": "J", "H": "H", "K": "Ks"}
    calibrations = ("dark",)
    flat_kind = "sky"
    min_exptime = 0.1
    dark_current = 0.05
    full_well = 110000.0
    nonlinearity = (0.02, 0.01)  # generic HgCdTe: 3% low at full well
    zeropoint_ab = {"J": 25.9, "H": 26.0, "K": 25.6}
    site = SITES["Magellan"]
    telescope = TELESCOPES["Magellan"]
    pixscale_unbinned = 0.159
    amps = (Amp(0, 0, 2048, 2048, 2.65, 25.5, 4000.0, True),)
    crop = (BORDER, BORDER, 2048 - 2 * BORDER, 2048 - 2 * BORDER)
    dtype = np.float32
    chip = 1

    def filename(self, meta: FrameMeta, setup: Setup) -> str:
        return f"fsr_{meta.number:04d}_01_c{self.chip}.fits"

    def readout(self, electrons, meta, setup, rng):
        """The detector's image in the primary HDU; at full size, inside its reference border."""
        hdul = super().readout(electrons, meta, setup, rng)
        header = self.primary_header(meta, setup)
        data = hdul[-1].data
        if setup.size == "full":
            amp = self.amps[0]
            full = amp.bias + rng.normal(0.0, amp.rdnoise / amp.gain, (2048, 2048))
            full[BORDER:-BORDER, BORDER:-BORDER] = data
            data = full.astype(self.dtype)
        return fits.HDUList([fits.PrimaryHDU(data, header)])

    def primary_header(self, meta: FrameMeta, setup: Setup) -> fits.Header:
        kind = meta.kind
        ra, dec = sexagesimal(meta.ra, meta.dec)
        target = {"dark": "Dark", "spectrum": f"{meta.object_name}_focus"}.get(
            kind, meta.object_name
        )
        return fits.Header(
            {
                "TELESCOP": "Baade_Mag_1",
                "INSTRUME": "FourStar",
                "OBJECT": target,
                "EXPTIME": float(meta.exptime),
                "FILTER": self.filters.get(meta.band, "J") if kind != "dark" else "J",
                "DATE-OBS": meta.date_obs.isot,
                "AIRMASS": round(meta.airmass, 3),
                "RA": ra,
                "DEC": dec,
            }
        )

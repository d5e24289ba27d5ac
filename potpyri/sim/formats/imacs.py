"""Magellan IMACS f/4 imaging: one file per CCD (``iff0012c2.fits``), as the Carnegie archive
has it.

Assumptions (no real IMACS header in shared data): the 8-CCD f/4 mosaic is read chip by chip into
separate files; the simulator writes the two central CCDs of the top row (c2, c3; 2k×4k each,
60-pixel gap), each a primary image with DATASEC/BIASSEC and its own header. Keywords: OBJECT,
EXPTIME, FILTER, BINNING '1x1', GISMO, SLITMASK 'f/4-imaging', UT-DATE/UT-TIME, MJD, RA/DEC
sexagesimal. Flats are twilight flats (OBJECT 'twiflat'); the reference uses no biases.
"""

from __future__ import annotations

import numpy as np
from astropy.io import fits

from potpyri.sim.formats.base import SITES, FrameMeta, Setup, register_format
from potpyri.sim.formats.generic import Amp, AmplifierFormat, sexagesimal

__all__ = ["Imacs"]


@register_format
class Imacs(AmplifierFormat):
    """IMACS f/4: chips c2 and c3, each its own file."""

    name = "imacs"
    instrument = "imacs"
    filters = {"g": "Sloan_g", "r": "Sloan_r", "i": "Sloan_i", "z": "Sloan_z"}
    calibrations = ("flat",)
    flat_kind = "twilight"
    full_well = 150000.0
    zeropoint_ab = {"g": 27.4, "r": 27.6, "i": 27.4, "z": 26.6}
    site = SITES["Magellan"]
    pixscale_unbinned = 0.111
    amps = (
        Amp(0, 0, 2048, 4096, 0.90, 4.0, 760.0, True, 1),
        Amp(2108, 0, 2048, 4096, 0.93, 4.0, 740.0, True, 2),
    )
    crop = (0, 0, 4096, 4156)
    window = (1800, 1800)
    primary_data = True

    def filename(self, meta: FrameMeta, setup: Setup) -> str:
        return f"iff{meta.number:04d}c1.fits"

    def split_files(self, hdul: fits.HDUList, meta: FrameMeta, setup: Setup):
        """One file per chip (``iff0012c2.fits``, ``iff0012c3.fits``), with the chip's mosaic
        region."""
        regions = {amp.chip + 1: self._mosaic_slices(amp, setup) for amp in self.amps}
        return [
            (
                f"iff{meta.number:04d}c{h.header['CHIP']}.fits",
                fits.HDUList([fits.PrimaryHDU(np.asarray(h.data), h.header)]),
                regions[h.header["CHIP"]],
            )
            for h in hdul[1:]
        ]

    def readout(self, electrons, meta, setup, rng):
        """Every chip's image as an extension; :meth:`split_files` makes one file of each."""
        files = []
        for amp in self.amps:
            if self._mosaic_slices(amp, setup) is None:
                continue
            single = _one_chip(self, amp)
            hdul = AmplifierFormat.readout(single, electrons, meta, setup, rng)
            hdul[0].header["CHIP"] = amp.chip + 1
            files.append(hdul[0])
        return fits.HDUList(
            [fits.PrimaryHDU(header=files[0].header.copy())]
            + [fits.ImageHDU(h.data, h.header, name=f"CHIP{h.header['CHIP']}") for h in files]
        )

    def primary_header(self, meta: FrameMeta, setup: Setup) -> fits.Header:
        bx, by = self._binning(setup)
        ra, dec = sexagesimal(meta.ra, meta.dec)
        kind = meta.kind
        return fits.Header(
            {
                "TELESCOP": "Baade_Mag_1",
                "INSTRUME": "IMACS Long-Camera",
                "OBJECT": {"flat": "twiflat", "acquisition": "acquisition"}.get(
                    kind, meta.object_name
                ),
                "EXPTIME": float(meta.exptime),
                "FILTER": self.filters.get(meta.band, "Sloan_r"),
                "BINNING": f"{bx}x{by}",
                "GISMO": "Gri-300-17.5" if kind == "spectrum" else "none",
                "SLITMASK": {"acquisition": "f/4-slitmask", "spectrum": "f/4-slitmask"}.get(
                    kind, "f/4-imaging"
                ),
                "UT-DATE": meta.date_obs.strftime("%Y-%m-%d"),
                "UT-TIME": meta.date_obs.strftime("%H:%M:%S"),
                "MJD": round(meta.date_obs.mjd, 6),
                "RA": ra,
                "DEC": dec,
                "AIRMASS": round(meta.airmass, 3),
                "QUALITY": "bad" if kind == "bad" else "ok",
            }
        )


def _one_chip(fmt: Imacs, amp: Amp):
    clone = object.__new__(type(fmt))
    clone.__dict__.update(fmt.__dict__)
    clone.amps = (amp,)
    return clone

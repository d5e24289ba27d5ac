"""Magellan IMACS f/4 imaging: one file per CCD (``iff0012c2.fits``), as the spec describes it
(``real_formats.md`` §9; no real IMACS header was seen, every fact is from third-party code).

Each chip file holds its pixels and every keyword in the primary HDU: DATASEC and BIASSEC (the
overscan columns after the data), EGAIN/ENOISE, BINNING ``'2x2'``, CHIP, CHOFFX/CHOFFY, RA-D/DEC-D
(the centre of the whole 8-chip field), RA/DEC (sexagesimal), ROTANGLE, SCALE, EXPTYPE, OBJECT,
EXPTIME, FILTER, DATE-OBS/UT-DATE/UT-TIME, AIRMASS, GISMO, SLITMASK, DEWAR, INSTRUME and
TELESCOP; no DETSEC, CCDSUM, GAIN, RDNOISE, MJD or sky WCS (the real chips have none).

The simulated focal plane is the two central CCDs of the row of chips 1-4, read in the orientation
of chips 1-4 (the reader's output): in that frame (x flipped from PHOTRED's sky-right layout
``1 2 3 4``) chip 3 is on the left and chip 2 on the right, 41 unbinned pixels apart (PHOTRED),
and the row of chips 5-8 lies below, 41 pixels further. The pointing RA-D/DEC-D is the centre of
that whole field; CHOFFX/CHOFFY are the offsets (arcsec) from each file's centre to it. At size
"small" a chip file is a window of the chip, binned 2×2, and its offsets are from the window's
centre (IMACS's sub-raster keywords are not known). ROTANGLE is the position angle plus the
rotator zero point 43.77° the reader takes off. Flats are twilight flats (OBJECT 'twiflat'); the
reference uses no biases.
"""

from __future__ import annotations

import numpy as np
from astropy.io import fits
from astropy.wcs import WCS

from potpyri.sim.formats.base import SITES, TELESCOPES, FrameMeta, Setup, register_format
from potpyri.sim.formats.generic import Amp, AmplifierFormat, sexagesimal

__all__ = ["Imacs"]

GAP = 41  #: unbinned pixels between chips (PHOTRED wcsfit_imacs.pro)
ROTATOR_ZERO = 43.77  #: ROTANGLE at position angle 0 (Lisp IMACS module: ROTANGLE - 43.77)
#: Keywords the generic amplifier read-out writes that IMACS chip files do not have.
_NOT_IMACS = ("DETSEC", "CCDSUM", "GAIN", "RDNOISE", "AMPNAME", "CCDNAME", "RADESYS", "EQUINOX")


@register_format
class Imacs(AmplifierFormat):
    """IMACS f/4: chips 3 and 2 (left to right), each its own file."""

    name = "imacs"
    instrument = "imacs"
    filters = {"g": "Sloan_g", "r": "Sloan_r", "i": "Sloan_i", "z": "Sloan_z"}
    calibrations = ("flat",)
    flat_kind = "twilight"
    full_well = 150000.0
    zeropoint_ab = {"g": 27.4, "r": 27.6, "i": 27.4, "z": 26.6}
    site = SITES["Magellan"]
    telescope = TELESCOPES["Magellan"]
    pixscale_unbinned = 0.111
    amps = (
        Amp(0, 0, 2048, 4096, 0.90, 4.0, 760.0, True, 2),  # chip 3
        Amp(2048 + GAP, 0, 2048, 4096, 0.93, 4.0, 740.0, True, 1),  # chip 2
    )
    crop = (0, 0, 4096, 4096 + GAP)
    window = (1800, 1800)
    primary_data = True
    #: Unbinned (x, y) of the centre of the whole 8-chip field: between chips 3 and 2, half a
    #: gap below this row.
    field_centre = (2048 + GAP / 2, -GAP / 2)

    def filename(self, meta: FrameMeta, setup: Setup) -> str:
        return f"iff{meta.number:04d}c2.fits"

    def split_files(self, hdul: fits.HDUList, meta: FrameMeta, setup: Setup):
        """One file per chip (``iff0012c3.fits``, ``iff0012c2.fits``), with the chip's mosaic
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
        pointing = self._field_pointing(meta, setup)
        for amp in self.amps:
            region = self._mosaic_slices(amp, setup)
            if region is None:
                continue
            single = _one_chip(self, amp)
            hdu = AmplifierFormat.readout(single, electrons, meta, setup, rng)[0]
            header = hdu.header
            for key in (*_NOT_IMACS, *(k for k in header if k[:2] in ("CT", "CR", "CD"))):
                header.remove(key, ignore_missing=True, remove_all=True)
            header.update(self._chip_cards(amp, region, pointing, setup))
            files.append(hdu)
        return fits.HDUList(
            [fits.PrimaryHDU(header=files[0].header.copy())]
            + [fits.ImageHDU(h.data, h.header, name=f"CHIP{h.header['CHIP']}") for h in files]
        )

    def _field_pointing(self, meta: FrameMeta, setup: Setup) -> tuple[float, float]:
        """RA, Dec (deg) of the whole field's centre, from the header pointing of the simulated
        region's centre through the nominal WCS."""
        geometry = self.geometry(setup)
        pa = np.deg2rad(meta.position_angle)
        cd = np.array([[np.cos(pa), -np.sin(pa)], [np.sin(pa), np.cos(pa)]]) @ geometry.cd_nominal
        wcs = WCS(naxis=2)
        wcs.wcs.ctype = ["RA---TAN", "DEC--TAN"]
        wcs.wcs.crval = [meta.ra, meta.dec]
        wcs.wcs.crpix = list(geometry.crpix_or_center)
        wcs.wcs.cd = cd
        ra, dec = wcs.all_pix2world([self._field_pixel(setup)], 0)[0]
        return float(ra) % 360.0, float(dec)

    def _field_pixel(self, setup: Setup) -> tuple[float, float]:
        """0-based binned mosaic pixel (x, y) of the field centre."""
        bx, by = self._binning(setup)
        ry, rx, _, _ = self._region(setup)
        return (
            (self.field_centre[0] - rx) / bx - 0.5,
            (self.field_centre[1] - ry) / by - 0.5,
        )

    def _chip_cards(self, amp: Amp, region, pointing, setup: Setup) -> dict:
        """The chip's gain, binning and place: offset (arcsec) from its centre to the field's."""
        bx, by = self._binning(setup)
        fx, fy = self._field_pixel(setup)
        cx = (region[1].start + region[1].stop - 1) / 2.0
        cy = (region[0].start + region[0].stop - 1) / 2.0
        ra, dec = sexagesimal(*pointing)
        return {
            "EGAIN": amp.gain,
            "ENOISE": amp.rdnoise,
            "BINNING": f"{bx}x{by}",
            "CHIP": amp.chip + 1,
            "DEWAR": "Mosaic3",
            "CHOFFX": round((fx - cx) * bx * self.pixscale_unbinned, 4),
            "CHOFFY": round((fy - cy) * by * self.pixscale_unbinned, 4),
            "RA-D": round(pointing[0], 7),
            "DEC-D": round(pointing[1], 7),
            "RA": ra,
            "DEC": dec,
            "SCALE": self.pixscale_unbinned,
        }

    def primary_header(self, meta: FrameMeta, setup: Setup) -> fits.Header:
        kind = meta.kind
        return fits.Header(
            {
                "TELESCOP": "Baade_Mag_1",
                "INSTRUME": "IMACS Long-Camera",
                "OBJECT": {"flat": "twiflat", "acquisition": "acquisition"}.get(
                    kind, meta.object_name
                ),
                "EXPTYPE": {"bias": "Bias", "dark": "Dark"}.get(kind, "Object"),
                "EXPTIME": float(meta.exptime),
                "FILTER": self.filters.get(meta.band, "Sloan_r"),
                "GISMO": "Gri-300-17.5" if kind == "spectrum" else "none",
                "SLITMASK": {"acquisition": "f/4-slitmask", "spectrum": "f/4-slitmask"}.get(
                    kind, "f/4-imaging"
                ),
                "DATE-OBS": meta.date_obs.strftime("%Y-%m-%d"),
                "UT-DATE": meta.date_obs.strftime("%Y-%m-%d"),
                "UT-TIME": meta.date_obs.strftime("%H:%M:%S.%f"),
                "AIRMASS": round(meta.airmass, 3),
                "ROTANGLE": round(meta.position_angle + ROTATOR_ZERO, 4),
            }
        )


def _one_chip(fmt: Imacs, amp: Amp):
    clone = object.__new__(type(fmt))
    clone.__dict__.update(fmt.__dict__)
    clone.amps = (amp,)
    return clone

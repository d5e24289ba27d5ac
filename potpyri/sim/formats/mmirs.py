"""MMT MMIRS imaging (``SIM01_GRB.0012.fits``): an up-the-ramp exposure as the MMT writes it.

Layout (real_formats.md §8.1, from the MMT tools, PypeIt and PyPhot; no real MMIRS header was
available): a data-less primary (``EXTEND = T``), then the reads of the ramp as image extensions,
**extension 1 = last read, extension 2 = first read**; the instrument keywords are in extension 1
(OBJECT, EXPTIME, FILTER, DATE-OBS with the time, CCDSUM, DATASEC, AIRMASS, RA in decimal hours,
DEC, IMAGETYP, APTYPE, APERTURE, DISPERSE, GAIN, PI, PROPID). The array is a 2048×2048 HAWAII-2RG
read by 32 channels of 64 columns with a 4-pixel reference border that sees no light; each read
has the reset pedestal plus per-channel offsets (even and odd columns apart) that change between
reads, which the reader's reference-pixel correction removes. The signal between the first and
last read is the exposure (EXPTIME counts from the first read).

``MOSID`` is written because the reference's bad-frame rule reads it; no other source shows it
(UNCERTAIN). ``size="small"`` reads a 1032×1032 sub-array (1024² plus the reference border),
a simulation convenience. No flats in the night: as the reference does, flats come from the
dithered science frames themselves.
"""

from __future__ import annotations

import numpy as np
from astropy.io import fits

from potpyri.sim.formats.base import (
    SITES,
    TELESCOPES,
    FrameMeta,
    Geometry,
    RawFormat,
    Setup,
    register_format,
)

__all__ = ["Mmirs"]

_BORDER = 4  # reference pixels at each edge
_CHANNEL = 64  # columns per read-out channel


@register_format
class Mmirs(RawFormat):
    """MMIRS: one 2k×2k HAWAII-2RG, two reads (last, first) per file."""

    name = "mmirs"
    instrument = "mmirs"
    wavelength = "NIR"
    filters = {"J": "J", "H": "H", "K": "Ks"}
    calibrations = ("dark",)
    flat_kind = "sky"
    min_exptime = 0.1
    dark_current = 0.05
    full_well = 120000.0
    nonlinearity = (0.02, 0.01)  # generic HgCdTe: 3% low at full well
    zeropoint_ab = {"J": 26.2, "H": 26.3, "K": 25.9}
    site = SITES["MMT"]
    telescope = TELESCOPES["MMT"]
    default_setup = Setup(binning=(1, 1), size="small")
    pixscale_unbinned = 0.202
    gain = 2.68  # e-/ADU written to GAIN (PyPhot's value; the header is the reader's source)
    rdnoise = 3.14  # e- of the last - first difference (PypeIt)
    pedestal = 9000.0  # ADU, reset level of the first read

    def geometry(self, setup: Setup) -> Geometry:
        side = 2048 - 2 * _BORDER if setup.size == "full" else 1024
        return Geometry(shape=(side, side), pixscale=self.pixscale_unbinned)

    def filename(self, meta: FrameMeta, setup: Setup) -> str:
        return f"{meta.object_name.replace(' ', '_')}.{meta.number:04d}.fits"

    def readout(
        self, electrons: np.ndarray, meta: FrameMeta, setup: Setup, rng: np.random.Generator
    ) -> fits.HDUList:
        ny, nx = electrons.shape
        signal = np.zeros((ny + 2 * _BORDER, nx + 2 * _BORDER))
        signal[_BORDER:-_BORDER, _BORDER:-_BORDER] = electrons / self.gain
        per_read = self.rdnoise / self.gain / np.sqrt(2.0)
        pattern = np.random.default_rng(4242).normal(0.0, 30.0, signal.shape)  # fixed pedestal
        reads = []
        for level in (signal, 0.0):  # last read (signal accumulated), then first read
            # channel offsets (even and odd columns apart) that differ from read to read
            offsets = rng.normal(0.0, 8.0, (signal.shape[1] // _CHANNEL + 1, 2))
            columns = np.arange(signal.shape[1])
            channel = offsets[columns // _CHANNEL, columns % 2]
            read = (
                self.pedestal
                + pattern
                + channel[None, :]
                + level
                + rng.normal(0.0, per_read, signal.shape)
            )
            reads.append(np.clip(np.round(read), 0, 65535).astype(np.uint16))
        header = self.image_header(meta, setup, signal.shape)
        primary = fits.PrimaryHDU()
        primary.header["EXTEND"] = True
        return fits.HDUList(
            [primary, fits.ImageHDU(reads[0], header), fits.ImageHDU(reads[1], fits.Header())]
        )

    def image_header(self, meta: FrameMeta, setup: Setup, shape: tuple[int, int]) -> fits.Header:
        """Extension 1: the instrument keywords (real_formats.md §8.3)."""
        kind = meta.kind
        ny, nx = shape
        imagetyp = {"dark": "dark", "flat": "flat"}.get(kind, "object")
        return fits.Header(
            {
                "TELESCOP": "MMT",
                "INSTRUME": "MMIRS",
                "OBJECT": "dark" if kind == "dark" else meta.object_name,
                "EXPTIME": float(meta.exptime),
                "FILTER": "dark" if kind == "dark" else self.filters.get(meta.band, "J"),
                "IMAGETYP": imagetyp,
                "APTYPE": "mos" if kind == "acquisition" else "open",
                "APERTURE": "open",
                "DISPERSE": "HK" if kind == "spectrum" else "open",
                "MOSID": "closed" if kind == "bad" else "open",
                "CCDSUM": "1 1",
                "DATASEC": f"[{_BORDER + 1}:{nx - _BORDER},{_BORDER + 1}:{ny - _BORDER}]",
                "GAIN": self.gain,
                "DATE-OBS": meta.date_obs.strftime("%Y-%m-%dT%H:%M:%S.%f")[:23],
                "RA": meta.ra / 15.0,
                "DEC": meta.dec,
                "AIRMASS": round(meta.airmass, 3),
                "PI": "Simulated",
                "PROPID": "SIM-0000",
            }
        )

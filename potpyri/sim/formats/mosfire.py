"""Keck MOSFIRE imaging (KOA names ``MF.20240618.12345.fits.gz``), in the layout of the spec.

No real MOSFIRE file was reachable; the layout follows spec section 6 (KOA data-format page,
keyword table, MosfireDRP ``IO.py``): the 2048×2048 image and the whole header (with the sky WCS)
in the primary HDU, then four ASCII tables of the CSU configuration (``Target_List``,
``Science_Slit_List``, ``Mechanical_Slit_List``, ``Alignment_Slit_List``). Native keywords only
(no KOA-added ``ELAPTIME``, ``FRAMENO``, ``KOAIMTYP``, and no DEIMOS ``DWFILNAM``): the exposure is
``TRUITIME`` × ``COADDONE``, the gain ``SYSGAIN``, the read noise follows ``NUMREADS``. No
DETSEC/DATASEC/CCDSUM/GAIN/RDNOISE: the H2RG has no overscan; its outer 4 rows and columns are
reference pixels (rendered like the others here; the reference's static mask masks them).

Size "small" reads the whole array, as "full" does: the reference processes MOSFIRE images only
at their full 2048×2048 shape (its static mask), and a 3′ central window of a high-latitude field
holds ~3 Gaia stars, too few for any plate solution.
"""

from __future__ import annotations

import numpy as np
from astropy.io import fits

from potpyri.sim.formats.base import SITES, TELESCOPES, FrameMeta, Setup, register_format
from potpyri.sim.formats.generic import Amp, InfraredArrayFormat, koa_filename

__all__ = ["Mosfire"]

#: Read noise in e- by NUMREADS (POTPyRI MOSFIRE.get_rdnoise); the simulator reads 16.
RDNOISE_BY_NUMREADS = {1: 21.0, 4: 10.8, 8: 7.7, 16: 5.8, 32: 4.2, 64: 3.5, 128: 3.0}
CSU_TABLES = ("Target_List", "Science_Slit_List", "Mechanical_Slit_List", "Alignment_Slit_List")


@register_format
class Mosfire(InfraredArrayFormat):
    """MOSFIRE: one 2k×2k HAWAII-2RG array."""

    name = "mosfire"
    instrument = "mosfire"
    filters = {"Y": "Y", "J": "J", "H": "H", "K": "Ks"}
    dark_current = 0.01
    full_well = 130000.0
    nonlinearity = (0.02, 0.01)  # generic HgCdTe: 3% low at full well
    zeropoint_ab = {"Y": 26.6, "J": 26.8, "H": 26.9, "K": 26.5}
    site = SITES["Keck"]
    telescope = TELESCOPES["Keck"]
    pixscale_unbinned = 0.1799
    numreads = 16
    amps = (Amp(0, 0, 2048, 2048, 2.15, RDNOISE_BY_NUMREADS[16], 1500.0, True),)
    crop = (0, 0, 2048, 2048)
    window = (2048, 2048)  # no windowed read-out: see the module docstring
    dtype = np.int32

    def filename(self, meta: FrameMeta, setup: Setup) -> str:
        return koa_filename("MF", meta)

    def coadds(self, meta: FrameMeta) -> int:
        """Coadds summed into the one image (COADDONE); one, so that the noise of a night
        matches the accuracy tests' (two coadds are checked in tests/instruments)."""
        return 1

    def readout(
        self, electrons: np.ndarray, meta: FrameMeta, setup: Setup, rng: np.random.Generator
    ) -> fits.HDUList:
        (amp,) = self.amps
        sl = self._mosaic_slices(amp, setup)
        signal = electrons[sl]
        coadds = self.coadds(meta)
        # Each coadd has its own read noise; the stored image is their sum. The pedestal is
        # kept one level whatever the coadds, so that darks of one coadd remove it.
        noise = amp.rdnoise / amp.gain * np.sqrt(coadds)
        adu = signal / amp.gain + amp.bias + rng.normal(0.0, noise, signal.shape)
        raw = np.clip(np.round(adu), 0, 2.0**31 - 1).astype(np.int32)
        header = self.primary_header(meta, setup)
        cards = self._wcs_cards(meta, setup, sl, amp)
        for key in ("CTYPE1", "CTYPE2", "CRVAL1", "CRVAL2", "CRPIX1", "CRPIX2"):
            header[key] = cards[key]
        for key in ("CD1_1", "CD1_2", "CD2_1", "CD2_2", "RADESYS", "EQUINOX"):
            header[key] = cards[key]
        tables = [
            fits.TableHDU.from_columns(
                [fits.Column(name="Name", format="A16", array=np.array(["none"]))], name=name
            )
            for name in CSU_TABLES
        ]
        return fits.HDUList([fits.PrimaryHDU(raw, header), *tables])

    def primary_header(self, meta: FrameMeta, setup: Setup) -> fits.Header:
        kind = meta.kind
        filt = "Dark" if kind == "dark" else self.filters.get(meta.band, "J")
        coadds = self.coadds(meta)
        truitime = float(meta.exptime) / coadds
        return fits.Header(
            {
                "TELESCOP": "Keck I",
                "INSTRUME": "MOSFIRE",
                "TARGNAME": meta.object_name,
                "OBJECT": "Dome flat" if kind == "flat" else meta.object_name,
                "TRUITIME": truitime,
                "ITIME": int(round(truitime * 1000)),  # ms per coadd
                "COADDS": coadds,
                "COADDONE": coadds,
                "EXPTIME": truitime,
                "FILTER": filt,
                "GRATMODE": "spectroscopy" if kind == "spectrum" else "imaging",
                "OBSMODE": f"{filt}-{'spectroscopy' if kind == 'spectrum' else 'imaging'}",
                "MASKNAME": {
                    "bad": "closed",
                    "acquisition": "long2pos",
                    "spectrum": "long2pos",
                }.get(kind, "open"),
                "PONAME": "MIRA" if kind == "bad" else "MOSFIRE",
                "FLATSPEC": 0,
                "PWSTATA7": 0,
                "PWSTATA8": 0,
                "NUMREADS": self.numreads,
                "READDONE": self.numreads,
                "SYSGAIN": 2.15,
                "SATURATE": 65000.0,
                "DATE-OBS": meta.date_obs.strftime("%Y-%m-%d"),
                "UTC": meta.date_obs.strftime("%H:%M:%S.%f")[:11],
                "MJD-OBS": meta.date_obs.mjd,
                "FRAMENUM": meta.number,
                "RA": meta.ra,  # degrees (KOA keyword table)
                "DEC": meta.dec,
                # the sim turns +y from north through west; a sky PA turns it through east
                "ROTPOSN": (-meta.position_angle) % 360.0,
                "ROTMODE": "PA",
                "AIRMASS": round(meta.airmass, 3),
            }
        )

"""Gemini Flamingos-2 (``S20240618S0012.fits.bz2``), in the layout of the real raw files.

From the real raw headers (``shared/data/real_raw/f2``, opencadc/gem2caom2) and darks
(``shared/data/f2_darks``), spec section 3: a data-less primary header with the observation
keywords, and one image extension without EXTNAME holding a ``(1, ny, nx)`` int32 cube with the
pointing WCS (CD matrix, ``RADECSYS``), ``AXISLAB1..3`` and ``EXTVER``. No DETSEC, DATASEC,
BIASSEC or CCDSUM: the HAWAII-2 plane is reset-subtracted (a pedestal of ~33 ADU, as in the real
darks), with no overscan. ``RDNOISE`` is written as 0, as the real files do. At position angle 0
+x points north and +y east (real CD matrices; DRAGONS PA of +y = PA + 90). Flats are lamp-on GCAL
flats (``GCALSHUT='OPEN'``); darks are taken with the DK grism, as S20191214S0301.
"""

from __future__ import annotations

import numpy as np
from astropy.io import fits
from astropy.time import TimeDelta

from potpyri.sim.formats.base import SITES, TELESCOPES, FrameMeta, Setup, register_format
from potpyri.sim.formats.generic import Amp, InfraredArrayFormat

__all__ = ["Flamingos2"]

#: Extension-1 cards of the real files that the simulator writes (besides the data structure).
_EXT_WCS = ("CD1_1", "CD1_2", "CD2_1", "CD2_2", "CRPIX1", "CRPIX2", "CRVAL1", "CRVAL2")


@register_format
class Flamingos2(InfraredArrayFormat):
    """Flamingos-2 imaging: one 2k×2k HAWAII-2 array."""

    name = "f2"
    instrument = "f2"
    filters = {"Y": "Y_G0811", "J": "J_G0802", "H": "H_G0803", "K": "Ks_G0804"}
    dark_current = 0.5
    full_well = 155000.0
    nonlinearity = (0.02, 0.01)  # generic HgCdTe: 3% low at full well
    zeropoint_ab = {"Y": 26.0, "J": 26.3, "H": 26.4, "K": 26.0}
    site = SITES["Gemini-South"]
    telescope = TELESCOPES["Gemini-South"]
    pixscale_unbinned = 0.1792
    # Bright mode (LNRS=1): gain 4.44 e-/ADU, 11.7 e- (DRAGONS f2/lookup.py); pedestal 33 ADU.
    amps = (Amp(0, 0, 2048, 2048, 4.44, 11.7, 33.0, True),)
    crop = (0, 0, 2048, 2048)
    cube = True
    dtype = np.int32
    adc_max = 2.0**31 - 1
    #: +x north, +y east at position angle 0 (real headers S20170905S0318, S20210522S0033).
    orientation = ((0.0, 1.0), (1.0, 0.0))

    def filename(self, meta: FrameMeta, setup: Setup) -> str:
        return f"S{meta.date_obs.strftime('%Y%m%d')}S{meta.number:04d}.fits.bz2"

    def readout(
        self, electrons: np.ndarray, meta: FrameMeta, setup: Setup, rng: np.random.Generator
    ) -> fits.HDUList:
        (amp,) = self.amps
        sl = self._mosaic_slices(amp, setup)
        signal = electrons[sl]
        adu = signal / amp.gain + amp.bias + rng.normal(0.0, amp.rdnoise / amp.gain, signal.shape)
        # Reset-subtracted reads go negative (real darks: down to -863 ADU): no clip at 0.
        raw = np.clip(np.round(adu), -self.adc_max, self.adc_max).astype(np.int32)
        cards = self._wcs_cards(meta, setup, sl, amp)
        header = fits.Header()
        header["AXISLAB1"] = ("Xaxis", "Axis label")
        header["AXISLAB2"] = ("Yaxis", "Axis label")
        header["AXISLAB3"] = ("Extensions", "Axis label")
        for key in _EXT_WCS:
            header[key] = cards[key]
        header["CD3_3"] = 1.0
        header["MJD-OBS"] = meta.date_obs.mjd
        header["INHERIT"] = False
        header["CTYPE1"], header["CTYPE2"] = "RA---TAN", "DEC--TAN"
        header["RADECSYS"] = "FK5"
        header["EXTVER"] = 1
        image = fits.ImageHDU(raw[None], header)  # no EXTNAME: AstroData adds SCI later
        return fits.HDUList([fits.PrimaryHDU(header=self.primary_header(meta, setup)), image])

    def primary_header(self, meta: FrameMeta, setup: Setup) -> fits.Header:
        kind = meta.kind
        filt = self.filters.get(meta.band, "J_G0802") if kind != "dark" else "H_G0803"
        start = meta.date_obs
        end = start + TimeDelta(float(meta.exptime), format="sec")
        label = self.filename(meta, setup).split(".")[0]
        header = fits.Header(
            {
                "INSTRUME": "F2",
                "OBJECT": {"dark": "Dark", "flat": "GCALflat", "acquisition": "Acquisition"}.get(
                    kind, meta.object_name
                ),
                "OBSTYPE": {"dark": "DARK", "flat": "FLAT"}.get(kind, "OBJECT"),
                "OBSCLASS": {"dark": "dayCal", "flat": "dayCal", "acquisition": "acq"}.get(
                    kind, "science"
                ),
                "OBSERVAT": "Gemini-South",
                "TELESCOP": "Gemini-South",
                "RA": meta.ra,
                "DEC": meta.dec,
                # The sim turns +y from north through west by position_angle; F2's PA is
                # measured through east.
                "PA": (-meta.position_angle) % 360.0 if kind not in ("dark", "flat") else -9999.0,
                "RAWGEMQA": "FAIL" if kind == "bad" else "USABLE",
                "UT": start.strftime("%H:%M:%S.%f")[:10],
                "DATE-OBS": start.strftime("%Y-%m-%d"),
                "TIME-OBS": start.strftime("%H:%M:%S.%f")[:10],
                "READMODE": "Bright",
                "NREADS": 1,
                "AIRMASS": round(meta.airmass, 3),
                "COADDS": 1,
                "GRORDER": 1 if kind == "spectrum" else 0,
                "LNRS": 1,
                "EXPTIME": float(meta.exptime),
                "GAIN": 4.44,
                # float32 precision, as in the real files (steps of 1/256 day)
                "MJD-OBS": float(np.float32(start.mjd)),
                "RDNOISE": 0.0,  # the real files' value, never read
                "DECKER": {
                    "bad": "Closed",
                    "spectrum": "Long_slit",
                    "acquisition": "Long_slit",
                }.get(kind, "Open"),
                "DHSLABEL": label,
                "FILTER": filt,
                "FILTER1": filt,
                "FILTER2": "Open",
                "GRISM": {"spectrum": "JH_G5801", "dark": "DK_G5804"}.get(kind, "Open"),
                "MASKNAME": {"spectrum": "4pix-slit", "acquisition": "4pix-slit"}.get(kind, "None"),
                "MOSPOS": "Open",
                "UTEND": end.strftime("%H:%M:%S.%f"),
                "UTSTART": start.strftime("%H:%M:%S.%f"),
                "ORIGNAME": f"{label}.fits",
            }
        )
        if kind == "flat":
            header["GCALLAMP"] = "IRhigh"
            header["GCALSHUT"] = "OPEN"  # lamp-on; the lamp-off half of a pair is set aside
        return header

"""Gemini Flamingos-2 raw reader: one HAWAII-2 array stored as a one-plane int32 cube.

Facts from the specification of the real formats (``shared/spec/real_formats.md`` section 3),
checked on the real headers from ``opencadc/gem2caom2`` and the real 2013 darks:

* the primary HDU has no pixels; the one image extension (no EXTNAME: AstroData adds ``SCI``
  later) holds a ``(1, 2048, 2048)`` ``>i4`` cube (DRAGONS ``f2/primitives_f2.py``
  standardizeStructure drops the third axis);
* the plane is reset-subtracted (sum of ``LNRS`` read pairs, in ADU): no overscan, no bias level,
  data section = the whole array (DRAGONS ``f2/adclass.py`` data_section);
* the header ``GAIN`` (4.44 e-/ADU) ignores that the reads are summed: DRAGONS divides it by
  ``LNRS`` (``Options.gain_per_read_pair``); the header ``RDNOISE`` is 0 in every raw file, so the
  read noise comes from the table by ``LNRS`` (``Options.rdnoise_by_lnrs``);
* the extension carries a pointing-model TAN WCS whose ``CTYPE1``/``CTYPE2`` are corrupted in
  newer files (``'?'``, ``'?3'``); they are reset to ``RA---TAN``/``DEC--TAN`` and the third axis
  is dropped.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from astropy.io import fits
from astropy.wcs import FITSFixedWarning

from potpyri.instruments.base import (
    LINEAR_WCS_KEYS,
    RawImage,
    Reader,
    ReaderError,
    image_hdus,
    image_shape,
    open_raw,
)

__all__ = ["F2Reader", "image_hdu", "repaired_wcs"]

#: Celestial WCS cards copied from the image extension (F2 writes RADECSYS, not RADESYS).
_WCS_KEYS = (*LINEAR_WCS_KEYS, "RADECSYS", "RADESYS", "EQUINOX")
#: The projection each celestial axis must have (spec 3.5: the comments keep the right names).
_CTYPES = {"CTYPE1": "RA---TAN", "CTYPE2": "DEC--TAN"}


def image_hdu(hdul: fits.HDUList, path: Path) -> fits.ImageHDU | fits.PrimaryHDU:
    """The HDU holding the image, chosen by content: the first with 2-D data, or 3-D data of a
    single plane (F2's cube). Tables (MOSFIRE's CSU lists) and data-less HDUs are skipped."""
    for hdu in image_hdus(hdul, ndims=(2, 3)):
        shape = image_shape(hdu.header)
        if len(shape) == 2 or shape[2] == 1:
            return hdu
    raise ReaderError(f"{Path(path).name}: no HDU holds a 2-D image (or a one-plane cube)")


def repaired_wcs(head: fits.Header) -> fits.Header:
    """The linear celestial WCS of ``head`` with F2's corrupted CTYPE values reset and no third
    axis (``CD3_3``, ``NAXIS3`` are not copied)."""
    wcs = fits.Header([(key, head[key]) for key in _WCS_KEYS if key in head])
    if "CD1_1" not in wcs:
        return fits.Header()
    for key, ctype in _CTYPES.items():
        if str(wcs.get(key, "")).strip() != ctype:
            wcs[key] = (ctype, "reset: raw F2 value was corrupted")
    if "RADECSYS" in wcs:  # the deprecated spelling; astropy wants RADESYS
        wcs["RADESYS"] = wcs["RADECSYS"]
        del wcs["RADECSYS"]
    return wcs


@dataclass
class F2Options:
    """Flamingos-2 settings (``instrument.options``)."""

    #: Read noise in electrons by LNRS (number of non-destructive read pairs).
    rdnoise_by_lnrs: dict = field(default_factory=dict)
    #: Divide the header gain by LNRS (DRAGONS: the reads are summed in ADU); False: POTPyRI's
    #: and PypeIt's 4.44 e-/ADU in every read mode (spec 3.2 CONFLICT).
    gain_per_read_pair: bool = True


class F2Reader(Reader):
    """Read one Flamingos-2 raw file into a 2048×2048 float32 image in ADU."""

    Options = F2Options
    reads = frozenset({"gain", "gain_keyword"})

    def assemble(self, path: Path) -> RawImage:
        with open_raw(path, self.unpacked) as hdul:
            header = self.classification_header(hdul)
            hdu = image_hdu(hdul, path)
            data = np.asarray(hdu.data, dtype=np.float32)
            wcs = repaired_wcs(hdu.header)
        if data.ndim == 3:
            data = data[0]
        lnrs = self._lnrs(header, path)
        gain = self.amplifier_value("gain", header, 0, path)
        if self.options.gain_per_read_pair:
            gain /= lnrs
        table = {int(k): float(v) for k, v in self.options.rdnoise_by_lnrs.items()}
        if lnrs not in table:
            raise ReaderError(
                f"{Path(path).name}: LNRS={lnrs} has no read noise in "
                f"instrument.options.rdnoise_by_lnrs (known: {sorted(table)})"
            )
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", FITSFixedWarning)
            header.update(wcs)
        return RawImage(data, header, np.float32(gain), np.float32(table[lnrs]))

    @staticmethod
    def _lnrs(header: fits.Header, path: Path) -> int:
        value = header.get("LNRS")
        if value is None:
            raise ReaderError(f"{Path(path).name}: header keyword LNRS (read pairs) missing")
        try:
            lnrs = int(value)
        except (TypeError, ValueError):
            raise ReaderError(
                f"{Path(path).name}: header keyword LNRS={value!r} is not an integer"
            ) from None
        if lnrs < 1:
            raise ReaderError(f"{Path(path).name}: header keyword LNRS={lnrs} < 1")
        return lnrs

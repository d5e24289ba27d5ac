"""Keck MOSFIRE raw reader: one HAWAII-2RG image, in the primary HDU or in an extension.

Facts from the specification of the real formats (``shared/spec/real_formats.md`` section 6; no
real MOSFIRE file was available, the sources are the KOA data-format page and keyword table,
MosfireDRP, PypeIt and POTPyRI):

* classic raw files hold the 2048×2048 image and the whole header (with a sky WCS) in the primary
  HDU, followed by four ASCII tables of the CSU configuration (``MDRP:MOSFIRE/IO.py``, PypeIt
  ``dataext=0``); POTPyRI since 2025 reads an extension named ``SCI`` (spec 6.1 CONFLICT). The
  image HDU is chosen by content, so both read;
* no overscan: the outer 4 rows and columns are H2RG reference pixels (PypeIt data section
  ``[5:2044,5:2044]``); they are kept, so that the image stays 2048×2048 like the reference's
  static mask, and given gain 0, which flags them bad;
* gain from ``SYSGAIN`` (``instrument.gain_keyword``), read noise from the table by ``NUMREADS``
  (``Options.rdnoise_by_numreads``, POTPyRI ``MOSFIRE.get_rdnoise``);
* the exposure is ``TRUITIME`` × ``COADDONE`` (``ELAPTIME`` is added by KOA only): written as
  ``Options.exptime_keyword`` into the headers the pipeline reads.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from astropy.io import fits
from astropy.wcs import FITSFixedWarning

from potpyri.instruments.base import RawImage, Reader, ReaderError, open_raw
from potpyri.instruments.f2 import image_hdu

__all__ = ["MosfireReader"]

#: Cards describing an HDU's structure, not the observation: never copied between headers.
_STRUCTURE = ("SIMPLE", "XTENSION", "BITPIX", "NAXIS", "EXTEND", "PCOUNT", "GCOUNT", "EXTNAME")


@dataclass
class MosfireOptions:
    """MOSFIRE settings (``instrument.options``)."""

    #: Read noise in electrons by NUMREADS (number of Fowler/MCDS reads).
    rdnoise_by_numreads: dict = field(default_factory=dict)
    #: Width of the H2RG reference-pixel border, flagged bad (gain 0).
    reference_pixels: int = 4
    #: Header keyword the reader writes with TRUITIME × COADDONE (the pipeline's exposure time).
    exptime_keyword: str = "EXPTOT"


class MosfireReader(Reader):
    """Read one MOSFIRE raw file into a 2048×2048 float32 image in ADU."""

    Options = MosfireOptions
    reads = frozenset({"gain", "gain_keyword"})

    def assemble(self, path: Path) -> RawImage:
        with open_raw(path, self.unpacked) as hdul:
            header = self._header(hdul, path)
            data = np.asarray(image_hdu(hdul, path).data, dtype=np.float32)
        if data.ndim == 3:
            data = data[0]
        gain = np.full(data.shape, self.amplifier_value("gain", header, 0, path), np.float32)
        border = int(self.options.reference_pixels)
        if border > 0:
            inner = gain[border:-border, border:-border].copy()
            gain[:] = 0.0
            gain[border:-border, border:-border] = inner
        table = {int(k): float(v) for k, v in self.options.rdnoise_by_numreads.items()}
        numreads = _integer(header, "NUMREADS", path)
        if numreads not in table:
            raise ReaderError(
                f"{Path(path).name}: NUMREADS={numreads} has no read noise in "
                f"instrument.options.rdnoise_by_numreads (known: {sorted(table)})"
            )
        return RawImage(data, header, gain, np.float32(table[numreads]))

    def classification_header(self, hdul: fits.HDUList) -> fits.Header:
        """The classification header (primary plus image cards, with the exposure time)."""
        return self._header(hdul, Path(hdul.filename() or "MOSFIRE file"))

    def _header(self, hdul: fits.HDUList, path: Path) -> fits.Header:
        """The primary header, updated with the image HDU's cards when the image is in an
        extension, plus the total exposure time."""
        header = hdul[0].header.copy()
        image = image_hdu(hdul, path)
        if image is not hdul[0]:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", FITSFixedWarning)
                for card in image.header.cards:
                    if not card.keyword.startswith(_STRUCTURE) and card.keyword not in (
                        "COMMENT",
                        "HISTORY",
                        "",
                    ):
                        header[card.keyword] = (card.value, card.comment)
        total = _number(header, "TRUITIME", path) * _number(header, "COADDONE", path)
        header[self.options.exptime_keyword] = (total, "[s] TRUITIME x COADDONE (potpyri)")
        return header


def _number(header: fits.Header, key: str, path: Path) -> float:
    try:
        return float(header[key])
    except KeyError:
        raise ReaderError(f"{Path(path).name}: header keyword {key} missing") from None
    except (TypeError, ValueError):
        raise ReaderError(
            f"{Path(path).name}: header keyword {key}={header[key]!r} is not a number"
        ) from None


def _integer(header: fits.Header, key: str, path: Path) -> int:
    value = _number(header, key, path)
    if value != int(value):
        raise ReaderError(f"{Path(path).name}: header keyword {key}={value} is not an integer")
    return int(value)

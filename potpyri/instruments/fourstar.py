"""Magellan FourStar raw reader: one HAWAII-2RG detector file (``fsr_0012_01_c1.fits``) read as
one frame.

FourStar writes one file per detector, ``c1``-``c4`` at the end of the name (spec
``real_formats.md`` §10.1, after the user pipeline FSRP ``fits_combine.py``). Each detector file
is reduced as a frame of its own (the user pipeline reduces chips separately); the chip number,
taken from the file name, is written to the header as ``CHIP`` so that calibrations group by
detector (``keywords.amp: CHIP``).

Where the pixels live is a CONFLICT in the spec (FSRP reads the primary HDU, POTPyRI extension 1,
a copy of its MMIRS module): the image HDU is chosen by content (the first 2-D image), and the
classification header is the primary header plus that HDU's cards, so both layouts read.

Reference pixels (§10.1: the generic H2RG 4-pixel border, UNCERTAIN for FourStar): in a full
2048×2048 read-out, each of the ``channels`` read-out channels is corrected by the median of its
top and bottom reference rows and the border is trimmed (``options.reference_pixels``; 0 reads the
whole array as data). A smaller array is a window and has no reference pixels. Gain and read noise
are the per-detector table in the YAML (§10.2: POTPyRI, citing the LCO FourStar handout), by chip.

The raw WCS is treated as absent (§10.5: no source shows one; the user pipeline solves blindly):
the starting WCS comes from the pointing keywords (``pointing:``), with an uncertainty that covers
a detector centre's offset from the pointing.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from astropy.io import fits

from potpyri.instruments.base import RawImage, Reader, ReaderError, first_image_hdu, open_raw
from potpyri.instruments.imacs import header_of

__all__ = ["FourStarReader", "reference_corrected"]

ARRAY = 2048  #: pixels per side of a HAWAII-2RG array (FSRP: 2048² per chip file)


@dataclass
class FourStarOptions:
    """FourStar settings (``options:`` in ``conf/instrument/fourstar.yaml``)."""

    #: Regular expression whose first group is the chip number in the file name (FSRP).
    chip_pattern: str = r"_c([1-4])\.fits"
    #: Width of the reference-pixel border of a full array (generic H2RG; 0: none).
    reference_pixels: int = 4
    #: Read-out channels across the array (columns of equal width), each referenced alone.
    channels: int = 32


def reference_corrected(raw: np.ndarray, border: int, channels: int) -> np.ndarray:
    """A full H2RG array less each channel's reference level (median of its top and bottom
    ``border`` rows), trimmed of the reference border."""
    data = raw.astype(np.float32)
    width = raw.shape[1] // channels
    for channel in range(channels):
        cols = slice(channel * width, (channel + 1) * width)
        rows = np.vstack([raw[:border, cols], raw[-border:, cols]])
        data[:, cols] -= np.median(rows)
    return data[border:-border, border:-border]


class FourStarReader(Reader):
    """One FourStar detector file: image by content, reference pixels, per-chip gain table."""

    Options = FourStarOptions
    reads = frozenset({"gain", "rdnoise"})

    def header(self, path: Path) -> fits.Header:
        header = super().header(path)
        header["CHIP"] = (self.chip(path), "detector, from the file name")
        return header

    def classification_header(self, hdul: fits.HDUList) -> fits.Header:
        _, index = first_image_hdu(hdul, Path(hdul.filename() or "file"))
        return header_of(hdul, index)

    def chip(self, path: Path) -> int:
        """The detector number from the file name (``options.chip_pattern``)."""
        match = re.search(self.options.chip_pattern, Path(path).name)
        if not match:
            raise ReaderError(
                f"{Path(path).name}: no chip number in the file name "
                f"(instrument.options.chip_pattern={self.options.chip_pattern!r})"
            )
        return int(match.group(1))

    def assemble(self, path: Path) -> RawImage:
        chip = self.chip(path)
        with open_raw(path, self.unpacked) as hdul:
            hdu, index = first_image_hdu(hdul, path)
            header = header_of(hdul, index)
            raw = np.asarray(hdu.data, dtype=np.float32)
        border = self.options.reference_pixels
        if border and raw.shape == (ARRAY, ARRAY):
            data = reference_corrected(raw, border, self.options.channels)
        else:  # a window (or no reference pixels configured): every pixel is data
            data = raw
        header["CHIP"] = (chip, "detector, from the file name")
        gain = self.amplifier_value("gain", header, chip - 1, path)
        rdnoise = self.amplifier_value("rdnoise", header, chip - 1, path)
        return RawImage(data, header, np.float32(gain), np.float32(rdnoise))

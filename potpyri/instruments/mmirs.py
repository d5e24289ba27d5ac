"""MMT MMIRS raw reader: an up-the-ramp exposure turned into one correlated-double-sample image.

A raw MMIRS file holds several reads of the same exposure as image extensions; the MMT tools
(``MMTT:mmirs_qrp.py``, comments ``#last``/``#first``), PypeIt (``mmt_mmirs.py`` get_rawimage) and
PyPhot all take **extension 1 = last read, extension 2 = first read** and form ``float(ext 1) -
ext 2`` (real_formats.md §8.1). A file with a single image is read as it is (PypeIt/PyPhot fall
back the same way; processed ``*_dcorr`` images are of that kind).

The HAWAII-2RG has 4 reference-pixel rows/columns at each edge (PypeIt ``mmirs_read_amp``, ported
from the MMIRS IDL ``refpix.pro``): the level of each of the 32 read-out channels (64 columns
each), for even and odd columns separately, is the median of its reference rows, subtracted from
the channel; the reference border is then trimmed. (The IDL pipeline's row-wise, smoothed
correction from the reference columns is not applied.)

Gain: the header ``GAIN`` (several gain settings exist; the MMT tools match darks to science by
EXPTIME and GAIN, ``MMTT:mmirs_pipeline_taskfile.py``); read noise from the YAML (PypeIt 3.14 e-).
There is no verified sky WCS in raw files (§8.5): the starting WCS comes from ``RA`` (decimal hours)
and ``DEC``.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from potpyri.instruments.base import RawImage, Reader, ReaderError, image_hdus, open_raw

__all__ = ["MmirsReader", "reference_pixel_correction"]

CHANNEL_WIDTH = 64  # columns per read-out channel: 2048 / 32 (§8.1, PypeIt mmirs_read_amp)


@dataclass
class MmirsOptions:
    """Settings of the MMIRS reader (YAML ``options:``)."""

    #: Image extensions (1-based among the image HDUs, in file order) of the last and the first
    #: read; the spec's order is last = 1, first = 2 (``MMTT:mmirs_qrp.py``).
    last_read: int = 1
    first_read: int = 2
    #: Reference-pixel border width of the H2RG (4 rows/columns at each edge).
    reference_pixels: int = 4


def reference_pixel_correction(image: np.ndarray, border: int) -> np.ndarray:
    """Subtract each read-out channel's level, even and odd columns apart, measured on the
    reference rows (``border`` rows at the bottom and the top); returns a new array."""
    if border <= 0:
        return image
    out = image.astype(np.float32, copy=True)
    reference = np.vstack([image[:border], image[-border:]])
    for start in range(0, image.shape[1], CHANNEL_WIDTH):
        for parity in (0, 1):
            cols = slice(start + parity, min(start + CHANNEL_WIDTH, image.shape[1]), 2)
            out[:, cols] -= np.float32(np.median(reference[:, cols]))
    return out


class MmirsReader(Reader):
    """Read a MMIRS ramp file as last − first read, reference-pixel corrected and trimmed."""

    Options = MmirsOptions
    reads = frozenset({"gain_keyword", "rdnoise", "gain", "rdnoise_keyword"})

    def assemble(self, path: Path) -> RawImage:
        name = Path(path).name
        with open_raw(path, self.unpacked) as hdul:
            header = self.classification_header(hdul)
            images = image_hdus(hdul)
            if not images:
                raise ReaderError(f"{name}: no image extension")
            last = self._read(images, self.options.last_read, name)
            if len(images) > 1:
                image = last - self._read(images, self.options.first_read, name)
            else:  # a single image (a processed product): nothing to difference
                image = last
        border = int(self.options.reference_pixels)
        image = reference_pixel_correction(image, border)
        if border > 0:
            image = image[border:-border, border:-border]
        gain = self.amplifier_value("gain", header, 0, path)
        rdnoise = self.amplifier_value("rdnoise", header, 0, path)
        return RawImage(
            np.ascontiguousarray(image, dtype=np.float32),
            header,
            np.float32(gain),
            np.float32(rdnoise),
        )

    @staticmethod
    def _read(images, number: int, name: str) -> np.ndarray:
        if not 1 <= number <= len(images):
            raise ReaderError(
                f"{name}: read {number} (instrument.options) missing: {len(images)} image(s)"
            )
        return np.asarray(images[number - 1].data, dtype=np.float64)

"""The generic reader: one image extension, optional fixed data and overscan sections."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from potpyri.instruments.base import RawImage, Reader, ReaderError, open_raw
from potpyri.instruments.sections import parse_section

__all__ = ["SingleReader", "parse_section"]


class SingleReader(Reader):
    """Read the image in ``raw_header_ext``; subtract the overscan median per row when
    ``instrument.biassec`` is set; trim to ``instrument.datasec`` when set (first entries).
    Gain and read noise from the YAML lists or the keywords ``gain_keyword``/``rdnoise_keyword``.
    """

    reads = frozenset({"gain", "rdnoise", "gain_keyword", "rdnoise_keyword", "datasec", "biassec"})

    def assemble(self, path: Path) -> RawImage:
        with open_raw(path, self.unpacked) as hdul:
            hdu = hdul[self.instrument.raw_header_ext]
            if hdu.data is None:
                raise ReaderError(
                    f"{Path(path).name}: extension {self.instrument.raw_header_ext} has no image"
                )
            data = np.asarray(hdu.data, dtype=np.float32)
            header = hdu.header.copy()
        if self.instrument.biassec:
            overscan = data[parse_section(self.instrument.biassec[0])]
            data = data - np.median(overscan, axis=1, keepdims=True).astype(np.float32)
        if self.instrument.datasec:
            data = data[parse_section(self.instrument.datasec[0])]
        gain = self.amplifier_value("gain", header, 0, path)
        rdnoise = self.amplifier_value("rdnoise", header, 0, path)
        return RawImage(data, header, np.float32(gain), np.float32(rdnoise))

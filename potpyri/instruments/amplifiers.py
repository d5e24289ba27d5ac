"""The generic amplifier reader: every image HDU with a DETSEC is one amplifier.

Each amplifier's overscan (BIASSEC, when present) median is subtracted row by row, its data
section (DATASEC, default the whole image) mirrored where DETSEC runs high-to-low and placed at
its detector position (DETSEC in unbinned pixels, divided by CCDSUM binning) relative to the
lowest DETSEC of the file. Gain and read noise come from the instrument's lists (one value per
amplifier, in file order) or from the header keywords ``gain_keyword``/``rdnoise_keyword`` of
the amplifier's HDU (else the primary header); never a default. Pixels no amplifier reads (gaps
between CCDs) get gain 0, which the process step flags as bad. Images stored as (1, ny, nx) cubes
are read as their first plane. The classification header (``raw_header_ext``) receives the
mosaic's WCS, shifted from the first amplifier's.
"""

from __future__ import annotations

import warnings
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
    open_raw,
)
from potpyri.instruments.sections import Section, parse_section, read_section

__all__ = ["AmplifierReader"]

_WCS_KEYS = (*LINEAR_WCS_KEYS, "RADESYS", "RADECSYS", "EQUINOX")


class AmplifierReader(Reader):
    """Assemble amplifiers described by DETSEC/DATASEC/BIASSEC/CCDSUM into one mosaic."""

    reads = frozenset({"gain", "rdnoise", "gain_keyword", "rdnoise_keyword"})

    def assemble(self, path: Path) -> RawImage:
        with open_raw(path, self.unpacked) as hdul:
            header = self.classification_header(hdul)
            images = image_hdus(hdul, ndims=(2, 3))
            # one bare image without DETSEC: one amplifier
            amps = [h for h in images if "DETSEC" in h.header] or images[:1]
            if not amps:
                raise ReaderError(f"{Path(path).name}: no image data")
            bx, by = (int(v) for v in str(amps[0].header.get("CCDSUM", "1 1")).split())
            placed = [self._amplifier(hdu, n, header, path, bx, by) for n, hdu in enumerate(amps)]
        y0 = min(p[0].rows.start for p in placed)
        x0 = min(p[0].cols.start for p in placed)
        ny = max(p[0].rows.stop for p in placed) - y0
        nx = max(p[0].cols.stop for p in placed) - x0
        data = np.zeros((ny, nx), np.float32)
        gain = np.zeros_like(data)
        rdnoise = np.zeros_like(data)
        for place, block, g, rn, _ in placed:
            region = (
                slice(place.rows.start - y0, place.rows.stop - y0),
                slice(place.cols.start - x0, place.cols.stop - x0),
            )
            data[region], gain[region], rdnoise[region] = place.oriented(block), g, rn
        place, _, _, _, head = placed[0]
        wcs = {k: head[k] for k in _WCS_KEYS if k in head}
        if "CRPIX1" in wcs and not (place.flip_x or place.flip_y):
            rows, cols = _data_slices(head, head["NAXIS2"], head["NAXIS1"])
            wcs["CRPIX1"] = head["CRPIX1"] + (place.cols.start - x0) - cols.start
            wcs["CRPIX2"] = head["CRPIX2"] + (place.rows.start - y0) - rows.start
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", FITSFixedWarning)
            header.update(wcs)
        header["CCDSUM"] = f"{bx} {by}"
        return RawImage(data, header, gain, rdnoise)

    def _amplifier(self, hdu, n: int, primary: fits.Header, path: Path, bx: int, by: int):
        """(binned DETSEC place, overscan-subtracted data block, gain, read noise, header)."""
        head = hdu.header
        raw = np.asarray(hdu.data[0] if hdu.data.ndim == 3 else hdu.data, dtype=np.float32)
        rows, cols = _data_slices(head, *raw.shape)
        data = raw[rows, cols]
        if "BIASSEC" in head:
            level = np.median(raw[parse_section(head["BIASSEC"])], axis=1, keepdims=True)
            data = data - level[rows]
        if "DETSEC" in head:
            place = read_section(head["DETSEC"]).binned(bx, by)
        else:
            place = Section(slice(0, data.shape[0]), slice(0, data.shape[1]))
        if place.shape != data.shape:
            raise ReaderError(
                f"{Path(path).name}: amplifier {n + 1}: DETSEC {head.get('DETSEC')} binned "
                f"{bx}x{by} is {place.shape}, DATASEC gives {data.shape}"
            )
        values = [
            self.amplifier_value(what, _holding(head, primary, self._keyword(what)), n, path)
            for what in ("gain", "rdnoise")
        ]
        return place, data, values[0], values[1], head

    def _keyword(self, what: str) -> str:
        return getattr(self.instrument, f"{what}_keyword", "")


def _data_slices(head: fits.Header, ny: int, nx: int) -> tuple[slice, slice]:
    if "DATASEC" in head:
        return parse_section(head["DATASEC"])
    return slice(0, ny), slice(0, nx)


def _holding(head: fits.Header, primary: fits.Header, keyword: str) -> fits.Header:
    """The amplifier's header where it has ``keyword``, else the primary header."""
    return head if keyword and keyword in head else primary

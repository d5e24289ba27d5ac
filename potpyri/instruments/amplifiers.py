"""The generic amplifier reader: every image HDU with a DETSEC is one amplifier.

Each amplifier's overscan (BIASSEC, when present) median is subtracted row by row, its data
section (DATASEC, default the whole image) placed at its detector position (DETSEC in unbinned
pixels, divided by CCDSUM binning) relative to the lowest DETSEC of the file; gains and read noise
from each HDU's GAIN/RDNOISE (else the instrument's lists). Pixels no amplifier reads (gaps between
CCDs) get gain 0, which the process step flags as bad. Images stored as (1, ny, nx) cubes are read
as their first plane. The classification header (``raw_header_ext``) receives the mosaic's WCS,
shifted from the first amplifier's.
"""

from __future__ import annotations

import warnings
from pathlib import Path

import numpy as np
from astropy.wcs import FITSFixedWarning

from potpyri.instruments.base import LINEAR_WCS_KEYS, RawImage, Reader, open_raw
from potpyri.instruments.sections import parse_section

__all__ = ["AmplifierReader"]

_WCS_KEYS = (*LINEAR_WCS_KEYS, "RADESYS", "RADECSYS", "EQUINOX")


class AmplifierReader(Reader):
    """Assemble amplifiers described by DETSEC/DATASEC/BIASSEC/CCDSUM into one mosaic."""

    def assemble(self, path: Path) -> RawImage:
        with open_raw(path, self.unpacked) as hdul:
            header = self.classification_header(hdul)
            images = [h for h in hdul if h.data is not None and h.data.ndim in (2, 3)]
            amps = [h for h in images if "DETSEC" in h.header] or images[
                :1
            ]  # one bare image: one amplifier
            if not amps:
                raise ValueError(f"{Path(path).name}: no image data")
            bx, by = (int(v) for v in str(amps[0].header.get("CCDSUM", "1 1")).split())
            placed = []
            for n, hdu in enumerate(amps):
                head = hdu.header
                raw = np.asarray(hdu.data[0] if hdu.data.ndim == 3 else hdu.data, dtype=np.float32)
                rows, cols = (
                    parse_section(head["DATASEC"])
                    if "DATASEC" in head
                    else (slice(0, raw.shape[0]), slice(0, raw.shape[1]))
                )
                data = raw[rows, cols]
                if "BIASSEC" in head:
                    data = (
                        data
                        - np.median(raw[parse_section(head["BIASSEC"])], axis=1, keepdims=True)[
                            rows
                        ]
                    )
                det_rows, det_cols = (
                    parse_section(head["DETSEC"])
                    if "DETSEC" in head
                    else (slice(0, data.shape[0]), slice(0, data.shape[1]))
                )
                gain = _positive(
                    head.get("GAIN"), header.get("GAIN"), self._listed(self.instrument.gain, n, 1.0)
                )
                # Real F2 headers say RDNOISE = 0: a header value is trusted only when positive.
                rdnoise = _positive(
                    head.get("RDNOISE"),
                    header.get("RDNOISE"),
                    self._listed(self.instrument.rdnoise, n, 0.0),
                )
                placed.append(
                    (
                        det_rows.start // by,
                        det_cols.start // bx,
                        data,
                        gain,
                        rdnoise,
                        head,
                        rows,
                        cols,
                    )
                )
        y0 = min(p[0] for p in placed)
        x0 = min(p[1] for p in placed)
        ny = max(p[0] + p[2].shape[0] for p in placed) - y0
        nx = max(p[1] + p[2].shape[1] for p in placed) - x0
        data = np.zeros((ny, nx), np.float32)
        gain = np.zeros_like(data)
        rdnoise = np.zeros_like(data)
        for row0, col0, block, g, rn, _, _, _ in placed:
            region = (
                slice(row0 - y0, row0 - y0 + block.shape[0]),
                slice(col0 - x0, col0 - x0 + block.shape[1]),
            )
            data[region], gain[region], rdnoise[region] = block, g, rn
        row0, col0, _, _, _, head, rows, cols = placed[0]
        wcs = {k: head[k] for k in _WCS_KEYS if k in head}
        if "CRPIX1" in wcs:
            wcs["CRPIX1"] = head["CRPIX1"] + (col0 - x0) - cols.start
            wcs["CRPIX2"] = head["CRPIX2"] + (row0 - y0) - rows.start
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", FITSFixedWarning)
            header.update(wcs)
        header["CCDSUM"] = f"{bx} {by}"
        return RawImage(data, header, gain, rdnoise)

    @staticmethod
    def _listed(values, n: int, default: float) -> float:
        if not values:
            return default
        return float(values[min(n, len(values) - 1)])


def _positive(*candidates) -> float:
    """The first candidate that is a positive number (the last one otherwise)."""
    for value in candidates:
        try:
            if float(value) > 0:
                return float(value)
        except (TypeError, ValueError):
            continue
    return float(candidates[-1])

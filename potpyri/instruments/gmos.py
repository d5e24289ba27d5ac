"""GMOS-N/S raw reader: amplifiers to a trimmed, gain-mapped mosaic of the imaging field.

Each ``SCI`` extension is one amplifier: its overscan (BIASSEC) median is subtracted row by row,
its data section (DATASEC) placed at its detector position (DETSEC, divided by the binning), with
the gaps between the three CCDs (33 and 41 unbinned pixels), and the mosaic is cropped to the
central imaging field the reference keeps (2108 columns at 2×2 for GMOS-N, 2128 for GMOS-S; all
rows). Gains and read noise come per amplifier from the extension headers; the header WCS of the
first amplifier, shifted to the mosaic, becomes the mosaic's WCS.
"""

from __future__ import annotations

import warnings
from pathlib import Path

import numpy as np
from astropy.io import fits
from astropy.wcs import FITSFixedWarning

from potpyri.instruments.base import LINEAR_WCS_KEYS, RawImage, Reader, open_raw
from potpyri.instruments.sections import parse_section

__all__ = ["GmosReader"]

CHIP_WIDTH = 2048  # unbinned columns per CCD
GAPS = (33, 41)  # unbinned pixels between CCDs 1-2 and 2-3
FIELD_WIDTH_2X2 = {"GMOS-N": 2108, "GMOS-S": 2128}
_WCS_KEYS = (*LINEAR_WCS_KEYS, "RADECSYS", "EQUINOX")


class GmosReader(Reader):
    """Assemble the amplifiers of a GMOS raw file (3, 6 or 12; any binning)."""

    def assemble(self, path: Path) -> RawImage:
        with open_raw(path, self.unpacked) as hdul:
            primary = hdul[0].header.copy()
            amps = [h for h in hdul[1:] if h.name == "SCI" and h.data is not None]
            if not amps:
                raise ValueError(f"{Path(path).name}: no SCI extensions")
            bx, by = (int(v) for v in str(amps[0].header["CCDSUM"]).split())
            n_rows = amps[0].data.shape[0]
            full_width = 3 * CHIP_WIDTH // bx + sum(g // bx for g in GAPS)
            width = (
                FIELD_WIDTH_2X2.get(str(primary.get("INSTRUME", "GMOS-N")).strip(), 2108) * 2 // bx
            )
            crop = (full_width - width) // 2
            data = np.zeros((n_rows, width), np.float32)
            gain = np.zeros_like(data)
            rdnoise = np.zeros_like(data)
            wcs = fits.Header()
            for hdu in amps:
                head = hdu.header
                raw = hdu.data.astype(np.float32)
                bias_rows, bias_cols = parse_section(head["BIASSEC"])
                data_rows, data_cols = parse_section(head["DATASEC"])
                overlaps = bias_cols.start < data_cols.stop and data_cols.start < bias_cols.stop
                if bias_cols.stop <= raw.shape[1] and not overlaps:
                    level = np.median(raw[bias_rows, bias_cols], axis=1, keepdims=True)
                else:  # trimmed products (DRAGONS masks) keep a BIASSEC past, or on, the data
                    level = np.zeros((raw.shape[0], 1), np.float32)
                amp = raw[data_rows, data_cols] - level
                det_cols = parse_section(head["DETSEC"])[1]
                chip = det_cols.start // CHIP_WIDTH
                x0 = det_cols.start // bx + sum(g // bx for g in GAPS[:chip]) - crop
                lo, hi = max(x0, 0), min(x0 + amp.shape[1], width)
                if hi <= lo:
                    continue  # an amplifier wholly outside the imaging field
                data[:, lo:hi] = amp[:, lo - x0 : hi - x0]
                gain[:, lo:hi] = float(head["GAIN"])
                rdnoise[:, lo:hi] = float(head["RDNOISE"])
                if not wcs and "CRPIX1" in head:
                    wcs = fits.Header([(k, head[k]) for k in _WCS_KEYS if k in head])
                    wcs["CRPIX1"] = head["CRPIX1"] + x0 - data_cols.start
        header = primary
        for key in ("CCDSUM", "MJD-OBS"):
            if key in amps[0].header:
                header[key] = amps[0].header[key]
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", FITSFixedWarning)
            header.update(wcs)
        return RawImage(data, header, gain, rdnoise)

    def classification_header(self, hdul: fits.HDUList) -> fits.Header:
        """The primary header, with the binning and start time of the first amplifier."""
        header = hdul[0].header.copy()
        for key in ("CCDSUM", "MJD-OBS"):  # GMOS keeps these in the amplifier headers
            if len(hdul) > 1 and key in hdul[1].header and key not in header:
                header[key] = hdul[1].header[key]
        return header

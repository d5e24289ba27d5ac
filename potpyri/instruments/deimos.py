"""Keck DEIMOS direct-imaging raw reader: the amplifiers of one row of 4 CCDs to one mosaic.

Real layout (real_formats.md §5; from PypeIt ``keck_deimos.py``, the KOA keyword table and the
WMKO gain logs, no real DEIMOS file was available): a primary HDU without pixels holding every
instrument keyword, then one image extension per video input (8 in direct imaging: CCDs 1-4 ×
amplifiers A and B; 16 or 8 in other modes), possibly followed by slit-mask binary tables, which
are skipped (images are chosen by content). Each image extension has ``DATASEC`` (binned raw
pixels) and ``DETSEC`` (unbinned detector pixels, **reversed** for an amplifier that reads from
the other edge: mirrored here before placement); the columns after DATASEC are the overscan
(PypeIt deimos_read_1chip), subtracted row by row as their median. Binning is the primary's
``BINNING`` (``'x,y'``).

CCDs are 2048 unbinned columns wide; DETSEC holds no gap, so the reference's gaps (113, 81, 113
unbinned columns between CCDs 1-2, 2-3, 3-4: ``options.gaps``, UNCERTAIN) are inserted; rows are
kept within the imaging field (``options.field_rows``, the reference's 1321-3921). Gains and read
noise come from the YAML, per video input (CCD1 A, CCD1 B, CCD2 A, ...), from the WMKO
Direct-mode log of 2023-10-05 (raw files have none). Raw files carry no verified sky WCS: the
starting WCS is built from ``RA``/``DEC`` (sexagesimal) and ``ROTPOSN``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from potpyri.instruments.base import RawImage, Reader, ReaderError, image_hdus, open_raw
from potpyri.instruments.sections import read_section

__all__ = ["CHIP_WIDTH", "DeimosReader", "ccd_number", "chip_column", "kept_rows"]

CHIP_WIDTH = 2048  # unbinned columns per CCD (UCO design note: 2k × 4k CCDs)
CHIP_HEIGHT = 4096


@dataclass
class DeimosOptions:
    """Settings of the DEIMOS reader (YAML ``options:``)."""

    #: Unbinned columns inserted between CCD 1-2, 2-3, 3-4 (reference, 4-amplifier mode).
    gaps: list = field(default_factory=lambda: [113, 81, 113])
    #: First and last unbinned detector row (1-based) of the imaging field (reference).
    field_rows: list = field(default_factory=lambda: [1321, 3921])
    #: CCDs (1-8; 1-4 in one row, 5-8 in the other) assembled: direct images fall on one row.
    ccds: list = field(default_factory=lambda: [1, 2, 3, 4])


def ccd_number(detsec) -> int:
    """DEIMOS CCD (1-8) of an unbinned DETSEC: 4 CCDs of 2048 columns per row of 4096 rows."""
    return detsec.cols.start // CHIP_WIDTH % 4 + 1 + 4 * (detsec.rows.start // CHIP_HEIGHT)


def chip_column(detector_x0: int, gaps, xbin: int) -> int:
    """Binned mosaic column of unbinned detector column ``detector_x0`` (0-based), with the gaps
    of the CCDs to its left inserted."""
    chip = (detector_x0 // CHIP_WIDTH) % 4  # CCDs 5-8 sit under 1-4
    return (detector_x0 + int(sum(gaps[:chip]))) // xbin


def kept_rows(detector_y0: int, n_rows: int, ybin: int, field_rows) -> np.ndarray:
    """Indices of the binned rows (starting at unbinned detector row ``detector_y0``, 0-based)
    that lie wholly inside the imaging field."""
    first, last = int(field_rows[0]) - 1, int(field_rows[1])  # 0-based, end exclusive
    starts = (detector_y0 % CHIP_HEIGHT) + ybin * np.arange(n_rows)
    return np.flatnonzero((starts >= first) & (starts + ybin <= last))


class DeimosReader(Reader):
    """Assemble the image extensions of a DEIMOS raw file by their DETSEC."""

    Options = DeimosOptions
    reads = frozenset({"gain", "rdnoise"})

    def assemble(self, path: Path) -> RawImage:
        name = Path(path).name
        with open_raw(path, self.unpacked) as hdul:
            header = self.classification_header(hdul)
            images = image_hdus(hdul)
            if not images:
                raise ReaderError(f"{name}: no image extension")
            try:
                bx, by = (int(v) for v in str(header["BINNING"]).split(","))
            except (KeyError, ValueError):
                raise ReaderError(f"{name}: keyword BINNING ('x,y') missing or malformed") from None
            amps = [self._amplifier(h, bx, by, header, name, path) for h in images]
            amps = [a for a in amps if a is not None]
            if not amps:
                raise ReaderError(
                    f"{name}: no image extension on CCDs {self.options.ccds} (instrument.options)"
                )
        x0 = min(a[1] for a in amps)
        nx = max(a[1] + a[2].shape[1] for a in amps) - x0
        ny = max(a[2].shape[0] for a in amps)
        data = np.zeros((ny, nx), np.float32)
        gain = np.zeros_like(data)
        rdnoise = np.zeros_like(data)
        for _, col, block, g, rn in amps:
            region = (slice(0, block.shape[0]), slice(col - x0, col - x0 + block.shape[1]))
            data[region], gain[region], rdnoise[region] = block, g, rn
        header["CCDSUM"] = f"{bx} {by}"
        return RawImage(data, header, gain, rdnoise)

    def _amplifier(self, hdu, bx: int, by: int, header, name: str, path: Path):
        head = hdu.header
        for key in ("DATASEC", "DETSEC"):
            if key not in head:
                raise ReaderError(f"{name}: image extension without {key}")
        raw = np.asarray(hdu.data, dtype=np.float32)
        datasec = read_section(head["DATASEC"])
        detsec = read_section(head["DETSEC"])
        if ccd_number(detsec) not in self.options.ccds:
            return None
        block = raw[datasec.rows, datasec.cols]
        overscan = raw[datasec.rows, datasec.cols.stop :]
        if overscan.shape[1] == 0:
            raise ReaderError(f"{name}: no overscan columns after DATASEC {head['DATASEC']}")
        block = detsec.oriented(block - np.median(overscan, axis=1, keepdims=True))
        rows = kept_rows(detsec.rows.start, block.shape[0], by, self.options.field_rows)
        block = block[rows]
        column = chip_column(detsec.cols.start, self.options.gaps, bx)
        index = self._video_input(detsec, header)
        return (
            0,
            column,
            block,
            self.amplifier_value("gain", header, index, path),
            self.amplifier_value("rdnoise", header, index, path),
        )

    @staticmethod
    def _video_input(detsec, header) -> int:
        """0-based index in the gain table (CCD1 A, CCD1 B, CCD2 A, ...): amplifier A reads the
        left half of its CCD, B the right half; a whole-CCD read uses AMPMODE's amplifier."""
        chip = (detsec.cols.start // CHIP_WIDTH) % 4
        width = detsec.cols.stop - detsec.cols.start
        if width >= CHIP_WIDTH:
            side = 1 if str(header.get("AMPMODE", "")).strip().upper().endswith("B") else 0
        else:
            side = 1 if detsec.cols.start % CHIP_WIDTH >= CHIP_WIDTH // 2 else 0
        return 2 * chip + side

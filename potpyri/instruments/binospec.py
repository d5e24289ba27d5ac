"""MMT Binospec raw reader: 8 amplifiers (2 sides × 4 quadrants) to the two imaging fields.

Real layout (real_formats.md §7.1, from PypeIt ``mmt_binospec.py`` get_rawimage and
binospec_read_amp, which read telescope raw files): a primary HDU without pixels, then 8 image
extensions, 1-4 the amplifiers of side A, 5-8 of side B, each with ``DATASEC`` and ``CCDSUM`` (no
DETSEC). Each amplifier has prescan columns before DATASEC and overscan rows after it; as
PypeIt (after the IDL ``bino_mosaic.pro``) the per-column level of the overscan rows is subtracted
first, then the per-row level of the prescan columns (from column 3 on). Within a side the
quadrants sit as the amplifiers read them: relative to amplifier 1, amplifier 2 is mirrored
along NAXIS1, 3 along both axes, 4 along NAXIS2 (``options.quadrants``).

The imaging field of each side and the gap between the sides are the reference's
(``[1055:3024,217:3911]`` / ``[1067:3033,217:3911]`` of the 4096×4112 side, 794 columns between;
the two 8'×15' fields are 3.2' = 800 px apart), so the output has the shape of the reference's
static mask ``binospec.11`` (3695 × 4731 at 1×1). Gains and read noise per amplifier are PypeIt's
table (the raw files have none). Raw files carry no verified sky WCS (§7.5): the starting WCS is
built from ``RA`` (decimal hours), ``DEC`` and ``POSANG``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from potpyri.instruments.base import RawImage, Reader, ReaderError, image_hdus, open_raw
from potpyri.instruments.sections import read_section

__all__ = ["BinospecReader", "amplifier_level"]

PRESCAN_SKIP = 2  # PypeIt uses prescan columns 3 .. x1-1 (1-based)


@dataclass
class BinospecOptions:
    """Settings of the Binospec reader (YAML ``options:``)."""

    #: Per amplifier of a side: (quadrant row, quadrant column, mirror x, mirror y), PypeIt's
    #: placement (amp 2 mirrored along NAXIS1, 3 along both, 4 along NAXIS2).
    quadrants: list = field(
        default_factory=lambda: [[0, 0, False, False], [0, 1, True, False], [1, 1, True, True],
                                 [1, 0, False, True]]
    )  # fmt: skip
    #: Imaging field of side A and side B, unbinned pixels of the assembled side (reference).
    fields: list = field(default_factory=lambda: ["[1055:3024,217:3911]", "[1067:3033,217:3911]"])
    #: Columns (unbinned) between the two fields in the output (reference: 794).
    side_gap: int = 794


def amplifier_level(raw: np.ndarray, datasec: str) -> np.ndarray:
    """An amplifier's data section minus its overscan: the per-column median of the overscan
    rows (after DATASEC), then the per-row median of the prescan columns (before DATASEC)."""
    section = read_section(datasec)
    image = raw.astype(np.float32)
    if section.rows.stop < image.shape[0]:
        image = image - np.median(image[section.rows.stop :], axis=0, keepdims=True)
    if section.cols.start > PRESCAN_SKIP:
        image = image - np.median(
            image[:, PRESCAN_SKIP : section.cols.start], axis=1, keepdims=True
        )
    return image[section.rows, section.cols]


class BinospecReader(Reader):
    """Assemble a raw Binospec file (8 amplifier extensions) into side A | gap | side B."""

    Options = BinospecOptions
    reads = frozenset({"gain", "rdnoise"})

    def assemble(self, path: Path) -> RawImage:
        name = Path(path).name
        with open_raw(path, self.unpacked) as hdul:
            header = self.classification_header(hdul)
            amps = image_hdus(hdul)
            if len(amps) != 8:
                raise ReaderError(
                    f"{name}: {len(amps)} image extensions; a raw Binospec file has 8 amplifiers "
                    "(preprocessed *_proc files are not read)"
                )
            binning = str(amps[0].header.get("CCDSUM", header.get("CCDSUM", ""))).split()
            if len(binning) != 2:
                raise ReaderError(f"{name}: keyword CCDSUM missing (binning)")
            bx, by = int(binning[0]), int(binning[1])
            sides = []
            for side in range(2):
                block = amps[4 * side : 4 * side + 4]
                sides.append(self._side(block, side, name, header, path))
        parts, gains, noises = [], [], []
        for side, (data, gain, rdnoise) in enumerate(sides):
            crop = read_section(self.options.fields[side]).binned(bx, by)
            parts.append(data[crop.rows, crop.cols])
            gains.append(gain[crop.rows, crop.cols])
            noises.append(rdnoise[crop.rows, crop.cols])
        ny = min(p.shape[0] for p in parts)
        gap = np.zeros((ny, int(self.options.side_gap) // bx), np.float32)
        out = [np.hstack([a[:ny], gap, b[:ny]]) for a, b in (parts, gains, noises)]
        header["CCDSUM"] = f"{bx} {by}"
        return RawImage(out[0], header, out[1], out[2])

    def _side(self, block, side: int, name: str, header, path):
        """One side (4 quadrants) assembled, with its gain and read-noise maps."""
        pieces = []
        for k, hdu in enumerate(block):
            if "DATASEC" not in hdu.header:
                raise ReaderError(f"{name}: amplifier {4 * side + k + 1} has no DATASEC")
            pieces.append(amplifier_level(np.asarray(hdu.data), hdu.header["DATASEC"]))
        qy, qx = pieces[0].shape
        data = np.zeros((2 * qy, 2 * qx), np.float32)
        gain = np.zeros_like(data)
        rdnoise = np.zeros_like(data)
        for k, piece in enumerate(pieces):
            row, col, flip_x, flip_y = self.options.quadrants[k]
            if flip_x:
                piece = piece[:, ::-1]
            if flip_y:
                piece = piece[::-1, :]
            region = (slice(row * qy, (row + 1) * qy), slice(col * qx, (col + 1) * qx))
            data[region] = piece
            index = 4 * side + k
            gain[region] = self.amplifier_value("gain", header, index, path)
            rdnoise[region] = self.amplifier_value("rdnoise", header, index, path)
        return data, gain, rdnoise

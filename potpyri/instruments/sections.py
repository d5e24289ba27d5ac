"""FITS section strings (``'[x1:x2,y1:y2]'``) as numpy slices, with their read-out direction.

A *reversed* range (``x1 > x2``, or a negative step as in LRIS Mark4 ``'[2170:2118:-1,1:2064]'``)
means the amplifier's pixels run the other way: the block must be mirrored before placement.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

__all__ = ["Section", "parse_section", "read_section"]


@dataclass(frozen=True)
class Section:
    """A section as numpy slices (``rows``, ``cols``, 0-based, ascending) plus its flips."""

    rows: slice
    cols: slice
    flip_x: bool = False  #: the x range is written high-to-low
    flip_y: bool = False  #: the y range is written high-to-low

    @property
    def shape(self) -> tuple[int, int]:
        """``(ny, nx)`` of the section."""
        return self.rows.stop - self.rows.start, self.cols.stop - self.cols.start

    def binned(self, xbin: int, ybin: int) -> Section:
        """The section divided by the binning (DETSEC/CCDSEC are unbinned)."""
        return Section(
            slice(self.rows.start // ybin, self.rows.start // ybin + self.shape[0] // ybin),
            slice(self.cols.start // xbin, self.cols.start // xbin + self.shape[1] // xbin),
            self.flip_x,
            self.flip_y,
        )

    def oriented(self, block: np.ndarray) -> np.ndarray:
        """``block`` mirrored where the section is reversed."""
        if self.flip_x:
            block = block[:, ::-1]
        if self.flip_y:
            block = block[::-1, :]
        return block


def _axis(text: str, section: str) -> tuple[slice, bool]:
    parts = [int(v) for v in text.split(":")]
    if len(parts) == 3 and parts[2] in (1, -1):
        first, last, step = parts
    elif len(parts) == 2:
        (first, last), step = parts, 1
    else:
        raise ValueError(f"malformed FITS section {section!r}; expected '[x1:x2,y1:y2]'")
    reversed_ = first > last or step < 0
    return slice(min(first, last) - 1, max(first, last)), reversed_


def read_section(section: str) -> Section:
    """Parse ``'[x1:x2,y1:y2]'`` (1-based, inclusive, either direction) into a :class:`Section`."""
    try:
        xpart, ypart = str(section).strip().strip("[]").split(",")
        cols, flip_x = _axis(xpart.strip(), section)
        rows, flip_y = _axis(ypart.strip(), section)
    except ValueError:
        raise ValueError(f"malformed FITS section {section!r}; expected '[x1:x2,y1:y2]'") from None
    return Section(rows, cols, flip_x, flip_y)


def parse_section(section: str) -> tuple[slice, slice]:
    """Turn a FITS section ``'[x1:x2,y1:y2]'`` (1-based, inclusive) into numpy slices (y, x)."""
    parsed = read_section(section)
    return parsed.rows, parsed.cols

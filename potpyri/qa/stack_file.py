"""What the QA reads from a stack product: pixels, WCS, header values, PSF, zero-point stars."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
from astropy.io import fits
from astropy.wcs import WCS

__all__ = ["HEADER_VALUES", "StackFile", "read_stack", "zeropoint_table"]

#: Stack header values the report shows next to its figures (when present).
HEADER_VALUES = (
    "NCOMBINE",
    "EXPTIME",
    "FWHM",
    "SKYSIG",
    "NSOURCES",
    "NPSFSTAR",
    "PHOTMETH",
    "PHOTWHY",
    "PSFSIGX",
    "PSFSIGY",
    "ZPTMAG",
    "ZPTMUCER",
    "ZPTNSTAR",
    "ZPTCAT",
    "ZPTBAND",
    "ZPCOLTRM",
    "ZPCOLOR",
    "M3SIGMA",
    "M5SIGMA",
    "M10SIGMA",
    "RADISP",
    "DEDISP",
    "NASTRO",
    "ASTROMET",
    "STKMETH",
    "PPRCPSHA",
)

#: Catalog mag, instrumental mag, colour (or None), used flags, catalog ids (or None).
ZeropointStars = tuple[np.ndarray, np.ndarray, np.ndarray | None, np.ndarray, np.ndarray | None]


@dataclass
class StackFile:
    """The parts of a stack product the QA measures."""

    sci: np.ndarray  #: SCI as float64
    mask: np.ndarray | None  #: MASK, if the product has one
    wcs: WCS  #: WCS of the SCI extension
    values: dict  #: the :data:`HEADER_VALUES` present in the primary header
    psf_hdu: fits.ImageHDU | None  #: a copy of the PSF extension (photometry step)
    psfstars: int | None  #: rows of the PSFSTARS extension
    zp_stars: ZeropointStars | None  #: zero-point stars, see :func:`zeropoint_table`


def read_stack(path: Path) -> StackFile:
    """Read the parts of the stack at ``path`` that the QA uses."""
    with fits.open(path) as hdul:
        header = hdul[0].header
        return StackFile(
            sci=np.asarray(hdul["SCI"].data, float),
            mask=np.asarray(hdul["MASK"].data) if "MASK" in hdul else None,
            wcs=WCS(hdul["SCI"].header),
            values={k: header[k] for k in HEADER_VALUES if k in header},
            psf_hdu=hdul["PSF"].copy() if "PSF" in hdul else None,
            psfstars=len(hdul["PSFSTARS"].data) if "PSFSTARS" in hdul else None,
            zp_stars=zeropoint_table(hdul),
        )


def zeropoint_table(hdul: fits.HDUList) -> ZeropointStars | None:
    """Catalog and instrumental magnitudes of the zero-point stars, if a stack extension has them.

    Looks for a table with a catalog-magnitude column (``cat_mag``/``mag_cat``/``catalog_mag``),
    an instrumental one (``mag_inst``/``inst_mag``), optionally a colour and a used/clipped flag.
    """
    for hdu in hdul[1:]:
        if not isinstance(hdu, fits.BinTableHDU) or hdu.data is None or len(hdu.data) == 0:
            continue
        names = {n.lower(): n for n in hdu.columns.names}
        cat = next(
            (names[n] for n in ("cat_mag", "mag_cat", "catalog_mag", "ref_mag") if n in names), None
        )
        inst = next((names[n] for n in ("mag_inst", "inst_mag") if n in names), None)
        if cat is None or inst is None:
            continue
        data = hdu.data
        colour = next(
            (
                np.asarray(data[names[n]], float)
                for n in ("colour", "color", "cat_color", "cat_colour")
                if n in names
            ),
            None,
        )
        if colour is not None and not np.isfinite(colour).any():
            colour = None  # no colour in the zero-point catalog: the QA looks it up
        if "used" in names:
            used = np.asarray(data[names["used"]], bool)
        elif "clipped" in names:
            used = ~np.asarray(data[names["clipped"]], bool)
        else:
            used = np.ones(len(data), bool)
        ids = np.asarray(data[names["catalog_id"]]).astype(str) if "catalog_id" in names else None
        return np.asarray(data[cat], float), np.asarray(data[inst], float), colour, used, ids
    return None

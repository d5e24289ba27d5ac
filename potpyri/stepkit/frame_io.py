"""Frame products of the steps: reading an input into memory to emit it anew, building a new one."""

from __future__ import annotations

import warnings
from collections.abc import Collection, Iterable
from os import PathLike

import numpy as np
from astropy.io import fits

__all__ = ["copy_hdus", "make_frame", "read_product"]


def copy_hdus(
    hdus: Iterable[fits.hdu.base.ExtensionHDU], drop: Collection[str] = ()
) -> fits.HDUList:
    """An in-memory copy of every HDU whose name is not in ``drop``."""
    return fits.HDUList([hdu.copy() for hdu in hdus if hdu.name not in drop])


def read_product(path: str | PathLike, drop: Collection[str] = ()) -> fits.HDUList:
    """Every HDU of the FITS product at ``path`` (but those named in ``drop``), copied into memory.

    The file is closed again before returning: products in the cache are read-only, and a step
    emits a changed copy rather than editing its input.
    """
    with fits.open(path) as hdul:
        return copy_hdus(hdul, drop)


def make_frame(
    sci: np.ndarray,
    mask: np.ndarray,
    uncert: np.ndarray,
    header: fits.Header | None = None,
    *,
    err_name: str = "UNCERT",
    wcs_header: fits.Header | None = None,
) -> fits.HDUList:
    """The pipeline's frame product: an empty primary HDU (header) and SCI, MASK, UNCERT/ERR.

    SCI and the uncertainty are float32 in electrons; MASK is uint8 with the reference's bits
    (1 bad, 2 cosmic ray, 4 saturated, 8 neighbour). The WCS of ``wcs_header`` (default:
    ``header``) is copied to every extension.
    """
    from astropy.wcs import WCS, FITSFixedWarning

    primary = fits.PrimaryHDU(header=header.copy() if header is not None else None)
    source = wcs_header if wcs_header is not None else header
    wcs_cards = fits.Header()
    if source is not None:
        try:
            with (
                warnings.catch_warnings()
            ):  # astropy's header repairs (DATE-OBS from MJD) are noise here
                warnings.simplefilter("ignore", FITSFixedWarning)
                wcs = WCS(source)
            if wcs.has_celestial:
                wcs_cards = wcs.to_header(relax=True)
        except Exception:  # a header without a usable WCS keeps none
            wcs_cards = fits.Header()
    hdus = [primary]
    for name, data in (
        ("SCI", sci.astype(np.float32)),
        ("MASK", mask.astype(np.uint8)),
        (err_name, uncert.astype(np.float32)),
    ):
        hdus.append(fits.ImageHDU(data=data, header=wcs_cards.copy(), name=name))
    return fits.HDUList(hdus)

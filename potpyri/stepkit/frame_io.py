"""Reading a step's input product into memory, so that the step can change it and emit it anew."""

from __future__ import annotations

from collections.abc import Collection, Iterable
from os import PathLike

from astropy.io import fits

__all__ = ["copy_hdus", "read_product"]


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

"""What every raw-format reader provides."""

from __future__ import annotations

import warnings
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from astropy.io import fits

__all__ = ["RawImage", "Reader"]


@dataclass
class RawImage:
    """A raw file after amplifier assembly, overscan subtraction and trimming.

    Parameters
    ----------
    data : numpy.ndarray
        Image in ADU, float32, overscan subtracted and trimmed.
    header : astropy.io.fits.Header
        Header with the classification keywords and the header WCS.
    gain : numpy.ndarray
        Gain in e-/ADU per pixel, or a scalar array where one gain applies to all pixels.
    rdnoise : numpy.ndarray
        Read noise in electrons, per pixel or scalar.
    """

    data: np.ndarray
    header: fits.Header
    gain: np.ndarray
    rdnoise: np.ndarray


class Reader:
    """Base class of raw-format readers; ``instrument`` is the instrument config node."""

    def __init__(self, instrument) -> None:
        self.instrument = instrument

    def header(self, path: Path) -> fits.Header:
        """The header carrying the classification keywords.

        Every HDU is walked so that a truncated file fails here, at ingest, not mid-reduction.
        """
        with warnings.catch_warnings():
            warnings.filterwarnings("error", message=".*truncated.*")
            with fits.open(path, lazy_load_hdus=False) as hdul:
                return hdul[self.instrument.raw_header_ext].header.copy()

    def read(self, path: Path) -> RawImage:
        """Read and assemble one raw file."""
        raise NotImplementedError

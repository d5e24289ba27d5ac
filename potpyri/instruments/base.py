"""What every raw-format reader provides."""

from __future__ import annotations

import hashlib
import io
import os
import warnings
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from astropy.io import fits

__all__ = ["LINEAR_WCS_KEYS", "RawImage", "Reader", "open_raw", "unpacked_copy"]

#: The header keywords of a linear celestial WCS (projection, reference point, CD matrix), in
#: the order the readers copy them from an amplifier's header.
LINEAR_WCS_KEYS = (
    *(f"{key}{axis}" for key in ("CTYPE", "CRVAL", "CRPIX") for axis in (1, 2)),
    *(f"CD{row}_{column}" for row in (1, 2) for column in (1, 2)),
)


def open_raw(path: Path, unpacked: Path | None = None, **kwargs) -> fits.HDUList:
    """Open a raw file, decompressing ``.bz2``/``.gz`` in one pass in memory.

    astropy reads compressed files through a seekable stream; every backward seek restarts the
    decompression, so a file of many amplifiers would be decompressed many times. With
    ``unpacked`` (a folder), the decompressed file is kept there, so that ingest, the master
    calibrations and process decompress each raw file once between them; the copy is named by the
    raw file's absolute path, size and modification time, so a changed raw file is never mistaken
    for its old copy.
    """
    path = Path(path)
    if path.suffix not in (".bz2", ".gz"):
        return fits.open(path, **kwargs)
    copy = unpacked_copy(path, unpacked) if unpacked is not None else None
    if copy is not None and copy.exists():
        return fits.open(copy, **kwargs)
    import bz2
    import gzip

    raw = path.read_bytes()
    payload = bz2.decompress(raw) if path.suffix == ".bz2" else gzip.decompress(raw)
    if copy is not None:
        _keep(payload, copy)
    return fits.open(io.BytesIO(payload), **kwargs)


def unpacked_copy(path: Path, folder: Path) -> Path:
    """Where the decompressed copy of raw file ``path`` lives in ``folder``."""
    path = Path(path).absolute()
    stat = path.stat()
    key = hashlib.sha256(f"{path}|{stat.st_size}|{stat.st_mtime_ns}".encode()).hexdigest()[:16]
    return Path(folder) / f"{key}-{path.name.rsplit('.', 1)[0]}"


def _keep(payload: bytes, copy: Path) -> None:
    """Write ``payload`` to ``copy`` atomically; the temporary name carries the pid so that the
    cache's stale-file cleaning removes what a killed run left."""
    copy.parent.mkdir(parents=True, exist_ok=True)
    tmp = copy.with_name(f".tmp-{os.getpid()}-{copy.name}")
    try:
        tmp.write_bytes(payload)
        os.replace(tmp, copy)
    except OSError:  # a full or read-only disk: the copy is an optimisation, the read goes on
        tmp.unlink(missing_ok=True)


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

    def __init__(self, instrument, unpacked: Path | None = None) -> None:
        self.instrument = instrument
        self.unpacked = unpacked  #: folder of decompressed copies of compressed raw files (or None)

    def header(self, path: Path) -> fits.Header:
        """The header carrying the classification keywords.

        Every HDU is walked so that a truncated file fails here, at ingest, not mid-reduction.
        """
        with warnings.catch_warnings():
            warnings.filterwarnings("error", message=".*truncated.*")
            with open_raw(path, self.unpacked, lazy_load_hdus=False) as hdul:
                return self.classification_header(hdul)

    def classification_header(self, hdul: fits.HDUList) -> fits.Header:
        """The header ingest classifies by, from an open file (override to add keywords)."""
        return hdul[self.instrument.raw_header_ext].header.copy()

    def read(self, path: Path) -> RawImage:
        """Read and assemble one raw file."""
        raise NotImplementedError

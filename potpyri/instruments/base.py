"""What every raw-format reader provides."""

from __future__ import annotations

import hashlib
import io
import os
import re
import warnings
from dataclasses import dataclass, fields
from pathlib import Path
from typing import ClassVar

import numpy as np
from astropy.io import fits

from potpyri.files import process_tag

__all__ = [
    "COMMON_FIELDS",
    "LINEAR_WCS_KEYS",
    "RawImage",
    "Reader",
    "ReaderError",
    "first_image_hdu",
    "image_hdus",
    "image_shape",
    "open_raw",
    "unpacked_copy",
]

#: Instrument fields the pipeline reads whatever the reader; a reader lists the others it reads
#: in :attr:`Reader.reads` (a test fails on a YAML field no code reads).
COMMON_FIELDS = frozenset(
    {
        "defaults", "name", "reader", "wavelength", "pixscale", "saturation", "min_exptime",
        "bias", "dark", "flat", "cr_bias", "raw_header_ext", "stack_method", "catalog_zp",
        "filter_bands", "zp_catalogs",
        "out_size", "static_mask", "keywords", "classify", "raw_format", "pointing", "options",
    }
)  # fmt: skip


class ReaderError(ValueError):
    """A raw file the reader cannot read as configured; the message is one line naming the file
    and the keyword or YAML field at fault."""


def image_shape(header: fits.Header) -> tuple[int, ...]:
    """The data shape a header declares, FITS axis order (NAXIS1 first)."""
    return tuple(header.get(f"NAXIS{i}", 0) for i in range(1, header.get("NAXIS", 0) + 1))


def image_hdus(
    hdul: fits.HDUList, ndims: tuple[int, ...] = (2,), keywords: tuple[str, ...] = ()
) -> list[fits.ImageHDU | fits.PrimaryHDU | fits.CompImageHDU]:
    """The HDUs holding an image of ``ndims`` dimensions with every one of ``keywords`` in its
    header, in file order. Raw files are read by content, never by EXTNAME, and from the headers
    alone: no pixel of a skipped HDU is loaded."""
    return [
        hdu
        for hdu in hdul
        if hdu.is_image
        and len(image_shape(hdu.header)) in ndims
        and all(key in hdu.header for key in keywords)
    ]


def first_image_hdu(
    hdul: fits.HDUList, path: Path, ndims: tuple[int, ...] = (2,)
) -> tuple[fits.ImageHDU | fits.PrimaryHDU | fits.CompImageHDU, int]:
    """The first HDU holding an image of ``ndims`` dimensions, and its index."""
    for index, hdu in enumerate(hdul):
        if hdu.is_image and len(image_shape(hdu.header)) in ndims:
            return hdu, index
    raise ReaderError(
        f"{Path(path).name}: no {' or '.join(f'{n}-D' for n in ndims)} image in any HDU"
    )


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
    """Write ``payload`` to ``copy`` atomically; the temporary name carries the pid and host so
    that the cache's stale-file cleaning removes what a killed run of this host left."""
    copy.parent.mkdir(parents=True, exist_ok=True)
    tmp = copy.with_name(f".tmp-{process_tag()}-{copy.name}")
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


@dataclass
class NoOptions:
    """A reader without settings of its own."""


class Reader:
    """Base class of raw-format readers; ``instrument`` is the instrument config node.

    A subclass implements :meth:`assemble`; :meth:`read` adds the starting sky WCS. Settings
    particular to one reader live in its ``Options`` dataclass, filled from the YAML's
    ``options:`` (an unknown option is an error, not ignored).
    """

    #: The reader's own settings, from ``instrument.options``.
    Options: ClassVar[type] = NoOptions
    #: Instrument fields this reader reads beyond :data:`COMMON_FIELDS`.
    reads: ClassVar[frozenset[str]] = frozenset()

    def __init__(self, instrument, unpacked: Path | None = None) -> None:
        self.instrument = instrument
        self.unpacked = unpacked  #: folder of decompressed copies of compressed raw files (or None)
        self.options = self._options(getattr(instrument, "options", None) or {})

    def _options(self, given) -> object:
        known = {f.name for f in fields(self.Options)}
        unknown = sorted(set(given) - known)
        if unknown:
            raise ValueError(
                f"instrument.options.{unknown[0]} is not an option of reader "
                f"{self.instrument.reader!r} (known: {', '.join(sorted(known)) or 'none'})"
            )
        return self.Options(**{key: _plain(value) for key, value in dict(given).items()})

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
        """Read and assemble one raw file, with a starting sky WCS."""
        image = self.assemble(path)
        self.add_sky_wcs(image, path)
        return image

    def assemble(self, path: Path) -> RawImage:
        """Assemble one raw file: amplifiers placed, overscan subtracted, trimmed."""
        raise NotImplementedError

    def add_sky_wcs(self, image: RawImage, path: Path, offset_arcsec=(0.0, 0.0)) -> None:
        """Give ``image`` a starting sky WCS from the pointing keywords where it has none (or
        where ``pointing.use_header_wcs`` is off); none where the header has no pointing
        keywords either."""
        from potpyri.instruments.classify import header_value
        from potpyri.instruments.pointing import NoPointing, has_celestial_wcs, pointing_wcs

        pointing = self.instrument.pointing
        if pointing.use_header_wcs and has_celestial_wcs(image.header):
            return
        # the binning as ingest reads it (a keyword, or a literal such as Nickel's "22")
        named = header_value(image.header, self.instrument.keywords.binning, "")
        binning = re.sub(r"\D", "", str(named or image.header.get("CCDSUM", "1 1")))
        xbin = int(binning[0]) if binning else 1
        try:
            cards = pointing_wcs(
                image.header,
                pointing,
                image.data.shape,
                float(self.instrument.pixscale) * xbin,
                offset_arcsec,
            )
        except NoPointing:
            return  # calibration goes on; the astrometry step sets the frame aside by name
        except ValueError as exc:
            raise ReaderError(f"{Path(path).name}: {exc}") from None
        for key in [k for k in image.header if k[:5] in ("CTYPE", "CUNIT") or k[:2] == "PC"]:
            del image.header[key]
        image.header.update(cards)

    def amplifier_value(self, what: str, header: fits.Header, index: int, path: Path) -> float:
        """Gain (``what='gain'``) or read noise (``'rdnoise'``) of amplifier ``index``.

        From the YAML list (one value per amplifier, in the reader's amplifier order) or, where
        that is empty, from the header keyword ``<what>_keyword``; never a silent default.
        """
        values = list(getattr(self.instrument, what) or [])
        if values:
            if index >= len(values):
                raise ReaderError(
                    f"{Path(path).name}: amplifier {index + 1} has no instrument.{what} value "
                    f"({len(values)} given)"
                )
            return float(values[index])
        keyword = getattr(self.instrument, f"{what}_keyword", "")
        if not keyword:
            raise ReaderError(
                f"{Path(path).name}: no {what}: instrument.{what} is empty and "
                f"instrument.{what}_keyword is not set"
            )
        try:
            value = float(header[keyword])
        except KeyError:
            raise ReaderError(
                f"{Path(path).name}: header keyword {keyword} ({what}, "
                f"instrument.{what}_keyword) missing"
            ) from None
        except (TypeError, ValueError):
            raise ReaderError(
                f"{Path(path).name}: header keyword {keyword}={header[keyword]!r} ({what}) is "
                "not a number"
            ) from None
        if not value > 0 and what == "gain":
            raise ReaderError(f"{Path(path).name}: header keyword {keyword}={value} (gain) <= 0")
        return value


def _plain(value):
    """An OmegaConf container as plain Python (options arrive as DictConfig/ListConfig)."""
    try:
        from omegaconf import OmegaConf

        return OmegaConf.to_container(value) if OmegaConf.is_config(value) else value
    except ImportError:  # pragma: no cover - omegaconf is a core dependency
        return value

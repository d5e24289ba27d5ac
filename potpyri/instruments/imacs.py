"""Magellan IMACS raw reader: one CCD file (``iff0012c2.fits``) read as one frame.

IMACS writes one FITS file per CCD, the pixels and every keyword in the primary HDU
(spec ``real_formats.md`` §9.1, after PyPhot ``magellan_imacs.py`` and POTPyRI). Each chip file
is reduced as a frame of its own, as the reference does (``keywords.amp: CHIP`` makes one
calibration group per chip); nothing here groups the eight files of an exposure.

Per chip (§9.2): the overscan is the chip's ``BIASSEC`` (median per row, subtracted), the image
its ``DATASEC``; gain and read noise are the header's ``EGAIN``/``ENOISE`` (``gain_keyword``/
``rdnoise_keyword`` in the YAML; a YAML ``gain:`` list, one value per CHIP, would override them).
The two rows of the mosaic are read out rotated by 180° from each other (PHOTRED
``wcsfit_imacs.pro``: chips 1-4 are flipped in x, 5-8 in y to be sky-right): chips 5-8 are turned
by 180° so that every chip comes out in the orientation of chips 1-4.

Raw chips carry no usable sky WCS (§9.5): the starting WCS is a TAN projection at the field
centre ``RA-D``/``DEC-D`` with the chip's offset ``CHOFFX``/``CHOFFY`` (arcsec, chip centre to
field centre, in the frame of chips 1-4; PyPhot adds CHOFFX to RA and subtracts CHOFFY from Dec
at ROTANGLE where chips 1-4 have x to the west), the header pixel scale ``SCALE`` and the rotator
angle ``ROTANGLE`` (``pointing.angle_offset_deg`` -43.77: the Lisp IMACS module's
``ROTANGLE - 43.77``). Every one of these conventions is UNCERTAIN in the spec (no real IMACS
header was seen); each is one YAML line (``pointing:`` and ``options:``).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from astropy.io import fits

from potpyri.instruments.base import RawImage, Reader, ReaderError, first_image_hdu, open_raw
from potpyri.instruments.sections import Section, read_section

__all__ = ["ImacsReader", "overscan_level"]


@dataclass
class ImacsOptions:
    """IMACS settings (``options:`` in ``conf/instrument/imacs.yaml``)."""

    #: Header pixel scale (arcsec per unbinned pixel; §9.2 ``SCALE``); empty: ``pixscale``.
    scale_keyword: str = "SCALE"
    #: Header keyword of the chip number 1-8 (§9.1, Lisp module ``CHIP``).
    chip_keyword: str = "CHIP"
    #: Chips stored rotated by 180° from chips 1-4 (PHOTRED: the second row), turned back.
    rotated_chips: list[int] = field(default_factory=lambda: [5, 6, 7, 8])
    #: Chip-centre-to-field-centre offset keywords (arcsec, x then y); empty: no offset.
    chip_offset_keywords: list[str] = field(default_factory=lambda: ["CHOFFX", "CHOFFY"])
    #: Field centre = chip centre + sign * (CHOFFX, CHOFFY) / scale (PyPhot: +1; Lisp: -1).
    chip_offset_sign: float = 1.0
    #: Sign applied to the rotator keyword before ``angle_offset_deg`` (Lisp: +1;
    #: PHOTRED's ``90 - ROTANGLE``: -1 with ``angle_offset_deg: 90``).
    angle_sign: float = 1.0
    #: Header keyword of the on-chip binning (``'1x1'``; PyPhot, POTPyRI).
    binning_keyword: str = "BINNING"


def overscan_level(raw: np.ndarray, data: Section, bias: Section) -> np.ndarray:
    """The overscan level to subtract from ``raw[data]``: the median per row where the overscan
    spans the data rows (overscan columns), per column where it spans the data columns
    (overscan rows), else one median."""
    overscan = raw[bias.rows, bias.cols]
    if bias.rows.start <= data.rows.start and bias.rows.stop >= data.rows.stop:
        return np.median(overscan, axis=1, keepdims=True)[
            data.rows.start - bias.rows.start : data.rows.stop - bias.rows.start
        ]
    if bias.cols.start <= data.cols.start and bias.cols.stop >= data.cols.stop:
        return np.median(overscan, axis=0, keepdims=True)[
            :, data.cols.start - bias.cols.start : data.cols.stop - bias.cols.start
        ]
    return np.full((1, 1), np.median(overscan), raw.dtype)


def header_of(hdul: fits.HDUList, index: int) -> fits.Header:
    """The image HDU's header, after the primary's cards where the image is an extension."""
    header = hdul[0].header.copy()
    if index:
        header.extend(
            [c for c in hdul[index].header.cards if c.keyword not in _STRUCTURE],
            update=True,
        )
    return header


_STRUCTURE = {"XTENSION", "BITPIX", "NAXIS", "NAXIS1", "NAXIS2", "PCOUNT", "GCOUNT", "EXTEND"}


def binning(header: fits.Header, keyword: str, path: Path) -> tuple[int, int]:
    """``(x, y)`` binning from ``'2x2'``-style text (``'2 2'`` and ``'2,2'`` also read)."""
    text = str(header.get(keyword, "")).replace("x", " ").replace(",", " ").split()
    if len(text) != 2 or not all(v.isdigit() for v in text):
        raise ReaderError(
            f"{Path(path).name}: header keyword {keyword}={header.get(keyword)!r} (binning, "
            "instrument.options.binning_keyword) missing or not 'XxY'"
        )
    return int(text[0]), int(text[1])


def header_number(header: fits.Header, keyword: str, path: Path, what: str) -> float:
    """A numeric header value, or a one-line :class:`ReaderError` naming the keyword."""
    if keyword not in header:
        raise ReaderError(f"{Path(path).name}: header keyword {keyword} ({what}) missing")
    try:
        return float(header[keyword])
    except (TypeError, ValueError):
        raise ReaderError(
            f"{Path(path).name}: header keyword {keyword}={header[keyword]!r} ({what}) is not a "
            "number"
        ) from None


class ImacsReader(Reader):
    """One IMACS chip file: overscan by BIASSEC, trimmed to DATASEC, EGAIN/ENOISE, chips 5-8
    turned by 180°, starting WCS from RA-D/DEC-D, CHOFFX/CHOFFY, ROTANGLE and SCALE."""

    Options = ImacsOptions
    reads = frozenset({"gain", "rdnoise", "gain_keyword", "rdnoise_keyword"})

    def assemble(self, path: Path) -> RawImage:
        with open_raw(path, self.unpacked) as hdul:
            hdu, index = first_image_hdu(hdul, path)
            header = header_of(hdul, index)
            raw = np.asarray(hdu.data, dtype=np.float32)
        sections = []
        for keyword in ("DATASEC", "BIASSEC"):
            if keyword not in header:
                raise ReaderError(
                    f"{Path(path).name}: header keyword {keyword} missing (IMACS chips carry "
                    "DATASEC and BIASSEC)"
                )
            sections.append(read_section(header[keyword]))
        data_sec, bias_sec = sections
        data = data_sec.oriented(
            raw[data_sec.rows, data_sec.cols] - overscan_level(raw, data_sec, bias_sec)
        )
        chip = self.chip(header, path)
        if chip in self.options.rotated_chips:
            data = data[::-1, ::-1]  # the second row is read out rotated by 180°
        xbin, ybin = binning(header, self.options.binning_keyword, path)
        header["CCDSUM"] = (f"{xbin} {ybin}", "binning, from " + self.options.binning_keyword)
        gain = self.amplifier_value("gain", header, chip - 1, path)
        rdnoise = self.amplifier_value("rdnoise", header, chip - 1, path)
        return RawImage(
            np.ascontiguousarray(data, np.float32), header, np.float32(gain), np.float32(rdnoise)
        )

    def chip(self, header: fits.Header, path: Path) -> int:
        """The chip number (1-8) from ``options.chip_keyword``."""
        keyword = self.options.chip_keyword
        value = header_number(header, keyword, path, "chip number")
        if value != int(value) or value < 1:
            raise ReaderError(f"{Path(path).name}: header keyword {keyword}={value!r} not a chip")
        return int(value)

    def add_sky_wcs(self, image: RawImage, path: Path, offset_arcsec=(0.0, 0.0)) -> None:
        """The starting WCS: TAN at the field centre (RA-D/DEC-D), placed on this chip by its
        offset CHOFFX/CHOFFY, scaled by SCALE × binning, rotated by ROTANGLE."""
        from potpyri.instruments.pointing import NoPointing, has_celestial_wcs, pointing_wcs

        pointing = self.instrument.pointing
        header = image.header
        if pointing.use_header_wcs and has_celestial_wcs(header):
            return
        xbin = int(str(header["CCDSUM"]).split()[0])
        keyword = self.options.scale_keyword
        unbinned = (
            header_number(header, keyword, path, "pixel scale, instrument.options.scale_keyword")
            if keyword
            else float(self.instrument.pixscale)
        )
        scale = unbinned * xbin
        angle_header = header
        if pointing.position_angle and self.options.angle_sign != 1.0:
            angle_header = header.copy()
            angle = header_number(header, pointing.position_angle, path, "rotator angle")
            angle_header[pointing.position_angle] = self.options.angle_sign * angle
        try:
            cards = pointing_wcs(angle_header, pointing, image.data.shape, scale)
        except NoPointing:
            return  # calibration goes on; the astrometry step sets the frame aside by name
        except ValueError as exc:
            raise ReaderError(f"{Path(path).name}: {exc}") from None
        # The pointing is the centre of the whole mosaic: it falls off this chip's centre by the
        # chip offset (arcsec in the frame of chips 1-4, which every chip now has).
        for axis, key in enumerate(self.options.chip_offset_keywords[:2], start=1):
            offset = header_number(header, key, path, "chip offset, arcsec")
            cards[f"CRPIX{axis}"] += self.options.chip_offset_sign * offset / scale
        for key in [k for k in header if k[:5] in ("CTYPE", "CUNIT") or k[:2] == "PC"]:
            del header[key]
        header.update(cards)

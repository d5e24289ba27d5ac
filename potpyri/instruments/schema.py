"""The typed schema of ``conf/instrument/*.yaml``.

An instrument is data (this schema) plus, where its raw format needs one, a reader class chosen by a
registered name (``reader: gmos``), never by an import path.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass, field
from typing import Any

from omegaconf import MISSING

__all__ = [
    "Classification",
    "InstrumentConfig",
    "Keywords",
    "Pointing",
    "RawFormats",
    "Rule",
    "Wavelength",
]


class Wavelength(str, enum.Enum):
    """Wavelength regime; chooses the pipeline's step list."""

    OPT = "OPT"
    NIR = "NIR"


@dataclass
class Keywords:
    """Header keywords the pipeline reads. A value starting with a digit is a literal (``"11"``)."""

    target: str = "OBJECT"  #: target name
    exptime: str = "EXPTIME"  #: exposure time, seconds
    filter: str = "FILTER"  #: filter name
    mjd: str = "MJD-OBS"  #: start of exposure: an MJD (number or text) or an ISO date
    time: str = ""  #: time of day (``'hh:mm:ss'``) added to ``mjd`` when that holds a date only
    binning: str = "CCDSUM"  #: binning, e.g. '2 2'; a literal like '11' where fixed
    amp: str = "NCCDS"  #: amplifier/chip configuration; a literal like '1' where fixed


@dataclass
class Rule:
    """A file is of this type when its header matches the rule.

    Values are regular expressions searched (case-insensitively) in the keyword's value, as the
    reference does; a missing keyword reads as an empty string (so ``'^$'`` tests absence).
    """

    keywords: list[str] = field(default_factory=list)  #: every one must match its value
    values: list[str] = field(default_factory=list)
    any_keywords: list[str] = field(default_factory=list)  #: if given, at least one must match
    any_values: list[str] = field(default_factory=list)
    not_keywords: list[str] = field(default_factory=list)  #: none of these may match
    not_values: list[str] = field(default_factory=list)


@dataclass
class Classification:
    """The reference pipeline's keyword rules that sort files into types."""

    science: Rule = field(default_factory=Rule)
    flat: Rule = field(default_factory=Rule)
    bias: Rule = field(default_factory=Rule)
    dark: Rule = field(default_factory=Rule)
    spec: Rule = field(default_factory=Rule)
    bad: Rule = field(default_factory=Rule)


@dataclass
class RawFormats:
    """File-name globs of raw files, per ``proc`` mode of the reference CLI."""

    default: str = "*.fits*"
    raw: str = "*.fits*"
    archive: str = "*.fits*"
    dragons: str = "*.fits*"


@dataclass
class Pointing:
    """How to build a starting sky WCS from the pointing keywords, for raw files without one.

    The WCS is a TAN projection at the frame's centre (plus the chip offset, for one-chip
    files), scaled by ``pixscale`` × binning and rotated by the position angle; astrometry then
    searches ``uncertainty_arcsec`` around it.
    """

    ra: str = "RA"  #: right-ascension keyword
    dec: str = "DEC"  #: declination keyword
    ra_unit: str = "auto"  #: deg, hourangle (decimal hours), or auto (sexagesimal text: hours)
    position_angle: str = ""  #: keyword of the sky position angle of +y; empty: 0
    angle_offset_deg: float = 0.0  #: added to the header angle (instrument's zero point)
    flip_x: bool = True  #: east is towards -x at zero angle (north up, east left)
    flip_y: bool = False  #: north is towards -y at zero angle
    uncertainty_arcsec: float = 1800.0  #: pointing error searched; small telescopes: tens of arcmin
    use_header_wcs: bool = True  #: keep a celestial WCS the raw file already has


@dataclass
class InstrumentConfig:
    """Everything the pipeline knows about one instrument."""

    name: str = MISSING  #: canonical name written to products, e.g. GMOS
    reader: str = "single"  #: registered raw-format reader (potpyri.instruments.READERS)
    wavelength: Wavelength = Wavelength.OPT  #: OPT or NIR; picks the pipeline's step list
    pixscale: float = MISSING  #: arcsec per unbinned pixel
    gain: list[float] = field(default_factory=list)  #: e-/ADU per amplifier; empty: from headers
    rdnoise: list[float] = field(default_factory=list)  #: e- per amplifier; empty: from headers
    gain_keyword: str = ""  #: header keyword of the gain where ``gain`` is empty (e.g. GAIN)
    rdnoise_keyword: str = ""  #: header keyword of the read noise where ``rdnoise`` is empty
    saturation: float = 65535.0  #: ADU at which a pixel is flagged saturated
    min_exptime: float = 1.0  #: shorter science exposures are rejected, seconds
    bias: bool = True  #: the instrument uses bias frames
    dark: bool = False  #: the instrument uses dark frames
    flat: bool = True  #: the instrument uses flat fields
    cr_bias: bool = True  #: reference flag: bias-subtract before cosmic-ray detection
    raw_header_ext: int = 0  #: extension holding the classification keywords
    datasec: list[str] = field(default_factory=list)  #: data section per chip where headers lack it
    biassec: list[str] = field(
        default_factory=list
    )  #: overscan section per chip where headers lack it
    stack_method: str = "median"  #: reference default stacking method
    catalog_zp: str = "PS1"  #: preferred zero-point catalog
    #: filter name -> catalog band where the name alone misleads (``{R: r}``: calibrate the
    #: instrument's R against SDSS-like r; ``none``: no catalog band, the stack stays uncalibrated)
    filter_bands: dict[str, str] = field(default_factory=dict)
    #: filter name or band -> the catalog that calibrates it (``{V: gspc}``), instead of the
    #: automatic order (closest band with enough stars first)
    zp_catalogs: dict[str, str] = field(default_factory=dict)
    out_size: int = 2500  #: default size of the stacked image, pixels
    static_mask: str | None = None  #: optional static bad-pixel mask file
    pointing: Pointing = field(default_factory=Pointing)
    options: dict[str, Any] = field(
        default_factory=dict
    )  #: the reader's own settings (its Options)
    keywords: Keywords = field(default_factory=Keywords)
    classify: Classification = field(default_factory=Classification)
    raw_format: RawFormats = field(default_factory=RawFormats)

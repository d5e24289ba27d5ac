"""The contract between the simulator's physics and one instrument's raw data format.

The simulator's core (``potpyri.sim.night``) renders what reaches the detector, in electrons, on
the *focal-plane mosaic*: the trimmed, gain-corrected, chip-mosaicked image with the orientation
that the pipeline's raw reader produces for that instrument (its shape at ``size="full"`` is the
shape of the reference pipeline's static mask, where one exists). A :class:`RawFormat` then turns
that electron image into the raw file the instrument's archive delivers: it splits the mosaic into
chips and amplifiers, divides by each amplifier's gain, adds bias level, bias structure, read noise,
prescan/overscan columns, flips and binning conventions, and writes the headers.

Everything instrument-specific lives in one subclass per format family, registered by name in
:data:`FORMATS`. The core never looks at header keywords; a format never draws stars.
"""

from __future__ import annotations

import bz2
import gzip
import io
import os
import tempfile
from abc import ABC, abstractmethod
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from astropy.io import fits
from astropy.time import Time

__all__ = [
    "FORMATS",
    "FRAME_KINDS",
    "FrameMeta",
    "Geometry",
    "SITES",
    "TELESCOPES",
    "RawFormat",
    "Setup",
    "register_format",
    "write_raw",
]

#: Kinds of frame a simulated night holds. The last four are files the pipeline must reject:
#: a spectroscopic frame, an acquisition image, a frame flagged bad in its header, and a science
#: exposure shorter than the instrument's minimum exposure time.
FRAME_KINDS = (
    "bias",
    "dark",
    "flat",
    "science",
    "spectrum",
    "acquisition",
    "bad",
    "short",
)

#: Primary-mirror diameter (m) and linear central obscuration (secondary's diameter over the
#: primary's, approximate) of each site's telescope: Keck I/II, Gemini, Magellan Baade/Clay,
#: MMT.
TELESCOPES = {
    "Keck": (10.0, 0.14),
    "Gemini-North": (8.1, 0.13),
    "Gemini-South": (8.1, 0.13),
    "Magellan": (6.5, 0.20),
    "MMT": (6.5, 0.26),
}
#: Observatory sites as (longitude deg, latitude deg, height m), for airmass and header keywords.
SITES = {
    "Keck": (-155.47833, 19.82833, 4160.0),
    "Gemini-North": (-155.46906, 19.82381, 4213.0),
    "Gemini-South": (-70.73669, -30.24075, 2722.0),
    "Magellan": (-70.69208, -29.01418, 2380.0),
    "MMT": (-110.88456, 31.68877, 2606.0),
}


@dataclass(frozen=True)
class Setup:
    """One instrument configuration within a simulated night.

    Parameters
    ----------
    binning : tuple of int
        On-chip binning ``(x, y)``.
    size : str
        ``"full"`` for the whole detector, ``"small"`` for a reduced read-out that the real
        instrument also supports (a sub-array, region of interest or coarser binning) so that
        tests stay fast.
    variant : str
        Detector generation or side where the instrument has several (GMOS ``"ham"``, ``"e2v"``,
        ``"eev"``; LRIS ``"red"`` or ``"blue"``); empty where there is one.
    """

    binning: tuple[int, int] = (1, 1)
    size: str = "small"
    variant: str = ""


@dataclass(frozen=True)
class Geometry:
    """The focal-plane mosaic a format reads out, as the simulator's core needs it.

    Parameters
    ----------
    shape : tuple of int
        ``(ny, nx)`` of the mosaic in binned pixels.
    pixscale : float
        Nominal plate scale, arcsec per binned pixel.
    orientation : tuple
        Unit 2×2 matrix ``M`` with ``(xi, eta) = pixscale * M @ (x, y)`` at position angle zero,
        where ``xi`` points east and ``eta`` north (so ``((-1, 0), (0, 1))`` is north up,
        east left). The nominal CD matrix is ``pixscale / 3600 * M``.
    crpix : tuple of float
        1-based ``(x, y)`` mosaic pixel at which the telescope pointing falls.
    sensitive : numpy.ndarray or None
        Boolean ``(ny, nx)`` array, False in chip gaps and unread areas; None when every mosaic
        pixel is read.
    """

    shape: tuple[int, int]
    pixscale: float
    orientation: tuple[tuple[float, float], tuple[float, float]] = ((-1.0, 0.0), (0.0, 1.0))
    crpix: tuple[float, float] | None = None
    sensitive: np.ndarray | None = field(default=None, compare=False)

    @property
    def cd_nominal(self) -> np.ndarray:
        """Nominal CD matrix in degrees per binned pixel."""
        return self.pixscale / 3600.0 * np.asarray(self.orientation, dtype=float)

    @property
    def crpix_or_center(self) -> tuple[float, float]:
        """Reference pixel, defaulting to the mosaic centre (1-based)."""
        if self.crpix is not None:
            return self.crpix
        ny, nx = self.shape
        return ((nx + 1) / 2.0, (ny + 1) / 2.0)


@dataclass
class FrameMeta:
    """What the observer did for one exposure: everything a header needs, no pixels.

    Parameters
    ----------
    kind : str
        One of :data:`FRAME_KINDS`.
    number : int
        Running number of the exposure in the night (1-based), used in file names.
    object_name : str
        OBJECT/target name as the observer typed it (``"bias"``, ``"Twilight"``, a target).
    band : str
        Generic band name (``"g"``, ``"r"``, ``"J"``, ``"Ks"``...); the format spells it the
        instrument's way through :attr:`RawFormat.filters`. Empty for biases and darks.
    exptime : float
        Exposure time in seconds.
    date_obs : astropy.time.Time
        Start of the exposure (UTC).
    ra, dec : float
        Telescope pointing written to the header, in degrees (differs from the truth by the
        pointing error the core chose).
    airmass : float
        Airmass at mid-exposure.
    position_angle : float
        Nominal sky position angle in degrees written to the header (the truth adds a rotation
        error on top).
    flat_kind : str
        ``"dome"``, ``"twilight"`` or ``"sky"`` for flats; empty otherwise.
    extra : dict
        Anything else a format wants to record (kept verbatim in ``truth/frames.ecsv``).
    """

    kind: str
    number: int
    object_name: str
    band: str
    exptime: float
    date_obs: Time
    ra: float = 0.0
    dec: float = 0.0
    airmass: float = 1.0
    position_angle: float = 0.0
    flat_kind: str = ""
    extra: dict = field(default_factory=dict)

    def __post_init__(self) -> None:
        if self.kind not in FRAME_KINDS:
            raise ValueError(f"unknown frame kind {self.kind!r}; expected one of {FRAME_KINDS}")


class RawFormat(ABC):
    """One instrument's raw data format and the detector facts the simulator needs.

    Subclasses set the class attributes and implement :meth:`geometry`, :meth:`filename` and
    :meth:`readout`. Register them with :func:`register_format`.
    """

    #: Registry name of the format, e.g. ``"gmos-n"``, ``"lris"``.
    name: str = ""
    #: Name of the potpyri instrument YAML that reduces it (``conf/instrument/<name>.yaml``).
    instrument: str = ""
    #: ``"OPT"`` or ``"NIR"``.
    wavelength: str = "OPT"
    #: Generic band -> the header's own spelling of the filter.
    filters: dict[str, str] = {}
    #: Calibration frames the instrument's night has, among ``"bias"``, ``"dark"``, ``"flat"``.
    calibrations: tuple[str, ...] = ("bias", "flat")
    #: Kind of flat the reference uses: ``"dome"``, ``"twilight"`` or ``"sky"``.
    flat_kind: str = "dome"
    #: Bands that show fringes on this instrument.
    fringe_bands: tuple[str, ...] = ()
    #: Minimum science exposure time of the reference's classification, seconds.
    min_exptime: float = 1.0
    #: Dark current, electrons per second per unbinned pixel.
    dark_current: float = 0.0
    #: Full-well depth in electrons (unbinned); charge above it bleeds along columns.
    full_well: float = 150000.0
    #: Nonlinearity coefficients of :func:`potpyri.sim.detector.nonlinear` (NIR arrays), applied
    #: when a night asks for it: read charge falls 3% short at full well, 1% at 40% of it.
    nonlinearity: tuple[float, ...] = ()
    #: Telescope aperture (m) and linear central obscuration, for the diffraction of the PSF.
    telescope: tuple[float, float] = (8.0, 0.15)
    #: AB magnitude that gives 1 electron per second in each band, at airmass zero.
    zeropoint_ab: dict[str, float] = {}
    #: Observatory (longitude deg, latitude deg, height m), for airmass and header keywords.
    site: tuple[float, float, float] = (0.0, 0.0, 0.0)
    #: Setups a night is simulated with when the user gives none.
    default_setup: Setup = Setup()

    @abstractmethod
    def geometry(self, setup: Setup) -> Geometry:
        """The focal-plane mosaic this setup reads out."""

    @abstractmethod
    def filename(self, meta: FrameMeta, setup: Setup) -> str:
        """The archive's file name for this exposure, with its compression suffix."""

    @abstractmethod
    def readout(
        self, electrons: np.ndarray, meta: FrameMeta, setup: Setup, rng: np.random.Generator
    ) -> fits.HDUList:
        """Turn the mosaic electron image into the raw file's HDUs.

        ``electrons`` has :attr:`Geometry.shape` and holds photo-electrons plus dark current,
        cosmic rays and bleeding already; the format adds bias, bias structure, read noise,
        overscan and gain, clips at the ADC limit, and writes every header keyword the
        instrument's archive writes (classification keywords for ``meta.kind``, header WCS from
        the header pointing, DATASEC/BIASSEC/DETSEC/CCDSEC/CCDSUM where the instrument has them).
        """

    def split_files(
        self, hdul: fits.HDUList, meta: FrameMeta, setup: Setup
    ) -> list[tuple[str, fits.HDUList, tuple[slice, slice] | None]]:
        """The files one exposure is delivered as, each with the mosaic region it covers (None:
        all of it). Most instruments deliver one file, named by :meth:`filename`."""
        return [(self.filename(meta, setup), hdul, None)]

    def truth_header(self, meta: FrameMeta, setup: Setup) -> dict:
        """Instrument keywords worth keeping in the truth table (override to add)."""
        return {}


#: Registered formats by name.
FORMATS: dict[str, type[RawFormat]] = {}


def register_format(cls: type[RawFormat]) -> type[RawFormat]:
    """Class decorator adding a :class:`RawFormat` subclass to :data:`FORMATS`."""
    if not cls.name:
        raise ValueError(f"{cls.__name__} has no format name")
    if cls.name in FORMATS and FORMATS[cls.name] is not cls:
        raise ValueError(f"format {cls.name!r} registered twice")
    FORMATS[cls.name] = cls
    return cls


def write_raw(hdul: fits.HDUList, path: str | os.PathLike) -> Path:
    """Write a raw file atomically, compressed as its suffix says.

    ``.fits.bz2`` and ``.fits.gz`` compress the whole file; ``.fits.fz`` tile-compresses every
    image extension (RICE for integers, as archives do); anything else is plain FITS.
    ``gzip`` is written with a zero modification time so that the same seed gives identical
    bytes.
    """
    path = Path(path)
    name = path.name
    if name.endswith(".fz"):
        out = fits.HDUList([hdul[0]])
        for hdu in hdul[1:]:
            if isinstance(hdu, fits.ImageHDU):
                out.append(fits.CompImageHDU(data=hdu.data, header=hdu.header))
            else:
                out.append(hdu)
        hdul = out
    buffer = io.BytesIO()
    hdul.writeto(buffer, output_verify="silentfix")
    payload = buffer.getvalue()
    if name.endswith(".bz2"):
        payload = bz2.compress(payload, compresslevel=9)
    elif name.endswith(".gz"):
        payload = gzip.compress(payload, compresslevel=6, mtime=0)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(payload)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return path

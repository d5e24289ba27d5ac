"""GMOS-N/S raw reader: every amplifier of every readout region placed on the 3-CCD mosaic.

What a raw Gemini file is (spec ``real_formats.md`` section 2, from real raw headers): an empty
primary HDU, then one image extension per amplifier and region of interest (``NCCDS`` × ``NAMPS``
× ``DETNROI``), **without EXTNAME** (Gemini's own software adds ``SCI`` later), not always in
detector order (e2v DD: the right amplifier of each CCD first). So the reader

* takes as amplifiers the extensions holding a 2-d image with ``DATASEC`` and ``DETSEC``, and
  orders them by ``DETSEC`` (y, then x), never by EXTNAME or extension number;
* subtracts each amplifier's overscan, the row-by-row median of its own ``BIASSEC`` (the side
  alternates between amplifiers, spec 2.2);
* places each trimmed ``DATASEC`` at its ``DETSEC`` divided by the binning (``CCDSUM``), every
  region of interest at its own rows: the output spans the whole 3-CCD width and the detector rows
  from 1 to the highest ``DETSEC`` row (plus the CCDs' y offsets); pixels no amplifier reads have
  gain 0;
* places the CCDs where DRAGONS' measured geometry puts them (DETSEC abuts them): the
  centre-to-centre (x, y) shifts of CCDs 1 and 3 from CCD 2 in ``geometry_conf.py``, keyed by the
  primary ``DETID`` (spec 2.2), rounded to whole binned pixels (gaps of 38-45 unbinned pixels for
  EEV/e2v, 62-68 for Hamamatsu, and y offsets up to 10). The rotations (0.02 deg or less, 0.046
  deg for GMOS-N EEV CCD 3) are not applied: no pixel is resampled;
* optionally crops to the central imaging field the reference keeps (``options.field_width_2x2``);
* takes gain and read noise per amplifier from the header keywords the YAML names (``GAIN``,
  ``RDNOISE``: nominal values, spec 2.2; ``instrument.gain``/``rdnoise`` lists in DETSEC order
  override them);
* gives the mosaic the raw sky WCS of the central CCD's first amplifier (every extension carries
  a TAN WCS with the same CRVAL, spec 2.5), shifted to the mosaic. Frames without one (biases,
  darks) get the pointing WCS of :meth:`Reader.read`.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from astropy.io import fits
from astropy.wcs import FITSFixedWarning

from potpyri.instruments.base import (
    LINEAR_WCS_KEYS,
    RawImage,
    Reader,
    ReaderError,
    image_hdus,
    open_raw,
)
from potpyri.instruments.sections import Section, read_section

__all__ = [
    "CHIP_WIDTH",
    "GEOMETRY",
    "ChipGeometry",
    "GmosOptions",
    "GmosReader",
    "chip_geometry",
    "mosaic_width",
]

CHIP_WIDTH = 2048  # unbinned columns per CCD, every GMOS detector (spec 2.1)


@dataclass(frozen=True)
class ChipGeometry:
    """Where CCDs 1 and 3 sit relative to CCD 2: DRAGONS ``mosaicDetectors`` geometry.

    ``shifts_px`` are the centre-to-centre (x, y) offsets of CCDs 1, 2, 3 from CCD 2 in unbinned
    pixels; ``rotations_deg`` their rotations (counter-clockwise, about each CCD's centre), which
    the reader does not apply: it places whole pixels and never resamples.
    """

    shifts_px: tuple[tuple[float, float], tuple[float, float], tuple[float, float]]
    rotations_deg: tuple[float, float, float] = (0.0, 0.0, 0.0)

    @classmethod
    def from_gap(cls, gap_px: float) -> ChipGeometry:
        """CCDs in one row with ``gap_px`` unbinned pixels between them."""
        step = CHIP_WIDTH + gap_px
        return cls(((-step, 0.0), (0.0, 0.0), (step, 0.0)))

    def origins(self, xbin: int, ybin: int) -> list[tuple[int, int]]:
        """Binned mosaic (x, y) of each CCD's first pixel, rounded to whole pixels."""
        x_first = self.shifts_px[0][0]
        y_lowest = min(y for _, y in self.shifts_px)
        return [
            (_nearest((x - x_first) / xbin), _nearest((y - y_lowest) / ybin))
            for x, y in self.shifts_px
        ]


def _nearest(value: float) -> int:
    return int(np.floor(value + 0.5))


#: DRAGONS ``geometry`` (``geminidr/gmos/lookups/geometry_conf.py``, spec 2.2) by primary-header
#: ``DETID``: the measured shifts and rotations of CCDs 1 and 3 (the x shifts minus 2048 are the
#: gaps, 38-45 unbinned pixels for EEV/e2v, where DRAGONS' nominal ``tile_gaps`` say 37).
GEOMETRY = {
    # GMOS-N EEV
    "EEV9273-16-03EEV9273-20-04EEV9273-20-03": ChipGeometry(
        ((-2087.50, -1.58), (0.0, 0.0), (2088.8723, -1.86)), (-0.004, 0.0, -0.046)
    ),
    # GMOS-N e2v DD
    "e2v 10031-23-05,10031-01-03,10031-18-04": ChipGeometry(
        ((-2087.7, -0.749), (0.0, 0.0), (2087.8014, 2.05)), (-0.009, 0.0, -0.003)
    ),
    # GMOS-N Hamamatsu
    "BI13-20-4k-1,BI12-09-4k-2,BI13-18-4k-2": ChipGeometry(
        ((-2115.95, -0.21739), (0.0, 0.0), (2115.48, 0.1727)), (-0.004, 0.0, -0.00537)
    ),
    # GMOS-S EEV (old)
    "EEV8056-20-03EEV8194-19-04EEV8261-07-04": ChipGeometry(
        ((-2086.44, 5.46), (0.0, 0.0), (2092.53, 9.57)), (-0.01, 0.0, 0.02)
    ),
    # GMOS-S EEV ("new CCD1")
    "EEV2037-06-03EEV8194-19-04EEV8261-07-04": ChipGeometry(
        ((-2086.49, -0.22), (0.0, 0.0), (2089.31, 2.04)), (0.011, 0.0, 0.012)
    ),
    # GMOS-S Hamamatsu to 2023-12-13
    "BI5-36-4k-2,BI11-33-4k-1,BI12-34-4k-1": ChipGeometry(
        ((-2110.2, 0.71), (0.0, 0.0), (2109.0, -0.73))
    ),
    # GMOS-S Hamamatsu from 2023-12-14
    "BI11-41-4k-2,BI13-19-4k-3,BI12-34-4k-1": ChipGeometry(
        ((-2112.5, -1.2), (0.0, 0.0), (2110.8, 1.2))
    ),
}
#: For a DETID not in the table (a chip exchange DRAGONS has not yet listed), by ``DETTYPE``:
#: S10892-N is GMOS-N Hamamatsu, S10892 GMOS-S Hamamatsu, SDSU II ... EEV or e2v (DRAGONS'
#: ``tile_gaps`` 67, 61 and 37).
_GEOMETRY_BY_DETTYPE = (
    ("S10892-N", ChipGeometry.from_gap(67)),
    ("S10892", ChipGeometry.from_gap(61)),
    ("SDSU II", ChipGeometry.from_gap(37)),
)
_WCS_KEYS = (*LINEAR_WCS_KEYS, "RADECSYS", "EQUINOX")


@dataclass
class GmosOptions:
    """Settings of the GMOS reader (``options:`` in ``conf/instrument/gmos.yaml``)."""

    #: Central imaging field kept, in 2×2-binned columns, per ``INSTRUME`` (scaled to the binning);
    #: a site not listed keeps the whole 3-CCD mosaic. The reference keeps 2108 (GMOS-N) and
    #: 2128 (GMOS-S) columns, the widths of its static masks.
    field_width_2x2: dict[str, int] = field(
        default_factory=lambda: {"GMOS-N": 2108, "GMOS-S": 2128}
    )
    #: Unbinned gap between the CCDs for every detector, in one row, instead of DRAGONS' measured
    #: geometry (CONFLICT, spec 2.2: the reference uses 60 on GMOS-N and 80 on GMOS-S); None: the
    #: geometry table.
    chip_gap: int | None = None


def chip_geometry(primary: fits.Header, gap_px: float | None = None) -> ChipGeometry:
    """The CCD geometry of this file's detector (DRAGONS' table by ``DETID``, else ``DETTYPE``),
    or CCDs ``gap_px`` apart in one row when that is given (``options.chip_gap``)."""
    if gap_px is not None:
        return ChipGeometry.from_gap(float(gap_px))
    detid = str(primary.get("DETID", "")).strip()
    if detid in GEOMETRY:
        return GEOMETRY[detid]
    dettype = str(primary.get("DETTYPE", "")).strip()
    for prefix, geometry in _GEOMETRY_BY_DETTYPE:
        if dettype.startswith(prefix):
            return geometry
    raise ValueError(
        f"no CCD geometry for DETID={detid!r} DETTYPE={dettype!r} (set instrument.options.chip_gap)"
    )


def mosaic_width(geometry: ChipGeometry, xbin: int) -> int:
    """Binned width of the 3-CCD mosaic."""
    return geometry.origins(xbin, 1)[2][0] + CHIP_WIDTH // xbin


@dataclass
class _Amp:
    """One amplifier extension: header, pixels and sections."""

    header: fits.Header
    data: np.ndarray
    data_section: Section
    detector: Section  # DETSEC, unbinned


def image_extensions(hdul: fits.HDUList) -> list[fits.ImageHDU]:
    """The amplifier extensions: 2-d images with DATASEC and DETSEC (raw files have no EXTNAME)."""
    return image_hdus(hdul[1:], keywords=("DATASEC", "DETSEC"))


class GmosReader(Reader):
    """Assemble the amplifiers of a GMOS raw file (EEV, e2v or Hamamatsu; any binning or ROIs)."""

    Options = GmosOptions
    reads = frozenset({"gain", "rdnoise", "gain_keyword", "rdnoise_keyword"})

    def assemble(self, path: Path) -> RawImage:
        name = Path(path).name
        with open_raw(path, self.unpacked) as hdul:
            primary = hdul[0].header.copy()
            amps = [self._amp(hdu, name) for hdu in image_extensions(hdul)]
        if not amps:
            raise ReaderError(f"{name}: no image extension with DATASEC and DETSEC")
        amps.sort(key=lambda a: (a.detector.rows.start, a.detector.cols.start))
        try:
            bx, by = (int(v) for v in str(amps[0].header["CCDSUM"]).split())
        except (KeyError, ValueError):
            raise ReaderError(f"{name}: extension keyword CCDSUM missing or malformed") from None
        try:
            geometry = chip_geometry(primary, self.options.chip_gap)
        except ValueError as exc:
            raise ReaderError(f"{name}: {exc}") from None
        origins = geometry.origins(bx, by)
        full_width = mosaic_width(geometry, bx)
        field = self.options.field_width_2x2.get(str(primary.get("INSTRUME", "")).strip())
        width = full_width if field is None else min(int(field) * 2 // bx, full_width)
        crop = (full_width - width) // 2
        places = [self._place(amp, origins, bx, by) for amp in amps]
        n_rows = max(y0 + a.data_section.shape[0] for a, (_, y0) in zip(amps, places, strict=True))
        data = np.zeros((n_rows, width), np.float32)
        gain = np.zeros_like(data)
        rdnoise = np.zeros_like(data)
        wcs = fits.Header()
        for index, (amp, (x0, y0)) in enumerate(zip(amps, places, strict=True)):
            block = amp.data_section.oriented(
                amp.data[amp.data_section.rows, amp.data_section.cols] - self._level(amp, name)
            )
            x0 -= crop
            lo, hi = max(x0, 0), min(x0 + block.shape[1], width)
            if hi <= lo:
                continue  # an amplifier wholly outside the kept field
            rows = slice(y0, y0 + block.shape[0])
            data[rows, lo:hi] = block[:, lo - x0 : hi - x0]
            gain[rows, lo:hi] = self.amplifier_value("gain", amp.header, index, path)
            rdnoise[rows, lo:hi] = self.amplifier_value("rdnoise", amp.header, index, path)
            if amp.detector.cols.start // CHIP_WIDTH == 1 and not wcs and "CRPIX1" in amp.header:
                # The central CCD's WCS: its pixel scale and rotation are the nominal ones.
                wcs = fits.Header([(k, amp.header[k]) for k in _WCS_KEYS if k in amp.header])
                wcs["CRPIX1"] = amp.header["CRPIX1"] - amp.data_section.cols.start + x0
                wcs["CRPIX2"] = amp.header["CRPIX2"] - amp.data_section.rows.start + y0
        header = primary
        header.update(self._amplifier_cards(amps[0].header))
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", FITSFixedWarning)
            header.update(wcs)
        for chip, (x0, y0) in enumerate(origins, start=1):
            header[f"CCDPOS{chip}"] = (
                f"{x0 - crop} {y0}",
                "binned mosaic x y of the CCD's pixel 1,1",
            )
        return RawImage(data, header, gain, rdnoise)

    @staticmethod
    def _place(amp: _Amp, origins: list[tuple[int, int]], xbin: int, ybin: int) -> tuple[int, int]:
        """Binned mosaic (x, y) of an amplifier's first data pixel: its CCD's origin plus its
        DETSEC place within the CCD."""
        chip = amp.detector.cols.start // CHIP_WIDTH
        x0, y0 = origins[chip]
        return (
            x0 + (amp.detector.cols.start - chip * CHIP_WIDTH) // xbin,
            y0 + amp.detector.rows.start // ybin,
        )

    @staticmethod
    def _amp(hdu: fits.ImageHDU, name: str) -> _Amp:
        head = hdu.header
        try:
            return _Amp(
                head,
                hdu.data.astype(np.float32),
                read_section(head["DATASEC"]),
                read_section(head["DETSEC"]),
            )
        except ValueError as exc:
            raise ReaderError(f"{name}: {exc}") from None

    @staticmethod
    def _level(amp: _Amp, name: str) -> np.ndarray:
        """Overscan level per data row: median of the amplifier's BIASSEC, row by row."""
        if "BIASSEC" not in amp.header:
            raise ReaderError(f"{name}: extension keyword BIASSEC missing")
        bias = read_section(amp.header["BIASSEC"])
        data = amp.data_section
        overlaps = bias.cols.start < data.cols.stop and data.cols.start < bias.cols.stop
        if bias.cols.stop > amp.data.shape[1] or overlaps:
            # DRAGONS products (the illumination masks in data/gmos_layouts) are trimmed and
            # overscan-corrected already but keep the raw BIASSEC, past or on the data.
            return np.zeros((1, 1), np.float32)
        strip = amp.data[bias.rows, bias.cols]
        if strip.shape[0] == data.shape[0]:
            return np.median(strip, axis=1, keepdims=True)
        return np.full((1, 1), np.median(strip), np.float32)

    @staticmethod
    def _amplifier_cards(head: fits.Header) -> fits.Header:
        """Keywords GMOS keeps in the amplifier headers only (binning, start time)."""
        return fits.Header([(k, head[k]) for k in ("CCDSUM", "MJD-OBS") if k in head])

    def classification_header(self, hdul: fits.HDUList) -> fits.Header:
        """The primary header, with the binning and start time of the first amplifier."""
        header = hdul[0].header.copy()
        amps = image_extensions(hdul)
        if amps:
            for card in self._amplifier_cards(amps[0].header).cards:
                if card.keyword not in header:
                    header[card.keyword] = card.value
        return header

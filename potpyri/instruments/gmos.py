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
  from 1 to the highest ``DETSEC`` row; pixels no amplifier reads have gain 0;
* opens the physical gap between the CCDs (DETSEC abuts them): DRAGONS' ``tile_gaps`` keyed by
  the primary ``DETID`` (``geminidr/gmos/lookups/geometry_conf.py``, spec 2.2): 37 unbinned
  pixels for EEV and e2v, 67 for GMOS-N Hamamatsu, 61 for GMOS-S Hamamatsu; CCD ``k`` starts at
  ``floor(k·(2048 + gap) / xbin)`` binned columns;
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

from potpyri.instruments.base import LINEAR_WCS_KEYS, RawImage, Reader, ReaderError, open_raw
from potpyri.instruments.sections import Section, read_section

__all__ = ["CHIP_WIDTH", "TILE_GAPS", "GmosOptions", "GmosReader", "chip_gap", "chip_start"]

CHIP_WIDTH = 2048  # unbinned columns per CCD, every GMOS detector (spec 2.1)
#: DRAGONS ``tile_gaps`` (unbinned pixels) by primary-header ``DETID`` (spec 2.2 table, source
#: ``DRG:geminidr/gmos/lookups/geometry_conf.py``).
TILE_GAPS = {
    "EEV9273-16-03EEV9273-20-04EEV9273-20-03": 37,  # GMOS-N EEV
    "e2v 10031-23-05,10031-01-03,10031-18-04": 37,  # GMOS-N e2v DD
    "BI13-20-4k-1,BI12-09-4k-2,BI13-18-4k-2": 67,  # GMOS-N Hamamatsu
    "EEV8056-20-03EEV8194-19-04EEV8261-07-04": 37,  # GMOS-S EEV (old)
    "EEV2037-06-03EEV8194-19-04EEV8261-07-04": 37,  # GMOS-S EEV ("new CCD1")
    "BI5-36-4k-2,BI11-33-4k-1,BI12-34-4k-1": 61,  # GMOS-S Hamamatsu to 2023-12-13
    "BI11-41-4k-2,BI13-19-4k-3,BI12-34-4k-1": 61,  # GMOS-S Hamamatsu from 2023-12-14
}
#: The same by ``DETTYPE`` for a DETID not in the table (a chip exchange DRAGONS has not yet
#: listed): S10892-N is GMOS-N Hamamatsu, S10892 GMOS-S Hamamatsu, SDSU II ... EEV or e2v.
_GAPS_BY_DETTYPE = (("S10892-N", 67), ("S10892", 61), ("SDSU II", 37))
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
    #: Unbinned gap between the CCDs for every detector, instead of DRAGONS' table (CONFLICT,
    #: spec 2.2: the reference uses 60 on GMOS-N and 80 on GMOS-S); None: the table.
    chip_gap: int | None = None


def chip_gap(primary: fits.Header, override: int | None = None) -> int:
    """The unbinned gap between GMOS CCDs for this file's detector (DRAGONS ``tile_gaps``)."""
    if override is not None:
        return int(override)
    detid = str(primary.get("DETID", "")).strip()
    if detid in TILE_GAPS:
        return TILE_GAPS[detid]
    dettype = str(primary.get("DETTYPE", "")).strip()
    for prefix, gap in _GAPS_BY_DETTYPE:
        if dettype.startswith(prefix):
            return gap
    raise ValueError(
        f"no chip gap for DETID={detid!r} DETTYPE={dettype!r} (set instrument.options.chip_gap)"
    )


def chip_start(chip: int, gap: int, xbin: int) -> int:
    """First binned mosaic column of CCD ``chip`` (0, 1, 2) with ``gap`` unbinned pixels."""
    return chip * (CHIP_WIDTH + gap) // xbin


def mosaic_width(gap: int, xbin: int) -> int:
    """Binned width of the 3-CCD mosaic with its gaps."""
    return chip_start(2, gap, xbin) + CHIP_WIDTH // xbin


@dataclass
class _Amp:
    """One amplifier extension: header, pixels and sections."""

    header: fits.Header
    data: np.ndarray
    data_section: Section
    detector: Section  # DETSEC, unbinned


def image_extensions(hdul: fits.HDUList) -> list[fits.ImageHDU]:
    """The amplifier extensions: 2-d images with DATASEC and DETSEC (raw files have no EXTNAME)."""
    return [
        hdu
        for hdu in hdul[1:]
        if hdu.is_image
        and hdu.header.get("NAXIS") == 2
        and "DATASEC" in hdu.header
        and "DETSEC" in hdu.header
    ]


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
            gap = chip_gap(primary, self.options.chip_gap)
        except ValueError as exc:
            raise ReaderError(f"{name}: {exc}") from None
        full_width = mosaic_width(gap, bx)
        field = self.options.field_width_2x2.get(str(primary.get("INSTRUME", "")).strip())
        width = full_width if field is None else min(int(field) * 2 // bx, full_width)
        crop = (full_width - width) // 2
        n_rows = max(a.detector.rows.start // by + a.data_section.shape[0] for a in amps)
        data = np.zeros((n_rows, width), np.float32)
        gain = np.zeros_like(data)
        rdnoise = np.zeros_like(data)
        wcs = fits.Header()
        for index, amp in enumerate(amps):
            block = amp.data_section.oriented(
                amp.data[amp.data_section.rows, amp.data_section.cols] - self._level(amp, name)
            )
            chip = amp.detector.cols.start // CHIP_WIDTH
            x0 = chip_start(chip, gap, bx) + (amp.detector.cols.start - chip * CHIP_WIDTH) // bx
            x0 -= crop
            y0 = amp.detector.rows.start // by
            lo, hi = max(x0, 0), min(x0 + block.shape[1], width)
            if hi <= lo:
                continue  # an amplifier wholly outside the kept field
            rows = slice(y0, y0 + block.shape[0])
            data[rows, lo:hi] = block[:, lo - x0 : hi - x0]
            gain[rows, lo:hi] = self.amplifier_value("gain", amp.header, index, path)
            rdnoise[rows, lo:hi] = self.amplifier_value("rdnoise", amp.header, index, path)
            if chip == 1 and not wcs and "CRPIX1" in amp.header:
                # The central CCD's WCS: its pixel scale and rotation are the nominal ones.
                wcs = fits.Header([(k, amp.header[k]) for k in _WCS_KEYS if k in amp.header])
                wcs["CRPIX1"] = amp.header["CRPIX1"] - amp.data_section.cols.start + x0
                wcs["CRPIX2"] = amp.header["CRPIX2"] - amp.data_section.rows.start + y0
        header = primary
        header.update(self._amplifier_cards(amps[0].header))
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", FITSFixedWarning)
            header.update(wcs)
        header["CHIPGAP"] = (gap, "[unbinned px] gap between the CCDs")
        return RawImage(data, header, gain, rdnoise)

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

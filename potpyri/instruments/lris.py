"""Keck LRIS raw reader: blue side (2009+), red side 2009-2021, and red Mark4 (2021+).

The layout is recognised by content (``spec/real_formats.md`` section 4.1), never by EXTNAME:

* **multi-extension** (blue, and red 2009-2021): a data-less primary plus one image extension per
  amplifier (``VidInp1..4``), each with ``DETSEC`` (unbinned, in the gap-less two-CCD mosaic;
  reversed for the right-hand amplifiers 2 and 4, which are mirrored) and ``DATASEC``. There is no
  BIASSEC: the pre- and post-scan sizes are ``PRECOL``/``POSTPIX`` in the primary header, in
  unbinned pixels (spec 4.2, PypeIt ``lris_read_amp``). The post-scan (the last POSTPIX/xbin
  columns) median of each row is subtracted. The physical gap between the two CCDs is not in
  DETSEC; it is ``options.chip_gap`` (unbinned columns).
* **Mark4** (one 4k x 4k CCD, Archon): the primary HDU holds the whole array; each amplifier has
  ``AMPNMn``/``DSECn``/``BSECn`` cards (numbering differs between PypeIt's files, 0..3, and KOA's,
  1..4; ranges may be written reversed or with steps). The array is already in CCD orientation:
  the data sections are kept in place and the middle overscan strips and post-lines removed; each
  amplifier's BSEC row median is subtracted (spec 4.2 "Mark4").

No LRIS file has a gain or read-noise card (spec 4.2, "gain in header? none"): both come from the
per-amplifier tables in ``options`` (their source is cited in the YAML). No LRIS MEF file has a
sky WCS: :meth:`Reader.read` builds one from RA/DEC/ROTPOSN (``pointing:``).

The classification header gets five derived cards, so that one YAML serves both sides and both
red layouts: ``LRISDET`` (side, layout and amplifier set: the calibration-group key, so red and
blue never share a master), ``LRISFILT`` (BLUFILT on the blue side, REDFILT on the red: both cards
are in every file), ``LRISDISP`` (the side's grism or grating in the beam, or ``none``),
``LRISEXP`` and ``LRISMJD`` (the exposure-time and start keywords of the layout,
``options.exptime_keyword``/``mjd_keyword``).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from astropy.io import fits

from potpyri.instruments.base import RawImage, Reader, ReaderError, open_raw
from potpyri.instruments.sections import read_section

__all__ = ["LrisReader", "lris_layout", "mark4_amplifiers"]

#: Unbinned columns of one CCD of the two-CCD mosaics (DETSIZE '[1:4096,...]', two 2k x 4k CCDs).
CCD_WIDTH = 2048


@dataclass
class LrisOptions:
    """Settings of the LRIS reader (``instrument.options``); every table has its source in the
    YAML comment next to it."""

    #: e-/ADU per amplifier, by side: lists in extension (VidInp) order for the MEF layouts,
    #: a mapping by AMPNM name for Mark4.
    gain: dict = field(default_factory=dict)
    #: read noise in electrons, same layout as ``gain``.
    rdnoise: dict = field(default_factory=dict)
    #: unbinned columns between the two CCDs of the MEF layouts, by side (``blue``, ``red``).
    chip_gap: dict = field(default_factory=dict)
    #: filter keyword by side (``blue``, ``red``).
    filter_keyword: dict = field(default_factory=dict)
    #: exposure-time keyword by layout (``mef``, ``mark4``).
    exptime_keyword: dict = field(default_factory=dict)
    #: exposure-start (MJD) keyword by layout (``mef``, ``mark4``).
    mjd_keyword: dict = field(default_factory=dict)


def lris_layout(hdul: fits.HDUList) -> str:
    """``'mef'`` (image extensions with DETSEC) or ``'mark4'`` (a primary image with DSECn cards).

    Raises
    ------
    ReaderError
        Neither layout (the message names what is missing).
    """
    if any(h.header.get("DETSEC") and h.data is not None for h in hdul[1:]):
        return "mef"
    primary = hdul[0].header
    if hdul[0].data is not None and any(re.fullmatch(r"DSEC\d+", k) for k in primary):
        return "mark4"
    raise ReaderError(
        "no LRIS layout: no image extension with DETSEC and no primary image with DSECn cards"
    )


def _side(header: fits.Header, layout: str) -> str:
    """``'blue'`` or ``'red'`` from INSTRUME ('LRISBLUE' / 'LRIS', spec 4.6)."""
    if layout == "mark4":
        return "red"
    return "blue" if "BLUE" in str(header.get("INSTRUME", "")).upper() else "red"


def _disperser(header: fits.Header, side: str) -> str:
    """The side's disperser in the beam, or ``'none'``: the blue grism (GRISNAME) when GRISTRAN
    is 'deployed', the red grating (GRANAME) unless it is 'mirror' (spec 4.4). Both sides' cards
    are in every file, so each side reads only its own."""
    if side == "blue":
        if str(header.get("GRISTRAN", "")).strip().lower() != "deployed":
            return "none"
        return str(header.get("GRISNAME", "")).strip() or "unnamed"
    grating = str(header.get("GRANAME", "")).strip()
    return "none" if grating.lower() in ("mirror", "clear", "") else grating


def _axis(text: str) -> tuple[int, int, bool]:
    """``'a:b'`` or ``'a:b:step'`` (any step, Mark4 CSEC at 2x2 reads '2:2057:2') as a 0-based
    half-open ``(start, stop)`` and whether it is written high-to-low."""
    parts = [int(v) for v in text.split(":")]
    first, last = parts[0], parts[1]
    reverse = first > last or (len(parts) == 3 and parts[2] < 0)
    return min(first, last) - 1, max(first, last), reverse


def _section(text: str, where: str) -> tuple[slice, slice]:
    """Numpy ``(rows, cols)`` of a section written in either direction, with or without steps."""
    try:
        xpart, ypart = str(text).strip().strip("[]").split(",")
        x0, x1, _ = _axis(xpart)
        y0, y1, _ = _axis(ypart)
    except ValueError:
        raise ReaderError(f"{where}: malformed section {text!r}") from None
    return slice(y0, y1), slice(x0, x1)


def mark4_amplifiers(header: fits.Header, where: str) -> list[tuple[str, slice, slice, slice]]:
    """The Mark4 amplifiers: ``(name, data rows, data cols, overscan cols)`` per ``DSECn``.

    Any numbering is accepted (PypeIt's DSEC0..3/AMPNM0..3, KOA's DSEC1..4/AMPNAME1..4) and
    reversed ranges are normalised (spec 4.2, "CONFLICT / trap (Mark4 headers)").
    """
    amps = []
    for key in sorted(k for k in header if re.fullmatch(r"DSEC\d+", k)):
        n = key[4:]
        name = str(header.get(f"AMPNM{n}", header.get(f"AMPNAME{n}", ""))).strip()
        if not name:
            raise ReaderError(f"{where}: {key} without AMPNM{n} or AMPNAME{n}")
        if f"BSEC{n}" not in header:
            raise ReaderError(f"{where}: {key} without BSEC{n} (the amplifier's overscan)")
        rows, cols = _section(header[key], f"{where} {key}")
        _, bias_cols = _section(header[f"BSEC{n}"], f"{where} BSEC{n}")
        amps.append((name, rows, cols, bias_cols))
    return amps


def _place(starts: list[int], widths: list[int]) -> dict[int, int]:
    """Offsets that pack the distinct ranges ``start..start+width`` side by side, in order."""
    offsets, position = {}, 0
    for start in sorted(set(starts)):
        offsets[start] = position
        position += max(w for s, w in zip(starts, widths, strict=True) if s == start)
    return offsets


class LrisReader(Reader):
    """Assemble an LRIS raw file of any of its three layouts into one trimmed image."""

    Options = LrisOptions
    reads = frozenset()

    # -- classification ---------------------------------------------------------------------------
    def classification_header(self, hdul: fits.HDUList) -> fits.Header:
        """The primary header plus the derived LRISDET/LRISFILT/LRISEXP/LRISMJD/LRISDISP cards."""
        header = hdul[0].header.copy()
        layout = lris_layout(hdul)
        side = _side(header, layout)
        if layout == "mark4":
            names = "".join(name for name, *_ in mark4_amplifiers(header, "header"))
            detector = f"MARK4{names}"
        else:
            count = sum(1 for h in hdul[1:] if h.header.get("DETSEC") and h.data is not None)
            detector = f"{side.upper()}{count}"
        header["LRISDET"] = (detector, "potpyri: LRIS side, layout and amplifiers")
        for card, table, key, what in (
            ("LRISFILT", self.options.filter_keyword, side, "filter"),
            ("LRISEXP", self.options.exptime_keyword, layout, "exposure time"),
            ("LRISMJD", self.options.mjd_keyword, layout, "exposure start"),
        ):
            keyword = table.get(key)
            if not keyword:
                raise ReaderError(f"instrument.options has no {what} keyword for {key!r}")
            if keyword in header:  # absent: the pipeline reports the frame's missing card
                header[card] = (header[keyword], f"potpyri: {what}, from {keyword}")
        header["LRISDISP"] = (_disperser(header, side), "potpyri: disperser in the beam or none")
        if "CCDSUM" not in header and "BINNING" in header:  # Mark4 writes BINNING only
            header["CCDSUM"] = " ".join(re.findall(r"\d+", str(header["BINNING"])))
        return header

    # -- assembly ---------------------------------------------------------------------------------
    def assemble(self, path: Path) -> RawImage:
        name = Path(path).name
        with open_raw(path, self.unpacked) as hdul:
            try:
                header = self.classification_header(hdul)
            except ReaderError as exc:
                raise ReaderError(f"{name}: {exc}") from None
            if lris_layout(hdul) == "mark4":
                return self._mark4(hdul[0].data, header, name)
            return self._mef(hdul, header, name)

    def _binning(self, header: fits.Header, name: str) -> tuple[int, int]:
        text = header.get("CCDSUM", header.get("BINNING"))
        values = [int(v) for v in re.findall(r"\d+", str(text))] if text is not None else []
        if len(values) != 2:
            raise ReaderError(f"{name}: header keyword CCDSUM/BINNING (binning) missing")
        return values[0], values[1]

    def _table(self, what: str, side: str, name: str):
        values = getattr(self.options, what).get(side)
        if not values:
            raise ReaderError(f"{name}: instrument.options.{what}.{side} is not set")
        return values

    def _mef(self, hdul: fits.HDUList, header: fits.Header, name: str) -> RawImage:
        """Blue or 2009-2021 red: amplifiers by DETSEC, mirrored where reversed, CCDs apart by
        ``options.chip_gap``, post-scan subtracted row by row."""
        side = _side(header, "mef")
        xbin, ybin = self._binning(header, name)
        for key in ("PRECOL", "POSTPIX"):
            if key not in header:
                raise ReaderError(f"{name}: primary header keyword {key} (overscan size) missing")
        postscan = int(header["POSTPIX"]) // xbin  # unbinned in the header (spec 4.2)
        if postscan < 1:
            raise ReaderError(f"{name}: POSTPIX {header['POSTPIX']!r} leaves no post-scan column")
        gains = self._table("gain", side, name)
        noises = self._table("rdnoise", side, name)
        gap = self.options.chip_gap.get(side)
        if gap is None:
            raise ReaderError(f"{name}: instrument.options.chip_gap.{side} is not set")
        blocks = []
        for n, hdu in enumerate(
            h for h in hdul[1:] if h.header.get("DETSEC") and h.data is not None
        ):
            head = hdu.header
            if "DATASEC" not in head:
                raise ReaderError(f"{name}: extension {hdu.name} has DETSEC but no DATASEC")
            raw = np.asarray(hdu.data, dtype=np.float32)
            data = read_section(head["DATASEC"])
            level = np.median(raw[:, raw.shape[1] - postscan :], axis=1, keepdims=True)
            block = (raw - level)[data.rows, data.cols]
            det = read_section(head["DETSEC"])
            # Unbinned mosaic column: the second CCD sits one gap further right.
            x0 = det.cols.start + (gap if det.cols.start >= CCD_WIDTH else 0)
            # Keck numbers amplifiers by video input (VIDEOINP), the order of the gain table.
            index = int(head.get("VIDEOINP", n + 1)) - 1
            if index >= len(gains) or index >= len(noises):
                raise ReaderError(
                    f"{name}: amplifier {index + 1} has no instrument.options.gain/rdnoise.{side}"
                )
            blocks.append((det.rows.start, x0, det.oriented(block), gains[index], noises[index]))
        if not blocks:
            raise ReaderError(f"{name}: no amplifier extension")
        y_origin = min(b[0] for b in blocks)
        x_origin = min(b[1] for b in blocks)
        placed = [((y - y_origin) // ybin, (x - x_origin) // xbin, *rest) for y, x, *rest in blocks]
        ny = max(r + b.shape[0] for r, _, b, _, _ in placed)
        nx = max(c + b.shape[1] for _, c, b, _, _ in placed)
        image = np.zeros((ny, nx), np.float32)
        gain = np.zeros_like(image)  # 0 = read by no amplifier (the chip gap): flagged bad
        rdnoise = np.zeros_like(image)
        for r, c, block, g, rn in placed:
            region = (slice(r, r + block.shape[0]), slice(c, c + block.shape[1]))
            image[region], gain[region], rdnoise[region] = block, float(g), float(rn)
        header["CCDSUM"] = f"{xbin} {ybin}"
        return RawImage(image, header, gain, rdnoise)

    def _mark4(self, raw: np.ndarray, header: fits.Header, name: str) -> RawImage:
        """Mark4: data sections kept in place, middle overscan strips and post-lines removed."""
        amps = mark4_amplifiers(header, name)
        if not amps:
            raise ReaderError(f"{name}: no DSECn cards")
        gains = self._table("gain", "mark4", name)
        noises = self._table("rdnoise", "mark4", name)
        raw = np.asarray(raw, dtype=np.float32)
        col_at = _place([c.start for _, _, c, _ in amps], [c.stop - c.start for _, _, c, _ in amps])
        row_at = _place([r.start for _, r, _, _ in amps], [r.stop - r.start for _, r, _, _ in amps])
        ny = max(row_at[r.start] + r.stop - r.start for _, r, _, _ in amps)
        nx = max(col_at[c.start] + c.stop - c.start for _, _, c, _ in amps)
        image = np.zeros((ny, nx), np.float32)
        gain = np.zeros_like(image)
        rdnoise = np.zeros_like(image)
        for amp, rows, cols, bias_cols in amps:
            if amp not in gains or amp not in noises:
                raise ReaderError(
                    f"{name}: amplifier {amp} has no instrument.options.gain/rdnoise.mark4 value"
                )
            level = np.median(raw[rows, bias_cols], axis=1, keepdims=True)
            r0, c0 = row_at[rows.start], col_at[cols.start]
            region = (
                slice(r0, r0 + rows.stop - rows.start),
                slice(c0, c0 + cols.stop - cols.start),
            )
            image[region] = raw[rows, cols] - level
            gain[region], rdnoise[region] = float(gains[amp]), float(noises[amp])
        xbin, ybin = self._binning(header, name)
        header["CCDSUM"] = f"{xbin} {ybin}"
        return RawImage(image, header, gain, rdnoise)

"""GMOS-N and GMOS-S raw files, as the Gemini archive delivers them (``N20240618S0015.fits.bz2``).

Layout (spec ``real_formats.md`` section 2, checked against the real raw headers in
``shared/data/real_raw/gmos_*``): an empty primary HDU with the observation keywords (``DETID``,
``DETTYPE``, ``NAMPS``, ``DETNROI``...), then one image extension per amplifier **without
EXTNAME/EXTVER** (``INHERIT=F``), in the real files' readout order (e2v: right amplifier of each
CCD first), each holding the amplifier's data and its overscan strip, with DETSEC/CCDSEC
(unbinned), DATASEC/BIASSEC (binned, 1-based), CCDSUM, AMPNAME, CCDNAME, GAIN, RDNOISE, MJD-OBS
and a per-extension TAN WCS. Three CCDs side by side: Hamamatsu (``ham``, default): 4 amplifiers
per CCD, 2048×4224; e2v: 2 per CCD, 2048×4608; EEV: 1 per CCD, 2048×4608. Overscan: 32 binned
columns, on the side the real files have it.

The focal-plane mosaic is the reader's output: the three CCDs where DRAGONS' measured geometry puts
them (``potpyri.instruments.gmos.GEOMETRY``, whole binned pixels), cropped to the central imaging
field the reference keeps (2108 columns at 2×2 for GMOS-N, 2128 for GMOS-S: the widths of its
static masks; the reader's ``options.field_width_2x2``); columns outside the crop are vignetted (no
light reaches them). ``size="small"`` is the same field read 4×4 binned (a mode GMOS offers).
Orientation at PA 0 as in the real raw WCS (spec 2.5): +x west, +y south, a mirror image of north
up, east left. Assumptions where no real header says: bias levels 600-900 ADU with
a mild ramp, gains ~1.6-2.3 e-/ADU and read noise ~3.5-4.4 e- per amplifier (DRAGONS' look-up
range).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from astropy.io import fits

from potpyri.instruments.gmos import CHIP_WIDTH, GEOMETRY, ChipGeometry, mosaic_width
from potpyri.sim.formats.base import (
    SITES,
    TELESCOPES,
    FrameMeta,
    Geometry,
    RawFormat,
    Setup,
    register_format,
)

__all__ = ["GmosNorth", "GmosSouth"]


@dataclass(frozen=True)
class _Detector:
    chip_width: int  # unbinned columns per CCD
    chip_height: int  # unbinned rows
    amps_per_chip: int
    detector: str
    gains: tuple[float, ...]
    rdnoises: tuple[float, ...]
    #: per extension, in file order: (CCD, amplifier within the CCD from the left,
    #: overscan on the right)
    layout: tuple[tuple[int, int, bool], ...]


_HAM_LAYOUT = tuple((c, k, k % 2 == 0) for c in range(3) for k in range(4))
_DETECTORS = {
    "ham": _Detector(
        2048,
        4224,
        4,
        "GMOS + Hamamatsu",
        (1.66, 1.63, 1.68, 1.61, 1.70, 1.65, 1.64, 1.69, 1.62, 1.67, 1.60, 1.66),
        (4.2, 4.1, 4.3, 4.0, 4.4, 4.1, 4.2, 4.3, 4.0, 4.2, 4.1, 4.3),
        _HAM_LAYOUT,
    ),
    "e2v": _Detector(
        2048,
        4608,
        2,
        "GMOS + e2v DD CCD42-90",
        (2.27, 2.33, 2.23, 2.18, 2.29, 2.31),
        (3.5, 3.8, 3.6, 3.6, 3.9, 3.8),
        ((0, 1, False), (0, 0, True), (1, 1, False), (1, 0, True), (2, 0, True), (2, 1, False)),
    ),
    "eev": _Detector(
        2048,
        4608,
        1,
        "GMOS + EEV",
        (2.37, 2.08, 2.10),
        (3.9, 3.5, 3.4),
        ((0, 0, False), (1, 0, False), (2, 0, True)),
    ),
}
#: CCD names by (site prefix, variant), as in the real files.
_CHIP_NAMES = {
    ("N", "ham"): ("BI13-20-4k-1", "BI12-09-4k-2", "BI13-18-4k-2"),
    ("S", "ham"): ("BI5-36-4k-2", "BI11-33-4k-1", "BI12-34-4k-1"),
    ("N", "e2v"): tuple(
        f"e2v DD ML2AR CCD42-90-1-F43 {n}" for n in ("10031-23-05", "10031-01-03", "10031-18-04")
    ),
    ("S", "e2v"): tuple(
        f"e2v DD ML2AR CCD42-90-1-F43 {n}" for n in ("10031-23-05", "10031-01-03", "10031-18-04")
    ),
    ("N", "eev"): ("EEV 9273-16-03", "EEV 9273-20-04", "EEV 9273-20-03"),
    ("S", "eev"): ("EEV 2037-06-03", "EEV 8194-19-04", "EEV 8261-07-04"),
}
#: GMOS-S EEV amplifiers read out with the overscan on the other side from GMOS-N's.
_SOUTH_EEV_LAYOUT = ((0, 0, True), (1, 0, True), (2, 0, False))
#: (DETID, DETTYPE) by (site prefix, variant), as in the real files (spec 2.1/2.2); GMOS-S never
#: had the e2v DD CCDs: its simulated e2v variant borrows GMOS-N's identity.
_DETIDS = {
    ("N", "ham"): ("BI13-20-4k-1,BI12-09-4k-2,BI13-18-4k-2", "S10892-N"),
    ("S", "ham"): ("BI5-36-4k-2,BI11-33-4k-1,BI12-34-4k-1", "S10892"),
    ("N", "e2v"): ("e2v 10031-23-05,10031-01-03,10031-18-04", "SDSU II e2v DD CCD42-90"),
    ("S", "e2v"): ("e2v 10031-23-05,10031-01-03,10031-18-04", "SDSU II e2v DD CCD42-90"),
    ("N", "eev"): ("EEV9273-16-03EEV9273-20-04EEV9273-20-03", "SDSU II CCD"),
    ("S", "eev"): ("EEV2037-06-03EEV8194-19-04EEV8261-07-04", "SDSU II CCD"),
}
_OVERSCAN = 32  # binned columns
_FILTERS = {"g": "g_G0301", "r": "r_G0303", "i": "i_G0302", "z": "z_G0304"}


class _Gmos(RawFormat):
    """What GMOS-N and GMOS-S share; subclasses give the site, prefix and field width."""

    instrument = "gmos"
    filters = _FILTERS
    flat_kind = "twilight"
    fringe_bands = ("z",)
    full_well = 140000.0
    default_setup = Setup(binning=(4, 4), size="small", variant="ham")
    prefix = "N"
    observatory = "Gemini-North"
    crop_width_2x2 = 2108
    pixscale_unbinned = 0.0807
    #: AB mag giving 1 e-/s (8.1 m aperture, GMOS throughput ~0.4-0.6 in g r i, ~0.3 in z).
    zeropoint_ab = {"g": 28.2, "r": 28.3, "i": 28.1, "z": 27.3}

    # -- geometry --------------------------------------------------------------------------------
    def _binning(self, setup: Setup) -> tuple[int, int]:
        if setup.size == "small":
            return (4, 4)
        return tuple(setup.binning)  # type: ignore[return-value]

    def _detector(self, setup: Setup) -> _Detector:
        return _DETECTORS[setup.variant or "ham"]

    def chips(self, setup: Setup) -> ChipGeometry:
        """Where the CCDs sit: the reader's DRAGONS geometry table, by DETID."""
        return GEOMETRY[_DETIDS[(self.prefix, setup.variant or "ham")][0]]

    def _full_width(self, setup: Setup) -> int:
        bx, _ = self._binning(setup)
        return mosaic_width(self.chips(setup), bx)

    def _crop(self, setup: Setup) -> tuple[int, int]:
        """First full-mosaic column of the crop and the crop width (binned)."""
        bx, _ = self._binning(setup)
        width = self.crop_width_2x2 * 2 // bx
        return (self._full_width(setup) - width) // 2, width

    def geometry(self, setup: Setup) -> Geometry:
        bx, by = self._binning(setup)
        det = self._detector(setup)
        crop, width = self._crop(setup)
        ny = det.chip_height // by
        amplifiers = self._amplifiers(setup)
        rows = max(y0 for _, _, _, y0, _, _ in amplifiers) + ny
        sensitive = np.zeros((rows, width), bool)  # False in the gaps between and beside CCDs
        for _, _, x0, y0, amp_width, _ in amplifiers:
            lo, hi = max(x0 - crop, 0), min(x0 - crop + amp_width, width)
            sensitive[y0 : y0 + ny, lo:hi] = hi > lo
        return Geometry(
            shape=sensitive.shape,
            pixscale=self.pixscale_unbinned * bx,
            # Real raw WCS at PA 0 (spec 2.5): +x west, +y south (det CD > 0).
            orientation=((-1.0, 0.0), (0.0, -1.0)),
            sensitive=sensitive,
        )

    def _amplifiers(self, setup: Setup):
        """Per extension: (CCD, amplifier in CCD, full-mosaic x and y start (binned), width,
        overscan right)."""
        bx, by = self._binning(setup)
        det = self._detector(setup)
        layout = (
            _SOUTH_EEV_LAYOUT
            if (self.prefix, setup.variant or "ham") == ("S", "eev")
            else det.layout
        )
        amp_width = det.chip_width // det.amps_per_chip // bx
        amps = []
        assert det.chip_width == CHIP_WIDTH
        origins = self.chips(setup).origins(bx, by)
        for chip, k, right in layout:
            x0, y0 = origins[chip]
            amps.append((chip, k, x0 + k * amp_width, y0, amp_width, right))
        return amps

    # -- files -----------------------------------------------------------------------------------
    def filename(self, meta: FrameMeta, setup: Setup) -> str:
        return f"{self.prefix}{meta.date_obs.strftime('%Y%m%d')}S{meta.number:04d}.fits.bz2"

    def readout(
        self, electrons: np.ndarray, meta: FrameMeta, setup: Setup, rng: np.random.Generator
    ) -> fits.HDUList:
        bx, by = self._binning(setup)
        det = self._detector(setup)
        crop_start, crop_width = self._crop(setup)
        ny = det.chip_height // by
        hdus = [fits.PrimaryHDU(header=self._primary(meta, setup))]
        geometry = self.geometry(setup)
        crpix_mosaic = geometry.crpix_or_center
        for n, (chip, k, x0, y0, width, right) in enumerate(self._amplifiers(setup)):
            gain, rdnoise = det.gains[n], det.rdnoises[n]
            signal = np.zeros((ny, width), np.float64)
            lo, hi = max(x0, crop_start), min(x0 + width, crop_start + crop_width)
            if hi > lo:  # the part of this amplifier inside the illuminated field
                signal[:, lo - x0 : hi - x0] = electrons[
                    y0 : y0 + ny, lo - crop_start : hi - crop_start
                ]
            bias = (
                600.0 + 25.0 * n + 8.0 * np.linspace(0.0, 1.0, ny)[:, None]
            )  # level with a slow ramp
            data = signal / gain + bias + rng.normal(0.0, rdnoise / gain, signal.shape)
            overscan = bias[:, :1] + rng.normal(0.0, rdnoise / gain, (ny, _OVERSCAN))
            raw = np.hstack([data, overscan] if right else [overscan, data])
            raw = np.clip(np.round(raw), 0, 65535).astype(np.uint16)
            if right:
                datasec, biassec = (
                    f"[1:{width},1:{ny}]",
                    f"[{width + 1}:{width + _OVERSCAN},1:{ny}]",
                )
            else:
                datasec, biassec = (
                    f"[{_OVERSCAN + 1}:{width + _OVERSCAN},1:{ny}]",
                    f"[1:{_OVERSCAN},1:{ny}]",
                )
            hdu = fits.ImageHDU(raw)  # raw Gemini extensions have no EXTNAME/EXTVER
            header = hdu.header
            header["INHERIT"] = (False, "inherit the primary header")
            cx0 = k * det.chip_width // det.amps_per_chip  # unbinned, within the CCD
            dx0 = chip * det.chip_width + cx0
            uw = det.chip_width // det.amps_per_chip
            # Per-extension WCS: the mosaic's header WCS shifted to this amplifier's data origin.
            xshift = (x0 - crop_start) - (0 if right else _OVERSCAN)
            cd = self._header_cd(meta, geometry)
            names = _CHIP_NAMES[(self.prefix, setup.variant or "ham")]
            if det.amps_per_chip == 4:
                amp_name = f"{names[chip]}, {det.amps_per_chip - k}"
            else:
                side = "left" if right else "right"
                amp_name = f"{names[chip].replace('DD ML2AR CCD42-90-1-F43 ', '')}, {side}"
            header.update(
                {
                    "CTYPE1": "RA---TAN",
                    "CTYPE2": "DEC--TAN",
                    "CRPIX1": crpix_mosaic[0] - xshift,
                    "CRPIX2": crpix_mosaic[1] - y0,
                    "CRVAL1": meta.ra,
                    "CRVAL2": meta.dec,
                    "CD1_1": cd[0, 0],
                    "CD1_2": cd[0, 1],
                    "CD2_1": cd[1, 0],
                    "CD2_2": cd[1, 1],
                    "RADECSYS": "FK5",
                    "EQUINOX": 2000.0,
                    "MJD-OBS": meta.date_obs.mjd,
                    "CCDNAME": names[chip],
                    "AMPNAME": amp_name,
                    "GAIN": gain,
                    "RDNOISE": rdnoise,
                    "CCDSIZE": f"[1:{det.chip_width},1:{det.chip_height}]",
                    "CCDSUM": f"{bx} {by}",
                    "CCDSEC": f"[{cx0 + 1}:{cx0 + uw},1:{det.chip_height}]",
                    "DETSEC": f"[{dx0 + 1}:{dx0 + uw},1:{det.chip_height}]",
                    "DATASEC": datasec,
                    "BIASSEC": biassec,
                    "FRMNAME": f"FRAME-0 ROI-0, CHIP-r<{chip + 1}>, AMP-{det.amps_per_chip - k}<0>",
                }
            )
            hdus.append(hdu)
        return fits.HDUList(hdus)

    def _header_cd(self, meta: FrameMeta, geometry: Geometry) -> np.ndarray:
        pa = np.deg2rad(meta.position_angle)
        rotation = np.array([[np.cos(pa), -np.sin(pa)], [np.sin(pa), np.cos(pa)]])
        return rotation @ geometry.cd_nominal

    def _primary(self, meta: FrameMeta, setup: Setup) -> fits.Header:
        det = self._detector(setup)
        kind = meta.kind
        obstype = {"bias": "BIAS", "flat": "OBJECT", "acquisition": "OBJECT"}.get(kind, "OBJECT")
        obsclass = {"bias": "dayCal", "flat": "dayCal", "acquisition": "acq"}.get(kind, "science")
        shutter = "CLOSED" if kind == "bias" else "OPEN"
        grating = "R400+_G5325" if kind == "spectrum" else "MIRROR"
        filter2 = (
            "open2-8"
            if kind == "spectrum"
            else ("open2-8" if kind == "bias" else self.filters.get(meta.band, "open2-8"))
        )
        start = meta.date_obs
        obsid = f"G{self.prefix}-2024A-Q-101-{meta.extra.get('target_index', 0) + 1}"
        head = fits.Header()
        head.update(
            {
                "INSTRUME": f"GMOS-{self.prefix}",
                "OBJECT": meta.object_name,
                "OBSTYPE": obstype,
                "OBSCLASS": obsclass,
                "GEMPRGID": f"G{self.prefix}-2024A-Q-101",
                "OBSID": obsid,
                "DATALAB": f"{obsid}-{meta.number:03d}",
                "OBSERVER": "Synthetic Observatory",
                "OBSERVAT": self.observatory,
                "TELESCOP": self.observatory,
                "EQUINOX": 2000.0,
                "RA": meta.ra,
                "DEC": meta.dec,
                "PA": meta.position_angle,
                "RAWIQ": "70-percentile",
                "RAWCC": "50-percentile",
                "RAWGEMQA": "FAIL" if kind == "bad" else "USABLE",
                "UT": start.strftime("%H:%M:%S.%f")[:10],
                "DATE": start.strftime("%Y-%m-%d"),
                "TIME-OBS": start.strftime("%H:%M:%S.%f")[:10],
                "DETECTOR": det.detector,
                "DETSIZE": f"[1:{3 * det.chip_width},1:{det.chip_height}]",
                "DETTYPE": _DETIDS[(self.prefix, setup.variant or "ham")][1],
                "DETID": _DETIDS[(self.prefix, setup.variant or "ham")][0],
                "NCCDS": 3,
                "NAMPS": det.amps_per_chip,
                "SHUTTER": shutter,
                "OBSEPOCH": start.decimalyear,
                "TIMESYS": "UTC",
                "DATE-OBS": start.strftime("%Y-%m-%d"),
                "UTSTART": start.strftime("%H:%M:%S.%f")[:13],
                "EXPTIME": float(meta.exptime),
                "ELAPSED": float(meta.exptime),
                "DARKTIME": float(meta.exptime) + 8.0,
                "MASKNAME": "1.0arcsec" if kind == "spectrum" else "None",
                "FILTER1": "open1-6",
                "FILTER2": filter2,
                "GRATING": grating,
                "DETNROI": 1,
                "AIRMASS": round(meta.airmass, 3),
            }
        )
        return head


@register_format
class GmosNorth(_Gmos):
    """GMOS-N at Gemini North (Maunakea)."""

    name = "gmos-n"
    prefix = "N"
    observatory = "Gemini-North"
    crop_width_2x2 = 2108
    pixscale_unbinned = 0.0807
    site = SITES[observatory]
    telescope = TELESCOPES[observatory]


@register_format
class GmosSouth(_Gmos):
    """GMOS-S at Gemini South (Cerro Pachón)."""

    name = "gmos-s"
    prefix = "S"
    observatory = "Gemini-South"
    crop_width_2x2 = 2128
    pixscale_unbinned = 0.0800
    site = SITES[observatory]
    telescope = TELESCOPES[observatory]

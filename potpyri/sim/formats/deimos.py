"""Keck DEIMOS direct imaging (KOA names ``DE.20240618.12345.fits.gz``).

Layout (real_formats.md §5: PypeIt, KOA keyword table, WMKO Direct-mode gain logs; no real DEIMOS
file was available): a primary HDU without pixels with the instrument's own keywords, then one
image extension per video input: CCDs 1-4 (one row of the 2×4 mosaic) × amplifiers A (left half,
DETSEC forward) and B (right half, read from the right edge: DETSEC **reversed**), each with
``PRECOL`` prescan columns, the data and ``POSTPIX`` overscan columns; ``DATASEC`` and ``DETSEC``
in each extension, no GAIN/RDNOISE/BIASSEC/CCDSUM/EXTNAME. Binning is ``BINNING`` ``'x,y'`` in the
primary. The keywords the Keck archive adds (``MJD``, ``FILTER``, ``OBSMODE``, ``KOAIMTYP``,
``DETSEC01``...) are left out, so the reader is shown not to need them: time from ``DATE-OBS`` +
``UTC``, filter from ``DWFILNAM``. No celestial WCS (not verified in raw files).

Assumptions (UNCERTAIN): PRECOL 12 and POSTPIX 80 unbinned; bias ~1100 ADU; MOSMODE ``Direct``
for imaging; ``PONAME`` as the reference's bad-frame rule reads it. The light falls on the
imaging field (rows 1321-3921) that the reader keeps; the CCDs are read whole at size "full".
``size="small"`` reads CCDs 2 and 3 only, 2×2 binned, in a 2048-row window (a simulation
convenience).
"""

from __future__ import annotations

import numpy as np
from astropy.io import fits

from potpyri.instruments.deimos import (
    CHIP_HEIGHT,
    CHIP_WIDTH,
    DeimosOptions,
    chip_column,
    kept_rows,
)
from potpyri.sim.formats.base import (
    SITES,
    TELESCOPES,
    FrameMeta,
    Geometry,
    RawFormat,
    Setup,
    register_format,
)
from potpyri.sim.formats.generic import koa_filename, sexagesimal

__all__ = ["Deimos"]

_OPTIONS = DeimosOptions()
_PRECOL, _POSTPIX = 12, 80  # unbinned prescan / overscan columns
#: WMKO gain_check.Direct.2023-Oct-05 log, video inputs CCD1 A, CCD1 B, CCD2 A, ... (e-/ADU, e-)
_GAINS = (1.228, 1.178, 1.708, 1.172, 1.164, 1.260, 1.247, 1.213)
_RDNOISE = (2.57, 2.47, 1.79, 2.46, 2.44, 2.64, 3.92, 2.54)
_BIAS = (1100.0, 1080.0, 1120.0, 1090.0, 1105.0, 1095.0, 1085.0, 1110.0)


@register_format
class Deimos(RawFormat):
    """DEIMOS: four 2k×4k CCDs, two amplifiers each (8 video inputs)."""

    name = "deimos"
    instrument = "deimos"
    filters = {"g": "g", "r": "R", "i": "I", "z": "Z"}
    fringe_bands = ("z",)
    full_well = 100000.0
    zeropoint_ab = {"g": 28.0, "r": 28.4, "i": 28.2, "z": 27.5}
    site = SITES["Keck"]
    telescope = TELESCOPES["Keck"]
    default_setup = Setup(binning=(1, 1), size="small")
    pixscale_unbinned = 0.1185

    # -- what is read ----------------------------------------------------------------------------
    def _binning(self, setup: Setup) -> tuple[int, int]:
        return (2, 2) if setup.size == "small" else tuple(setup.binning)  # type: ignore[return-value]

    def _chips(self, setup: Setup) -> tuple[int, ...]:
        return (1, 2) if setup.size == "small" else (0, 1, 2, 3)

    def _rows(self, setup: Setup) -> tuple[int, int]:
        """Unbinned detector rows read (0-based start, count)."""
        if setup.size == "small":
            first, last = _OPTIONS.field_rows
            return (first - 1) + (last - first + 1 - 2048) // 2, 2048
        return 0, CHIP_HEIGHT

    def _amplifiers(self, setup: Setup):
        """(video input, unbinned detector x0, reversed) of each amplifier read."""
        return [
            (2 * chip + side, chip * CHIP_WIDTH + side * CHIP_WIDTH // 2, side == 1)
            for chip in self._chips(setup)
            for side in (0, 1)
        ]

    def _layout(self, setup: Setup):
        """Mosaic columns of each amplifier and the mosaic rows kept, as the reader places them."""
        bx, by = self._binning(setup)
        y0, n = self._rows(setup)
        rows = kept_rows(y0, n // by, by, _OPTIONS.field_rows)
        cols = {amp: chip_column(x0, _OPTIONS.gaps, bx) for amp, x0, _ in self._amplifiers(setup)}
        origin = min(cols.values())
        return rows, {amp: col - origin for amp, col in cols.items()}

    def geometry(self, setup: Setup) -> Geometry:
        bx, _ = self._binning(setup)
        rows, cols = self._layout(setup)
        width = CHIP_WIDTH // 2 // bx
        nx = max(cols.values()) + width
        sensitive = np.zeros((len(rows), nx), bool)
        for col in cols.values():
            sensitive[:, col : col + width] = True
        return Geometry(
            shape=sensitive.shape,
            pixscale=self.pixscale_unbinned * bx,
            sensitive=None if sensitive.all() else sensitive,
        )

    def filename(self, meta: FrameMeta, setup: Setup) -> str:
        return koa_filename("DE", meta)

    # -- read-out --------------------------------------------------------------------------------
    def readout(
        self, electrons: np.ndarray, meta: FrameMeta, setup: Setup, rng: np.random.Generator
    ) -> fits.HDUList:
        bx, by = self._binning(setup)
        y0, n = self._rows(setup)
        rows, cols = self._layout(setup)
        ny, width = n // by, CHIP_WIDTH // 2 // bx
        pre, post = _PRECOL // bx, _POSTPIX // bx
        hdus = [fits.PrimaryHDU(header=self.primary_header(meta, setup))]
        for amp, x0, reversed_ in self._amplifiers(setup):
            light = np.zeros((ny, width))
            light[rows] = electrons[:, cols[amp] : cols[amp] + width]
            if reversed_:  # amplifier B reads from the CCD's right edge
                light = light[:, ::-1]
            shape = (ny, pre + width + post)
            bias = _BIAS[amp] + 4.0 * np.linspace(0.0, 1.0, ny)[:, None]  # row ramp
            raw = bias + rng.normal(0.0, _RDNOISE[amp] / _GAINS[amp], shape)
            raw[:, pre : pre + width] += light / _GAINS[amp]
            x1, x2 = x0 + 1, x0 + CHIP_WIDTH // 2
            header = fits.Header()
            header["DATASEC"] = f"[{pre + 1}:{pre + width},1:{ny}]"
            header["DETSEC"] = (
                f"[{x2 if reversed_ else x1}:{x1 if reversed_ else x2},{y0 + 1}:{y0 + n}]"
            )
            data = np.clip(np.round(raw), 0, 65535).astype(np.uint16)
            hdus.append(fits.ImageHDU(data, header))
        return fits.HDUList(hdus)

    def primary_header(self, meta: FrameMeta, setup: Setup) -> fits.Header:
        """The instrument's own primary keywords (real_formats.md §5.3; no KOA-added ones)."""
        bx, by = self._binning(setup)
        kind = meta.kind
        spectral = kind == "spectrum"
        ra, dec = sexagesimal(meta.ra, meta.dec)
        head = fits.Header()
        head.update(
            {
                "TELESCOP": "Keck II",
                "INSTRUME": "DEIMOS",
                "OBJECT": "DmFlat" if kind == "flat" else meta.object_name,
                "TARGNAME": meta.object_name,
                "OBSTYPE": {"bias": "Bias", "flat": "DmFlat"}.get(kind, "Object"),
                "MOSMODE": "Spectral" if spectral else "Direct",
                # Acquisition images are taken through the slit mask: not "None", so not science.
                "SLMSKNAM": {
                    "spectrum": "LVMslitC",
                    "bad": "GOH_X",
                    "acquisition": "GRB_acq_mask",
                }.get(kind, "None"),
                "GRATENAM": "600ZD" if spectral else "Mirror",
                "HATCHPOS": "closed" if kind == "bias" else "open",
                "LAMPS": "Off",
                "PONAME": "MIRA" if kind == "bad" else "DEIMOS",
                "DWFILNAM": self.filters.get(meta.band, "Clear"),
                "ELAPTIME": float(meta.exptime),
                "EXPTIME": float(meta.exptime),
                "DATE-OBS": meta.date_obs.strftime("%Y-%m-%d"),
                "UTC": meta.date_obs.strftime("%H:%M:%S.%f")[:11],
                "MJD-OBS": f"{meta.date_obs.mjd:.6f}",
                "RA": ra,
                "DEC": dec,
                "AIRMASS": round(meta.airmass, 3),
                "ROTPOSN": meta.position_angle,
                "ROTMODE": "position angle",
                "BINNING": f"{bx},{by}",
                "AMPMODE": "DUAL:A+B",
                "NVIDINP": len(self._amplifiers(setup)),
                "CCDGAIN": "high",
                "CCDSPEED": "slow",
                "PRECOL": _PRECOL,
                "POSTPIX": _POSTPIX,
                "PRELINE": 0,
                "POSTLINE": 0,
                "DETLSIZE": "[1:8192,1:8192]",
                "FRAMENO": meta.number,
            }
        )
        return head

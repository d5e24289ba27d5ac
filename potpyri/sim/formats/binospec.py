"""MMT Binospec imaging raw files as the telescope writes them (``sci_img_2024.0618.012345.fits``).

Layout (real_formats.md §7.1, from PypeIt's reader of telescope raw files; no raw header was
available): a primary HDU without pixels, then 8 amplifier extensions, 1-4 side A and 5-8 side B,
each the 2048×2056 (unbinned) quadrant of its 4096×4112 side as the amplifier reads it (amp 2
mirrored along NAXIS1, 3 along both axes, 4 along NAXIS2), with prescan columns before and
overscan rows after ``DATASEC``; ``DATASEC`` and ``CCDSUM`` in every extension, no DETSEC, GAIN,
RDNOISE or BIASSEC. The observation keywords are in extension 1 with the real header's names and
units (§7.3: OBJECT, CATID, EXPTIME, FILTER ``r_filter``, DATE-OBS, UT, MJD, CCDSUM, AIRMASS, RA in
decimal hours, DEC, POSANG, MASK, DISPERS1/2, IMAGETYP, SCRN, HENEAR, INCAN, PI, PROPID). No
celestial WCS (not verified in raw files).

Frame types as the real headers show them: screen flats are ``IMAGETYP='object'`` with
``SCRN='deployed'`` (the trap of §7.4), spectra have a grating in ``DISPERS1``, acquisition images
a slit mask with the mirror. Assumptions (UNCERTAIN): 8 prescan columns and 16 overscan rows
(binned), bias levels ~1000 ADU; the light falls only on the reference's imaging field of each
side (the imaging mask); ``size="small"`` is the full frame binned 2×2.
"""

from __future__ import annotations

import numpy as np
from astropy.io import fits

from potpyri.instruments.binospec import BinospecOptions
from potpyri.instruments.sections import read_section
from potpyri.sim.formats.base import (
    SITES,
    TELESCOPES,
    FrameMeta,
    Geometry,
    RawFormat,
    Setup,
    register_format,
)

__all__ = ["Binospec"]

_OPTIONS = BinospecOptions()
_SIDE = (4112, 4096)  # unbinned (rows, columns) of one assembled side
_PRESCAN, _OVERSCAN = 8, 16  # binned prescan columns and overscan rows per amplifier
#: PypeIt get_detector_par: gains (e-/ADU) of amps 1-8, read noise 3.2 (side A) / 3.6 (side B).
_GAINS = (1.085, 1.046, 1.042, 0.975, 1.028, 1.115, 1.047, 1.045)
_RDNOISE = (3.2,) * 4 + (3.6,) * 4
_BIAS = (1005.0, 990.0, 1012.0, 998.0, 1020.0, 985.0, 1003.0, 995.0)


@register_format
class Binospec(RawFormat):
    """Binospec: two 4k×4k e2v CCDs (sides A and B), four amplifiers each."""

    name = "binospec"
    instrument = "binospec"
    filters = {"g": "g_filter", "r": "r_filter", "i": "i_filter", "z": "z_filter"}
    calibrations = ("flat",)
    full_well = 120000.0
    zeropoint_ab = {"g": 28.1, "r": 28.3, "i": 28.0, "z": 27.2}
    site = SITES["MMT"]
    telescope = TELESCOPES["MMT"]
    default_setup = Setup(binning=(1, 1), size="small")
    pixscale_unbinned = 0.24

    def _binning(self, setup: Setup) -> tuple[int, int]:
        return (2, 2) if setup.size == "small" else tuple(setup.binning)  # type: ignore[return-value]

    def _fields(self, setup: Setup):
        bx, by = self._binning(setup)
        return [read_section(f).binned(bx, by) for f in _OPTIONS.fields]

    def geometry(self, setup: Setup) -> Geometry:
        bx, by = self._binning(setup)
        field_a, field_b = self._fields(setup)
        gap = _OPTIONS.side_gap // bx
        ny = min(field_a.shape[0], field_b.shape[0])
        nx = field_a.shape[1] + gap + field_b.shape[1]
        sensitive = np.ones((ny, nx), bool)
        sensitive[:, field_a.shape[1] : field_a.shape[1] + gap] = False
        return Geometry(shape=(ny, nx), pixscale=self.pixscale_unbinned * bx, sensitive=sensitive)

    def filename(self, meta: FrameMeta, setup: Setup) -> str:
        return f"sci_img_{meta.date_obs.strftime('%Y.%m%d.%H%M%S')}.fits"

    def readout(
        self, electrons: np.ndarray, meta: FrameMeta, setup: Setup, rng: np.random.Generator
    ) -> fits.HDUList:
        bx, by = self._binning(setup)
        field_a, field_b = self._fields(setup)
        gap = _OPTIONS.side_gap // bx
        ny = electrons.shape[0]
        qy, qx = _SIDE[0] // 2 // by, _SIDE[1] // 2 // bx
        hdus: list[fits.hdu.base.ExtensionHDU] = []
        start = 0
        for side, crop in enumerate((field_a, field_b)):
            light = np.zeros((2 * qy, 2 * qx))
            width = crop.shape[1]
            light[crop.rows.start : crop.rows.start + ny, crop.cols] = electrons[
                :, start : start + width
            ]
            start += width + gap
            for k, (row, col, flip_x, flip_y) in enumerate(_OPTIONS.quadrants):
                n = 4 * side + k
                piece = light[row * qy : (row + 1) * qy, col * qx : (col + 1) * qx]
                if flip_x:
                    piece = piece[:, ::-1]
                if flip_y:
                    piece = piece[::-1, :]
                hdus.append(self._amplifier(n, piece, rng, bx, by, meta if n == 0 else None))
        return fits.HDUList([fits.PrimaryHDU(), *hdus])

    def _amplifier(self, n, piece, rng, bx, by, meta) -> fits.ImageHDU:
        """One amplifier's raw array: prescan columns | data, then overscan rows above."""
        qy, qx = piece.shape
        shape = (qy + _OVERSCAN, qx + _PRESCAN)
        fixed = np.random.default_rng(2000 + n)
        bias = (
            _BIAS[n]
            + fixed.normal(0.0, 2.0, shape[1])[None, :]  # column pattern (overscan rows see it)
            + 5.0 * np.linspace(0.0, 1.0, shape[0])[:, None]  # row ramp (prescan sees it)
        )
        raw = bias + rng.normal(0.0, _RDNOISE[n] / _GAINS[n], shape)
        raw[:qy, _PRESCAN:] += piece / _GAINS[n]
        header = fits.Header()
        if meta is not None:
            header.update(self.observation_header(meta, bx, by))
        header["CCDSUM"] = f"{bx} {by}"
        header["DATASEC"] = f"[{_PRESCAN + 1}:{_PRESCAN + qx},1:{qy}]"
        return fits.ImageHDU(np.clip(np.round(raw), 0, 65535).astype(np.uint16), header)

    def observation_header(self, meta: FrameMeta, bx: int, by: int) -> dict:
        """Extension 1's observation keywords (real_formats.md §7.3, the real 2018 header)."""
        kind = meta.kind
        flat = kind == "flat"
        mask = {"spectrum": "Longslit1", "bad": "mira", "acquisition": "Longslit1"}
        return {
            "OBSERVAT": "mmto",
            "TELESCOP": "mmt_f5_adc",
            "INSTRUME": "Binospec",
            "DISPERS1": "x270" if kind == "spectrum" else "mirror",
            "DISPERS2": "x270" if kind == "spectrum" else "mirror",
            "FILTER": self.filters.get(meta.band, "r_filter"),
            "MASK": mask.get(kind, "imaging"),
            "HENEAR": "off",
            "INCAN": "on" if flat else "off",
            "SCRN": "deployed" if flat else "stowed",
            "CATID": meta.object_name,
            "DATE-OBS": meta.date_obs.strftime("%Y-%m-%dT%H:%M:%S"),
            "RA": meta.ra / 15.0,
            "DEC": meta.dec,
            "POSANG": meta.position_angle,
            "MJD": round(meta.date_obs.mjd, 5),
            "UT": meta.date_obs.strftime("%H:%M:%S"),
            "AIRMASS": round(meta.airmass, 4),
            "EXPTIME": float(meta.exptime),
            "EXPMODE": "long",
            "IMAGETYP": "object",  # the real screen flat says 'object' too (§7.4)
            "OBJECT": meta.object_name,
            "PI": "Simulated",
            "PROPID": "SIM-0000",
        }

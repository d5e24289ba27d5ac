"""A raw format described by data: chips and amplifiers placed on the detector, one HDU each.

Most instruments differ only in where their amplifiers sit, how wide their overscan is, which
HDU holds what, and their header keywords; :class:`AmplifierFormat` does the read-out for all of
them, and subclasses give the numbers and the headers. Each amplifier HDU carries DETSEC (unbinned
detector pixels), DATASEC and BIASSEC (binned raw pixels, 1-based), CCDSUM, GAIN and RDNOISE.

Coordinates: the *detector* is the full focal plane in unbinned pixels (chips with their gaps);
``crop`` is the part the reference pipeline keeps (its trimmed image, the mosaic at size "full");
``window`` is a central region read out at size "small" (a region of interest the instruments
support), binned by ``small_binning``.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from astropy.coordinates import Angle
from astropy.io import fits

from potpyri.sim.formats.base import FrameMeta, Geometry, RawFormat, Setup

__all__ = [
    "Amp",
    "AmplifierFormat",
    "InfraredArrayFormat",
    "koa_filename",
    "koa_time_and_pointing",
    "sexagesimal",
]


@dataclass(frozen=True)
class Amp:
    """One amplifier: its unbinned rectangle on the detector and its electronics."""

    x0: int
    y0: int
    nx: int
    ny: int
    gain: float
    rdnoise: float
    bias: float
    overscan_right: bool = True
    chip: int = 0


def sexagesimal(ra_deg: float, dec_deg: float) -> tuple[str, str]:
    """RA/Dec as the ``'hh:mm:ss.ss'`` / ``'+dd:mm:ss.s'`` strings observatories write."""
    ra = Angle(ra_deg, "deg").to_string("hour", sep=":", precision=2, pad=True)
    dec = Angle(dec_deg, "deg").to_string("deg", sep=":", precision=1, alwayssign=True, pad=True)
    return ra, dec


def koa_filename(prefix: str, meta: FrameMeta) -> str:
    """The Keck Observatory Archive's file name, ``PREFIX.YYYYMMDD.SSSSS.fits.gz`` (seconds of
    the UT day)."""
    seconds = int(round((meta.date_obs.mjd % 1) * 86400))
    return f"{prefix}.{meta.date_obs.strftime('%Y%m%d')}.{seconds:05d}.fits.gz"


def koa_time_and_pointing(meta: FrameMeta, time_key: str) -> dict:
    """The date, time, pointing and rotator keywords of a Keck optical imager's primary header,
    in the order KOA writes them (``time_key`` is ``"UT"`` on LRIS, ``"UTC"`` on DEIMOS)."""
    ra, dec = sexagesimal(meta.ra, meta.dec)
    return {
        "DATE-OBS": meta.date_obs.strftime("%Y-%m-%d"),
        time_key: meta.date_obs.strftime("%H:%M:%S.%f")[:11],
        "MJD-OBS": meta.date_obs.mjd,
        "MJD": meta.date_obs.mjd,
        "RA": ra,
        "DEC": dec,
        "AIRMASS": round(meta.airmass, 3),
        "ROTPOSN": meta.position_angle,
    }


def _bias_structure(amp_index: int, shape: tuple[int, int]) -> np.ndarray:
    """A fixed 2-D bias pattern: a slow ramp along rows (which the overscan follows) plus a
    column pattern of ~2 ADU (which only a master bias removes); the same in every frame."""
    ny, nx = shape
    columns = np.random.default_rng(1000 + amp_index).normal(0.0, 2.0, nx)
    return 6.0 * np.linspace(0.0, 1.0, ny)[:, None] + columns[None, :]


class AmplifierFormat(RawFormat):
    """Read-out of amplifiers into one image HDU each (after an optional data-less primary)."""

    #: Amplifiers in HDU order.
    amps: tuple[Amp, ...] = ()
    #: (y0, x0, ny, nx) unbinned: the reference's trimmed image (the mosaic at size "full").
    crop: tuple[int, int, int, int] = (0, 0, 0, 0)
    #: (ny, nx) unbinned central window read at size "small", and its binning.
    window: tuple[int, int] = (2048, 2048)
    small_binning: tuple[int, int] = (2, 2)
    pixscale_unbinned: float = 0.1
    overscan: int = 32  #: binned overscan columns per amplifier (0 for infrared arrays)
    primary_data: bool = False  #: a single amplifier written into the primary HDU itself
    cube: bool = False  #: images stored as (1, ny, nx) cubes (Flamingos-2)
    dtype: type = np.uint16
    adc_max: float = 65535.0
    orientation = ((-1.0, 0.0), (0.0, 1.0))

    # -- geometry --------------------------------------------------------------------------------
    def _binning(self, setup: Setup) -> tuple[int, int]:
        if setup.size == "small":
            return self.small_binning
        return tuple(setup.binning)  # type: ignore[return-value]

    def _region(self, setup: Setup) -> tuple[int, int, int, int]:
        """The unbinned (y0, x0, ny, nx) region read into the mosaic."""
        y0, x0, ny, nx = self.crop
        if setup.size == "small":
            wy, wx = min(self.window[0], ny), min(self.window[1], nx)
            return y0 + (ny - wy) // 2, x0 + (nx - wx) // 2, wy, wx
        return y0, x0, ny, nx

    def geometry(self, setup: Setup) -> Geometry:
        bx, by = self._binning(setup)
        ry, rx, ny, nx = self._region(setup)
        sensitive = np.zeros((ny // by, nx // bx), bool)
        for amp in self.amps:
            sl = self._mosaic_slices(amp, setup)
            if sl is not None:
                sensitive[sl] = True
        return Geometry(
            shape=sensitive.shape,
            pixscale=self.pixscale_unbinned * bx,
            orientation=self.orientation,
            sensitive=None if sensitive.all() else sensitive,
        )

    def _mosaic_slices(self, amp: Amp, setup: Setup) -> tuple[slice, slice] | None:
        """The binned mosaic pixels this amplifier reads (None when outside the region)."""
        bx, by = self._binning(setup)
        ry, rx, ny, nx = self._region(setup)
        ylo, yhi = max(amp.y0, ry), min(amp.y0 + amp.ny, ry + ny)
        xlo, xhi = max(amp.x0, rx), min(amp.x0 + amp.nx, rx + nx)
        if yhi - ylo < by or xhi - xlo < bx:
            return None
        return slice((ylo - ry) // by, (yhi - ry) // by), slice((xlo - rx) // bx, (xhi - rx) // bx)

    # -- read-out --------------------------------------------------------------------------------
    def readout(
        self, electrons: np.ndarray, meta: FrameMeta, setup: Setup, rng: np.random.Generator
    ) -> fits.HDUList:
        bx, by = self._binning(setup)
        primary = self.primary_header(meta, setup)
        images = []
        for n, amp in enumerate(self.amps):
            sl = self._mosaic_slices(amp, setup)
            if sl is None:
                continue
            signal = electrons[sl]
            ny, nx = signal.shape
            noise = amp.rdnoise / amp.gain
            bias = amp.bias + _bias_structure(n, signal.shape) if self.overscan else amp.bias
            data = signal / amp.gain + bias + rng.normal(0.0, noise, signal.shape)
            overscan = (
                bias[:, :1] + rng.normal(0.0, noise, (ny, self.overscan)) if self.overscan else None
            )
            if overscan is None:
                raw = data
            else:
                raw = np.hstack([data, overscan] if amp.overscan_right else [overscan, data])
            raw = np.clip(np.round(raw), 0, self.adc_max).astype(self.dtype)
            if amp.overscan_right:
                datasec = f"[1:{nx},1:{ny}]"
                biassec = f"[{nx + 1}:{nx + self.overscan},1:{ny}]" if self.overscan else ""
            else:
                datasec = f"[{self.overscan + 1}:{nx + self.overscan},1:{ny}]"
                biassec = f"[1:{self.overscan},1:{ny}]"
            ry, rx, _, _ = self._region(setup)
            dy0, dx0 = ry + sl[0].start * by, rx + sl[1].start * bx
            header = fits.Header()
            header.update(
                {
                    "DETSEC": f"[{dx0 + 1}:{dx0 + nx * bx},{dy0 + 1}:{dy0 + ny * by}]",
                    "DATASEC": datasec,
                    "CCDSUM": f"{bx} {by}",
                    "GAIN": amp.gain,
                    "RDNOISE": amp.rdnoise,
                    "AMPNAME": f"AMP{n + 1}",
                    "CCDNAME": f"CCD{amp.chip + 1}",
                }
            )
            if biassec:
                header["BIASSEC"] = biassec
            header.update(self._wcs_cards(meta, setup, sl, amp))
            header.update(self.image_header(n, amp, meta, setup))
            images.append((raw[None] if self.cube else raw, header))
        if self.primary_data:
            ((raw, header),) = images
            primary.update(header)
            return fits.HDUList([fits.PrimaryHDU(raw, primary)])
        return fits.HDUList(
            [fits.PrimaryHDU(header=primary)]
            + [
                fits.ImageHDU(raw, header, name=self.extname(n))
                for n, (raw, header) in enumerate(images)
            ]
        )

    def _wcs_cards(self, meta: FrameMeta, setup: Setup, sl: tuple[slice, slice], amp: Amp) -> dict:
        """Header WCS from the telescope pointing, shifted to this amplifier's raw pixels."""
        geometry = self.geometry(setup)
        pa = np.deg2rad(meta.position_angle)
        cd = np.array([[np.cos(pa), -np.sin(pa)], [np.sin(pa), np.cos(pa)]]) @ geometry.cd_nominal
        crpix = geometry.crpix_or_center
        shift = sl[1].start - (0 if amp.overscan_right else self.overscan)
        return {
            "CTYPE1": "RA---TAN",
            "CTYPE2": "DEC--TAN",
            "CRVAL1": meta.ra,
            "CRVAL2": meta.dec,
            "CRPIX1": crpix[0] - shift,
            "CRPIX2": crpix[1] - sl[0].start,
            "CD1_1": cd[0, 0],
            "CD1_2": cd[0, 1],
            "CD2_1": cd[1, 0],
            "CD2_2": cd[1, 1],
            "RADESYS": "ICRS",
            "EQUINOX": 2000.0,
        }

    # -- hooks for subclasses ----------------------------------------------------------------------
    def primary_header(self, meta: FrameMeta, setup: Setup) -> fits.Header:
        """The primary header (observation keywords)."""
        raise NotImplementedError

    def image_header(self, n: int, amp: Amp, meta: FrameMeta, setup: Setup) -> dict:
        """Extra keywords of amplifier ``n``'s HDU."""
        return {}

    def extname(self, n: int) -> str | None:
        """EXTNAME of amplifier ``n``'s HDU."""
        return None


class InfraredArrayFormat(AmplifierFormat):
    """One infrared array (HAWAII-2/-2RG): no overscan, darks remove the reset pedestal, and the
    small read-out is an unbinned 1k×1k window."""

    wavelength = "NIR"
    calibrations = ("dark", "flat")
    window = (1024, 1024)
    small_binning = (1, 1)
    overscan = 0

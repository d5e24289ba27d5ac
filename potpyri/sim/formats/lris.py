"""Keck LRIS raw files as the telescope writes them (KOA names ``LB.``/``LR.YYYYMMDD.SSSSS``).

Built from ``spec/real_formats.md`` section 4 and the real blue files in
``../shared/data/real_raw/lris_blue`` (their HDU layout and keyword set):

* ``lris-blue``: a data-less primary plus four ``VidInp1..4`` extensions, one per amplifier of
  the two e2v 2k x 4k CCDs. Each has DATASEC and DETSEC (unbinned, gap-less; amplifiers 2 and 4
  read from the right, so their DETSEC is written high-to-low and their pixels are stored
  mirrored), CCDSUM, CCDNAME, AMPTYPE, VIDEOINP. No BIASSEC, GAIN, RDNOISE or sky WCS: the
  pre-/post-scan widths are PRECOL/POSTPIX (unbinned) in the primary. The CCDs are 41 unbinned
  columns apart (the files' own "ccd2gap" pane WCS), so the mosaic is 4096 x 4137 at 1x1.
* ``lris-red-mef``: the red side 2009-2021, the same layout with the KOA page's red numbers
  (PRECOL 7, POSTPIX 80, POSTLINE 20) and the reference's 200-column CCD gap (no real red file
  was available: UNCERTAIN).
* ``lris-red``: the red side since 2021 (Mark4): one LBNL 4k x 4k CCD (4114 x 4128 image pixels)
  read by four amplifiers (L2 lower left, U2 lower right, L1 upper left, U1 upper right) into the
  primary HDU, with prescan columns outside, the overscan strips of the left and right amplifiers
  meeting in the middle columns and 60 post-lines per amplifier in the middle rows; amplifier
  geometry in AMPNMn/DSECn/BSECn cards numbered as PypeIt's stored Mark4 headers (L1, L2, U1, U2
  = 0..3).

Primary keywords as in the real files: INSTRUME LRISBLUE/LRIS, TARGNAME, OBJECT, ELAPTIME and
TTIME (MEF) or EXPTIME and TELAPSE (Mark4), BLUFILT and REDFILT (both), MJD-OBS as text (MEF) or
MJD (Mark4), sexagesimal RA/DEC, ROTPOSN, ROTMODE, BINNING and CCDSUM, SLITNAME, GRISNAME/
GRISTRAN, GRANAME, TRAPDOOR, the lamp cards, OBSTYPE 'dark' (MEF: on every frame), and the KOA
cards KOAID/KOAIMTYP (these files carry archive names). Gains and read noise are Keck's
published per-amplifier values (the reader's YAML tables).
"""

from __future__ import annotations

import numpy as np
from astropy.io import fits

from potpyri.sim.formats.base import SITES, TELESCOPES, FrameMeta, Setup, register_format
from potpyri.sim.formats.generic import (
    Amp,
    AmplifierFormat,
    _bias_structure,
    koa_filename,
    sexagesimal,
)

__all__ = ["LrisBlue", "LrisRed", "LrisRedMef"]

#: KOA image types (KWT: undefined, focus, bias, flatlamp, polcal, object, arclamp, dark).
_KOAIMTYP = {
    "bias": "bias",
    "flat": "flatlamp",
    "science": "object",
    "short": "object",
    "bad": "focus",
    "spectrum": "object",
    "acquisition": "object",
}
#: Lamp cards of the real primary header ('on'/'off'); FLAMP1/FLAMP2 are the dome-flat lamps.
_LAMPS = (
    "MERCURY",
    "NEON",
    "ARGON",
    "CADMIUM",
    "ZINC",
    "HALOGEN",
    "KRYPTON",
    "XENON",
    "FEARGON",
    "DEUTERI",
    "FLAMP1",
    "FLAMP2",
)
#: Blue CCD gap, unbinned columns (real files' "ccd2gap" WCS: VidInp3 CRVAL1G 2090.5 vs 2049.5).
BLUE_GAP = 41
#: Red 2009-2021 CCD gap: the reference's mosaic constant (no real red header seen; UNCERTAIN).
RED_GAP = 200


class _Lris(AmplifierFormat):
    instrument = "lris"
    min_exptime = 15.0
    full_well = 120000.0
    pixscale_unbinned = 0.135
    site = SITES["Keck"]
    telescope = TELESCOPES["Keck"]
    side = "blue"
    prefix = "LB"
    window = (1800, 1800)

    def filename(self, meta: FrameMeta, setup: Setup) -> str:
        return koa_filename(self.prefix, meta)

    def observation_header(self, meta: FrameMeta, setup: Setup) -> fits.Header:
        """Keywords shared by every LRIS layout, in the real files' spelling."""
        bx, by = self._binning(setup)
        kind = meta.kind
        filt = "clear" if kind == "bias" else self.filters.get(meta.band, "clear")
        ra, dec = sexagesimal(meta.ra, meta.dec)
        seconds = int(round((meta.date_obs.mjd % 1) * 86400))
        head = fits.Header()
        head.update(
            {
                "TELESCOP": "Keck I",
                "INSTRUME": "LRISBLUE" if self.side == "blue" else "LRIS",
                "TARGNAME": "unknown" if kind in ("bias", "flat") else meta.object_name,
                "OBJECT": meta.object_name,
                # Slit acquisitions are taken through the slit: not "direct", so not science.
                "SLITNAME": {
                    "bad": "GOH_LRIS",
                    "spectrum": "long_1.0",
                    "acquisition": "long_1.0",
                }.get(kind, "direct"),
                "GRISNAME": "600/4000",
                "GRISTRAN": "deployed" if kind == "spectrum" and self.side == "blue" else "stowed",
                "GRANAME": "600/7500" if kind == "spectrum" and self.side == "red" else "mirror",
                "TRAPDOOR": "closed" if kind == "bias" else "open",
                "BLUFILT": filt if self.side == "blue" else "clear",
                "REDFILT": filt if self.side == "red" else "Clear",
                **{lamp: "off" for lamp in _LAMPS},
                "DATE-OBS": meta.date_obs.strftime("%Y-%m-%d"),
                "UTC": meta.date_obs.strftime("%H:%M:%S.%f")[:11],
                "RA": ra,
                "DEC": dec,
                "EQUINOX": 2000.0,
                "AIRMASS": round(meta.airmass, 3),
                "ROTMODE": "position angle",
                "ROTPOSN": meta.position_angle,
                "BINNING": f"{bx},{by}",
                "CCDSUM": f"{bx} {by}",
                "KOAID": f"{self.prefix}.{meta.date_obs.strftime('%Y%m%d')}.{seconds:05d}.fits",
                "KOAIMTYP": _KOAIMTYP[kind],
                "UT": meta.date_obs.strftime("%H:%M:%S.%f")[:11],
            }
        )
        if kind == "flat":  # dome flats: the dome lamps on (spec 4.4)
            head["FLAMP1"] = "on"
        return head


@register_format
class LrisBlue(_Lris):
    """LRIS blue side: two e2v 2k x 4k CCDs, two amplifiers each, one VidInp extension per
    amplifier."""

    name = "lris-blue"
    side = "blue"
    prefix = "LB"
    #: NB4170: the blue side's narrow band at 417 nm (~3 mag less light than B)
    filters = {"u": "u", "g": "g", "B": "B", "V": "V", "NB4170": "NB4170"}
    zeropoint_ab = {"u": 27.0, "g": 28.3, "B": 28.0, "V": 27.6, "NB4170": 25.0}
    #: VidInp1..4: chip 1 left/right, chip 2 left/right; overscan_right=False marks the right
    #: amplifiers (read from the right: reversed DETSEC). Gains/noise: Keck detectors page.
    amps = (
        Amp(0, 0, 1024, 4096, 1.55, 3.9, 990.0, True, 0),
        Amp(1024, 0, 1024, 4096, 1.56, 4.2, 962.0, False, 0),
        Amp(2048 + BLUE_GAP, 0, 1024, 4096, 1.63, 3.6, 1152.0, True, 1),
        Amp(3072 + BLUE_GAP, 0, 1024, 4096, 1.70, 3.6, 882.0, False, 1),
    )
    crop = (0, 0, 4096, 4096 + BLUE_GAP)
    gap = BLUE_GAP  #: unbinned columns between the CCDs (not in DETSEC)
    precol = 50  #: unbinned prescan columns (real PRECOL)
    postpix = 80  #: unbinned post-scan columns (real POSTPIX)
    postline = 0  #: unbinned post-scan rows (real POSTLINE)
    ccd_names = ("00151-14-1", "00152-19-1")

    def readout(
        self, electrons: np.ndarray, meta: FrameMeta, setup: Setup, rng: np.random.Generator
    ) -> fits.HDUList:
        bx, by = self._binning(setup)
        ry, rx, _, _ = self._region(setup)
        primary = self.observation_header(meta, setup)
        primary.update(
            {
                "ELAPTIME": int(round(meta.exptime)),
                "TTIME": int(round(meta.exptime)),
                "MJD-OBS": f"{meta.date_obs.mjd:.6f}",  # text, as in the real files
                "OBSTYPE": "dark",  # on every real frame (spec 4.4)
                "AMPMODE": "SINGLE:A",
                "NUMAMPS": 4,
                "PRECOL": self.precol,
                "POSTPIX": self.postpix,
                "PRELINE": 0,
                "POSTLINE": self.postline,
            }
        )
        pre, post, lines = -(-self.precol // bx), self.postpix // bx, self.postline // by
        hdus = [fits.PrimaryHDU(header=primary)]
        for n, amp in enumerate(self.amps):
            sl = self._mosaic_slices(amp, setup)
            if sl is None:
                continue
            signal = electrons[sl]
            ny, nx = signal.shape
            noise = amp.rdnoise / amp.gain
            bias = amp.bias + _bias_structure(n, signal.shape)
            data = signal / amp.gain + bias + rng.normal(0.0, noise, signal.shape)
            right_amp = not amp.overscan_right
            if right_amp:  # read out from the right: stored mirrored
                data = data[:, ::-1]
            prescan = bias[:, :1] + rng.normal(0.0, noise, (ny, pre))
            postscan = bias[:, :1] + rng.normal(0.0, noise, (ny, post))
            raw = np.hstack([prescan, data, postscan])
            if lines:  # post-scan rows after the data rows (red 2009-2021)
                raw = np.vstack([raw, amp.bias + rng.normal(0.0, noise, (lines, raw.shape[1]))])
            raw = np.clip(np.round(raw), 0, self.adc_max)
            # Detector position without the gap (DETSEC abuts the CCDs, spec 4.2).
            x0 = max(amp.x0, rx) - (self.gap if amp.chip else 0)
            y0 = max(amp.y0, ry)
            x1, x2 = x0 + 1, x0 + nx * bx
            header = fits.Header()
            header.update(
                {
                    "CCDNAME": self.ccd_names[amp.chip],
                    "AMPLOC": str(n),
                    "AMPTYPE": "R" if right_amp else "L",
                    "CCDLOC": str(amp.chip),
                    "VIDEOINP": n + 1,
                    "DATASEC": f"[{pre + 1}:{pre + nx},1:{ny}]",
                    "DETSIZE": "[1:4096,1:4102]",
                    "DETSEC": f"[{x2 if right_amp else x1}:{x1 if right_amp else x2},"
                    f"{y0 + 1}:{y0 + ny * by}]",
                    "CCDSUM": f"{bx} {by}",
                }
            )
            hdu = fits.ImageHDU(raw.astype(np.uint16), header)
            hdu.header["EXTNAME"] = f"VidInp{n + 1}"  # mixed case, as the real files
            hdus.append(hdu)
        return fits.HDUList(hdus)


@register_format
class LrisRedMef(LrisBlue):
    """LRIS red side 2009-2021: two LBNL 2k x 4k CCDs, two amplifiers each, one VidInp extension
    per amplifier, as the blue side (spec 4.1; no real red file was available: UNCERTAIN)."""

    name = "lris-red-mef"
    side = "red"
    prefix = "LR"
    filters = {"r": "R", "i": "I", "g": "G"}
    zeropoint_ab = {"g": 27.9, "r": 28.3, "i": 28.1}
    #: Gains/noise: Keck detectors page (2009-2021 version), amplifiers 1-4 in VIDEOINP order.
    amps = (
        Amp(0, 0, 1024, 4096, 1.255, 4.64, 1000.0, True, 0),
        Amp(1024, 0, 1024, 4096, 1.180, 4.76, 1010.0, False, 0),
        Amp(2048 + RED_GAP, 0, 1024, 4096, 1.191, 4.54, 990.0, True, 1),
        Amp(3072 + RED_GAP, 0, 1024, 4096, 1.162, 4.62, 1005.0, False, 1),
    )
    crop = (0, 0, 4096, 4096 + RED_GAP)
    window = (1800, 2400)  # wider than high: the 200-column gap is a twelfth of the small frame
    gap = RED_GAP
    precol = 7  #: KOA data-format page: 7 prescan, 80 post-scan columns, 20 post-scan rows
    postpix = 80
    postline = 20
    ccd_names = ("19-3", "19-2")


@register_format
class LrisRed(_Lris):
    """LRIS red side, Mark4 (2021+): one 4k x 4k CCD, four amplifiers, one image HDU."""

    name = "lris-red"
    side = "red"
    prefix = "LR"
    filters = {"r": "R", "i": "I", "z": "RG850", "g": "G"}
    zeropoint_ab = {"g": 27.9, "r": 28.3, "i": 28.1, "z": 27.4}
    fringe_bands = ("z",)
    #: L2, U2, L1, U1 (lower left, lower right, upper left, upper right; spec 4.2 Mark4 table),
    #: gains and read noise from Keck's detectors page (Mark4 version).
    amps = (
        Amp(0, 0, 2057, 2064, 1.64, 3.45, 1020.0, True, 0),
        Amp(2057, 0, 2057, 2064, 1.67, 3.52, 1045.0, False, 0),
        Amp(0, 2064, 2057, 2064, 1.71, 3.64, 980.0, True, 0),
        Amp(2057, 2064, 2057, 2064, 1.61, 3.65, 1010.0, False, 0),
    )
    amp_names = ("L2", "U2", "L1", "U1")
    #: PypeIt's stored-header numbering (ampId0..3 = L1, L2, U1, U2).
    amp_ids = {"L1": 0, "L2": 1, "U1": 2, "U2": 3}
    crop = (0, 0, 4128, 4114)
    prescan = 7  #: unbinned prescan columns (PSCPIX1)
    postlines = 60  #: post-lines per amplifier (POSCPIX2; the same binned and unbinned)

    def _overscan(self, bx: int) -> int:
        """Binned overscan columns per amplifier: 53 at 1x1, 72 at 2x2 (PypeIt's headers)."""
        return {1: 53, 2: 72}.get(bx, max(53 // bx, 1))

    def readout(
        self, electrons: np.ndarray, meta: FrameMeta, setup: Setup, rng: np.random.Generator
    ) -> fits.HDUList:
        bx, by = self._binning(setup)
        pre, over, lines = -(-self.prescan // bx), self._overscan(bx), self.postlines
        blocks = {}
        for n, amp in enumerate(self.amps):
            sl = self._mosaic_slices(amp, setup)
            if sl is None:
                continue
            signal = electrons[sl]
            noise = amp.rdnoise / amp.gain
            bias = amp.bias + _bias_structure(n, signal.shape)
            data = signal / amp.gain + bias + rng.normal(0.0, noise, signal.shape)
            blocks[self.amp_names[n]] = (data, amp, bias[:, :1], noise)
        width = {"L": 0, "U": 0}
        height = {"2": 0, "1": 0}
        for name, (data, *_) in blocks.items():
            width[name[0]] = max(width[name[0]], data.shape[1])
            height[name[1]] = max(height[name[1]], data.shape[0])
        nx = 2 * pre + width["L"] + width["U"] + 2 * over
        ny = height["2"] + height["1"] + 2 * lines
        raw = np.zeros((ny, nx))
        # Prescan and post-lines: the mean bias level and read noise (the reader skips them).
        raw += np.mean([amp.bias for _, amp, _, _ in blocks.values()])
        raw += rng.normal(0.0, 2.0, raw.shape)
        primary = self.observation_header(meta, setup)
        primary.update(
            {
                "INSTREV": "REDMARK4",
                "EXPTIME": float(meta.exptime),
                "TELAPSE": float(meta.exptime),
                "MJD": meta.date_obs.mjd,
                "AMPMODE": "HSPLIT,VSPLIT",
                "TAPLINES": len(blocks),
                "PSCPIX1": self.prescan,
                "POSCPIX2": self.postlines,
            }
        )
        for name, (data, _, level, noise) in blocks.items():
            h, w = data.shape
            lower = name[1] == "2"
            r0 = 0 if lower else height["2"] + 2 * lines
            rows = slice(r0, r0 + h)
            if name[0] == "L":
                cols, bias_cols = slice(pre, pre + w), slice(pre + w, pre + w + over)
            else:
                c0 = pre + width["L"] + 2 * over
                cols, bias_cols = slice(c0, c0 + w), slice(c0 - over, c0)
            raw[rows, cols] = data
            raw[rows, bias_cols] = level + rng.normal(0.0, noise, (h, over))
            n = self.amp_ids[name]
            primary[f"AMPNM{n}"] = name
            primary[f"DSEC{n}"] = f"[{cols.start + 1}:{cols.stop},{rows.start + 1}:{rows.stop}]"
            # Overscan of the right amplifiers and rows of the upper ones are read backwards:
            # written high-to-low, as in PypeIt's stored headers.
            bx1, bx2 = bias_cols.start + 1, bias_cols.stop
            by1, by2 = rows.start + 1, rows.stop
            xs = f"{bx1}:{bx2}" if name[0] == "L" else f"{bx2}:{bx1}:-1"
            ys = f"{by1}:{by2}" if lower else f"{by2}:{by1}:-1"
            primary[f"BSEC{n}"] = f"[{xs},{ys}]"
        raw = np.clip(np.round(raw), 0, self.adc_max).astype(np.uint16)
        return fits.HDUList([fits.PrimaryHDU(raw, primary)])

"""A simulated night: plan the exposures, render each one, write raw files, truth and catalogs.

``simulate_night("gmos-n", out)`` writes ``out/raw/`` in the instrument's archive format,
``out/truth/`` (``stars.ecsv``, ``frames.ecsv``, ``maps/``) and ``out/catalog_cache/`` (Gaia-,
PS1-, SDSS-, SkyMapper- and 2MASS-like answers drawn from the truth, in the raw format a live
query is cached in). Every random draw comes from a stream seeded by (seed, purpose, frame), so
the same seed gives byte-identical files.
"""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from astropy.io import fits
from astropy.table import Table, vstack
from astropy.time import Time, TimeDelta
from astropy.wcs import WCS

from potpyri.astrometry.refine import radial_sip_cards
from potpyri.files import write_atomic
from potpyri.sim import formats
from potpyri.sim.catalogs import seed_catalog_cache
from potpyri.sim.detector import add_cosmic_rays, make_detector, saturate
from potpyri.sim.formats.base import FORMATS, FrameMeta, Geometry, RawFormat, Setup, write_raw
from potpyri.sim.psf import PsfParams, draw_psf_params, field_psf
from potpyri.sim.scene import fringe_pattern, render_sources, sky_image, trail_image
from potpyri.sim.truth import DENSITY_R22, EXTINCTION, R_FAINT, SKY_AB, make_field

__all__ = ["NightResult", "expected_image", "simulate_night", "true_wcs"]

_NIGHT_START = Time("2024-06-18T23:30:00", scale="utc")
_CAL_COUNT = 5
_OVERHEAD_S = 30.0
#: Extra radius (deg) of the catalog answers a night stores: the largest pointing uncertainty
#: (instrument.pointing.uncertainty_arcsec) the astrometry step may search.
CATALOG_MARGIN_DEG = 1.0
formats.load_all()


@dataclass
class NightResult:
    """What :func:`simulate_night` wrote."""

    out_dir: Path
    raw_files: list[Path]
    truth_dir: Path
    frames: Table
    stars: Table = field(repr=False, default=None)  # type: ignore[assignment]


def simulate_night(
    fmt: str,
    out_dir: str | Path,
    *,
    seed: int = 0,
    targets: int = 1,
    frames: int = 3,
    bands: list[str] | None = None,
    size: str = "small",
    binning: tuple[int, int] | None = None,
    variant: str | None = None,
    rejects: bool = True,
    density_r22: float = DENSITY_R22,
    r_faint: float = R_FAINT,
    exptime_s: float | None = None,
    psf: str = "physical",
    nonlinear: bool = False,
) -> NightResult:
    """Simulate one night of ``fmt`` (a registered raw format, e.g. ``gmos-n``).

    Parameters
    ----------
    targets, frames : int
        Number of targets, and dithered science frames per target and band.
    bands : list of str, optional
        Generic band names; default two bands of the instrument's regime.
    size : {'small', 'full'}
        Detector read-out size (see the format).
    binning : tuple of int, optional
        On-chip binning; default the format's.
    rejects : bool
        Add a spectroscopic frame, an acquisition image, a frame flagged bad and a too-short
        exposure, which the pipeline must set aside.
    density_r22 : float
        Stars per arcmin² brighter than r = 22 in every field: ~1 at high galactic latitude
        (the default), several at |b| ~ 20-30 deg (counts grow as 10^(0.25 r)).
    r_faint : float
        Faintest r magnitude of the simulated sources (default 24.5); fainter for depth or
        completeness tests.
    exptime_s : float, optional
        Science exposure time, seconds; default 120 (optical) or 30 (NIR). Short exposures keep
        bright calibration stars (Gaia synthetic photometry reaches only G ~ 17.65) unsaturated.
    psf : {'physical', 'moffat'}
        The stars' PSF: ``physical`` (the default) is the atmosphere (von Kármán) convolved with
        the telescope's aberrated pupil, elliptical and varying over the field and from frame to
        frame (:mod:`potpyri.sim.psf`); ``moffat`` the circular, field-constant Moffat (β = 3).
    nonlinear : bool
        Apply the detector's nonlinearity (:attr:`RawFormat.nonlinearity`, NIR arrays) to the
        charge before read-out.
    """
    try:
        raw_format: RawFormat = FORMATS[fmt]()
    except KeyError:
        raise ValueError(
            f"unknown instrument format {fmt!r} (known: {', '.join(sorted(FORMATS))})"
        ) from None
    out_dir = Path(out_dir)
    default = raw_format.default_setup
    setup = Setup(
        tuple(binning) if binning else default.binning,
        size,
        variant if variant is not None else default.variant,
    )
    geometry = raw_format.geometry(setup)
    bands = list(bands) if bands else _default_bands(raw_format)
    unknown = [b for b in bands if b not in raw_format.filters]
    if unknown:
        raise ValueError(
            f"{fmt} has no filter for band(s) {unknown} (has {sorted(raw_format.filters)})"
        )

    streams = _Streams(seed)
    detector = make_detector(
        streams.get("detector"),
        geometry.shape,
        raw_format.dark_current,
        geometry.sensitive,
        bleeds=raw_format.wavelength == "OPT",
        nonlinearity=raw_format.nonlinearity if nonlinear else (),
    )
    fields = _targets(
        raw_format, geometry, targets, streams, density_r22=density_r22, r_faint=r_faint
    )
    plan = _plan(raw_format, geometry, setup, fields, bands, frames, rejects, streams, exptime_s)
    _assign_psfs(plan, psf, raw_format, geometry, streams)

    raw_dir, truth_dir = out_dir / "raw", out_dir / "truth"
    (truth_dir / "maps").mkdir(parents=True, exist_ok=True)
    raw_files, rows, writes, psf_rows = [], [], [], []
    fringe = fringe_pattern(geometry.shape, seed + 17)
    # Compression dominates the cost and releases the GIL: write while the next frame renders.
    with ThreadPoolExecutor(max_workers=2) as pool:
        for exposure in plan:
            rng = streams.get("frame", exposure.meta.number)
            electrons, cr_mask = _expose(
                exposure, raw_format, geometry, detector, fields, fringe, rng
            )
            hdul = raw_format.readout(electrons, exposure.meta, setup, rng)
            for name, part, region in raw_format.split_files(hdul, exposure.meta, setup):
                path = raw_dir / name
                writes.append(pool.submit(write_raw, part, path))
                raw_files.append(path)
                row = exposure.truth_row(path.name, raw_format, setup)
                row["region"] = _region_text(region, geometry.shape)
                rows.append(row)
                psf_rows += [
                    {"file": path.name, "x": x, "y": y, "fwhm_px": f}
                    for x, y, f in exposure.psf_lattice
                ]
                if cr_mask is not None:
                    name = f"{path.name.split('.fits')[0]}_cr.fits"
                    truth_map = cr_mask[region] if region is not None else cr_mask
                    writes.append(
                        pool.submit(
                            _write_map, truth_dir / "maps" / name, truth_map.astype(np.uint8)
                        )
                    )
        for write in writes:
            write.result()
    _write_map(truth_dir / "maps" / "badpix.fits", detector.bad.astype(np.uint8))
    _write_map(truth_dir / "maps" / "flat.fits", detector.response)
    frames_table = Table(rows=rows, names=list(rows[0]))
    frames_table.meta.update(
        {
            "format": fmt,
            "seed": seed,
            "shape": list(geometry.shape),
            "pixscale": geometry.pixscale,
            "binning": list(setup.binning),
            "size": size,
            "variant": setup.variant,
            "fringe_seed": seed + 17,
        }
    )
    write_atomic(frames_table, truth_dir / "frames.ecsv")
    psf_table = Table(rows=psf_rows, names=["file", "x", "y", "fwhm_px"]) if psf_rows else Table()
    psf_table.meta["note"] = (
        "effective FWHM (pixels, pixel response excluded) of the rendered PSF at mosaic x, y "
        "(0-based): the diameter of the circle with the area inside the half-maximum contour"
    )
    write_atomic(psf_table, truth_dir / "psf_fwhm.ecsv")
    stars = vstack([f.stars for f in fields], metadata_conflicts="silent")
    stars.meta = {"epoch": _NIGHT_START.decimalyear, "note": "positions at the epoch of the night"}
    write_atomic(stars, truth_dir / "stars.ecsv")
    for target in fields:
        seed_catalog_cache(
            out_dir / "catalog_cache",
            target.stars,
            target.ra,
            target.dec,
            # The simulated sky is empty beyond the field, so this wider cone is still the true
            # answer; it serves frames whose starting WCS is only as good as the pointing.
            target.radius + CATALOG_MARGIN_DEG,
            epoch=_NIGHT_START.decimalyear,
            rng=streams.get("catalog", target.index),
        )
    return NightResult(out_dir, raw_files, truth_dir, frames_table, stars)


# -- planning ------------------------------------------------------------------------------------


@dataclass
class _Target:
    index: int
    name: str
    ra: float
    dec: float
    radius: float
    stars: Table


@dataclass
class _Exposure:
    meta: FrameMeta
    wcs: WCS | None = None
    seeing_px: float = 0.0
    sky_e_s: float = 0.0
    gradient: tuple[float, float] = (0.0, 0.0)
    zeropoint: float = 0.0
    target: int = -1
    fringe_amp: float = 0.0
    trail: tuple | None = None
    flat_level: float = 0.0
    psf: PsfParams | None = None
    #: (x, y, effective FWHM px) of the truth PSF on a lattice over the mosaic
    psf_lattice: list = field(default_factory=list)
    psf_captured: float = 1.0

    def truth_row(self, filename: str, raw_format: RawFormat, setup: Setup) -> dict:
        m = self.meta
        return {
            "file": filename,
            "kind": m.kind,
            "band": m.band,
            "exptime": m.exptime,
            "target": m.object_name,
            "target_index": self.target,
            "date_obs": m.date_obs.isot,
            "airmass": round(m.airmass, 4),
            "header_ra": m.ra,
            "header_dec": m.dec,
            "wcs": self.wcs.to_header_string(relax=True) if self.wcs is not None else "",
            "seeing_fwhm_px": self.seeing_px,
            "psf": self.psf.to_json() if self.psf is not None else "",
            "psf_captured": self.psf_captured,
            "sky_e_s": self.sky_e_s,
            "sky_grad_x": self.gradient[0],
            "sky_grad_y": self.gradient[1],
            "zeropoint": self.zeropoint,
            "fringe_amp": self.fringe_amp,
            "trail": "none" if self.trail is None else ",".join(f"{v:.6g}" for v in self.trail),
            "flat_level": self.flat_level,
            "setup": f"{setup.variant}:{setup.binning[0]}x{setup.binning[1]}:{setup.size}",
        }


class _Streams:
    """Independent, reproducible random streams by purpose and index."""

    _PURPOSES = {"detector": 1, "targets": 2, "plan": 3, "frame": 4, "catalog": 5, "psf": 6}

    def __init__(self, seed: int) -> None:
        self.seed = seed

    def get(self, purpose: str, index: int = 0) -> np.random.Generator:
        return np.random.default_rng([self.seed, self._PURPOSES[purpose], index])


def _default_bands(raw_format: RawFormat) -> list[str]:
    wanted = ["J", "K"] if raw_format.wavelength == "NIR" else ["r", "i"]
    return [b for b in wanted if b in raw_format.filters] or list(raw_format.filters)[:2]


def _targets(
    raw_format: RawFormat,
    geometry: Geometry,
    count: int,
    streams: _Streams,
    *,
    density_r22: float,
    r_faint: float,
) -> list[_Target]:
    rng = streams.get("targets")
    ny, nx = geometry.shape
    half_diagonal = 0.5 * np.hypot(nx, ny) * geometry.pixscale / 3600
    latitude = raw_format.site[1]
    fields = []
    for n in range(count):
        ra = float(rng.uniform(0, 360))
        dec = float(np.clip(latitude + rng.uniform(-25, 25), -80, 80))
        radius = half_diagonal + 1.0 / 60
        name = f"SIM{n + 1:02d}_{'FRB' if n % 2 else 'GRB'}"
        stars = make_field(
            streams.get("targets", 100 + n),
            ra,
            dec,
            radius,
            density_r22=density_r22,
            r_faint=r_faint,
        )
        fields.append(_Target(n, name, ra, dec, radius, stars))
    return fields


def _plan(
    raw_format, geometry, setup, fields, bands, frames, rejects, streams, exptime_s=None
) -> list[_Exposure]:
    rng = streams.get("plan")
    nir = raw_format.wavelength == "NIR"
    science_exptime = exptime_s or (30.0 if nir else 120.0)
    flat_exptime = 10.0 if nir else 5.0
    clock = _NIGHT_START - TimeDelta(3 * 3600, format="sec")
    plan: list[_Exposure] = []

    def add(kind, name, band, exptime, **kw):
        nonlocal clock
        meta = FrameMeta(
            kind,
            len(plan) + 1,
            name,
            band,
            exptime,
            clock,
            flat_kind=kw.pop("flat_kind", ""),
            **{
                k: kw.pop(k) for k in ("ra", "dec", "airmass", "position_angle", "extra") if k in kw
            },
        )
        plan.append(_Exposure(meta, **kw))
        clock = clock + TimeDelta(exptime + _OVERHEAD_S, format="sec")

    if "bias" in raw_format.calibrations:
        for _ in range(_CAL_COUNT):
            add("bias", "Bias", "", 0.0)
    if "dark" in raw_format.calibrations:
        for exptime in sorted({science_exptime, flat_exptime}):
            for _ in range(_CAL_COUNT):
                add("dark", "Dark", "", exptime)
    if "flat" in raw_format.calibrations:
        flat_name = {"dome": "DomeFlat", "twilight": "Twilight", "sky": "SkyFlat"}[
            raw_format.flat_kind
        ]
        for band in bands:
            for n in range(_CAL_COUNT):
                add(
                    "flat",
                    flat_name,
                    band,
                    flat_exptime,
                    flat_kind=raw_format.flat_kind,
                    flat_level=float(20000.0 * (1 + 0.1 * n)),
                )
    clock = _NIGHT_START
    dithers = [
        (0, 0),
        (12, 8),
        (-10, 14),
        (8, -12),
        (-14, -9),
        (15, 0),
        (0, -15),
        (-15, 5),
        (5, 15),
    ]
    for target in fields:
        pointing_error = rng.normal(0, 8.0, 2)  # arcsec, the same for a visit
        rotation_error = float(np.clip(rng.normal(0, 0.5), -2, 2))
        for band in bands:
            for n in range(frames):
                dx, dy = dithers[n % len(dithers)]
                ra = target.ra + dx / 3600 / np.cos(np.deg2rad(target.dec))
                dec = target.dec + dy / 3600
                hour_angle = -1.5 + 3.0 * (clock - _NIGHT_START).sec / (8 * 3600)
                airmass = _airmass(raw_format.site[1], dec, hour_angle)
                true_center = (
                    ra + pointing_error[0] / 3600 / np.cos(np.deg2rad(dec)),
                    dec + pointing_error[1] / 3600,
                )
                wcs = true_wcs(
                    geometry,
                    true_center,
                    rotation_error + rng.normal(0, 0.02),
                    1.0 + rng.normal(0, 0.002),
                )
                seeing = float(rng.uniform(0.6, 1.0)) / geometry.pixscale
                zp = raw_format.zeropoint_ab[band] - EXTINCTION.get(band, 0.08) * airmass
                sky = (
                    10 ** (-0.4 * (SKY_AB.get(band, 20.0) - raw_format.zeropoint_ab[band]))
                    * geometry.pixscale**2
                )
                if nir:
                    sky *= float(rng.uniform(0.9, 1.1))
                kind, exptime = "science", science_exptime
                trail = None
                if target.index == 0 and band == bands[-1] and n == frames - 1:
                    ny, nx = geometry.shape
                    trail = (nx * 0.5, ny * 0.4, float(rng.uniform(10, 80)), 3.0, 800.0)
                add(
                    kind,
                    target.name,
                    band,
                    exptime,
                    ra=float(ra),
                    dec=float(dec),
                    airmass=airmass,
                    extra={"target_index": target.index},
                    wcs=wcs,
                    seeing_px=seeing,
                    sky_e_s=float(sky),
                    gradient=(float(rng.uniform(-0.04, 0.04)), float(rng.uniform(-0.04, 0.04))),
                    zeropoint=zp,
                    target=target.index,
                    fringe_amp=0.02 if band in raw_format.fringe_bands else 0.0,
                    trail=trail,
                )
    if rejects:
        target, band = fields[0], bands[0]
        base = plan[-1]
        for kind, exptime in (
            ("spectrum", 600.0),
            ("acquisition", 10.0),
            ("bad", science_exptime),
            ("short", raw_format.min_exptime / 2),
        ):
            name = f"{target.name}_acq" if kind == "acquisition" else target.name
            add(
                kind,
                name,
                band,
                exptime,
                ra=base.meta.ra,
                dec=base.meta.dec,
                airmass=base.meta.airmass,
                extra={"target_index": 0},
                wcs=base.wcs,
                seeing_px=base.seeing_px,
                sky_e_s=base.sky_e_s,
                gradient=base.gradient,
                zeropoint=base.zeropoint,
                target=0,
            )
    return plan


def _assign_psfs(plan, model, raw_format, geometry, streams) -> None:
    """Give every exposure with stars its PSF, and record the truth FWHM it renders.

    The optics' aberrations (a few tens of nm of defocus, astigmatism and coma) are the night's;
    seeing, ellipticity and field variation are each frame's. ``seeing_px`` becomes the mean
    effective FWHM over the field of what is drawn, the figure a measured FWHM is compared to.
    """
    aberrations = tuple(streams.get("psf").normal(0.0, 25.0, 5))
    diameter, obscuration = raw_format.telescope
    by_number = {}
    for exposure in plan:
        if exposure.wcs is None:
            continue
        key = (exposure.seeing_px, exposure.meta.band)
        if key not in by_number:
            params = draw_psf_params(
                streams.get("psf", exposure.meta.number),
                model,
                pixscale=geometry.pixscale,
                seeing_arcsec=exposure.seeing_px * geometry.pixscale,
                band=exposure.meta.band,
                diameter_m=diameter,
                obscuration=obscuration,
                aberrations_nm=aberrations,
            )
            if model == "moffat":  # the Moffat's FWHM is exact: nothing to measure
                centre = ((geometry.shape[1] - 1) / 2.0, (geometry.shape[0] - 1) / 2.0)
                lattice, captured = [(*centre, exposure.seeing_px)], 1.0
            else:
                psf = field_psf(params, geometry.shape)
                lattice, captured = psf.fwhm_lattice(), psf.captured
            mean_fwhm = float(np.mean([f for _, _, f in lattice]))
            by_number[key] = (params, lattice, mean_fwhm, captured)
        params, lattice, mean_fwhm, captured = by_number[key]
        exposure.psf, exposure.psf_lattice, exposure.psf_captured = params, lattice, captured
        exposure.seeing_px = mean_fwhm


def true_wcs(
    geometry: Geometry, center: tuple[float, float], rotation_deg: float, scale: float
) -> WCS:
    """The sky-to-mosaic mapping of one exposure: TAN with a realistic cubic (pincushion) SIP term
    giving ~1.5 pixels at the corners."""
    angle = np.deg2rad(rotation_deg)
    rotation = np.array([[np.cos(angle), -np.sin(angle)], [np.sin(angle), np.cos(angle)]])
    cd = rotation @ geometry.cd_nominal * scale
    crpix = geometry.crpix_or_center
    ny, nx = geometry.shape
    r_corner = 0.5 * np.hypot(nx, ny)
    k = 1.5 / r_corner**3
    header = fits.Header(
        {
            "NAXIS": 2,
            "NAXIS1": nx,
            "NAXIS2": ny,
            "CTYPE1": "RA---TAN-SIP",
            "CTYPE2": "DEC--TAN-SIP",
            "CRVAL1": center[0],
            "CRVAL2": center[1],
            "CRPIX1": crpix[0],
            "CRPIX2": crpix[1],
            "CD1_1": cd[0, 0],
            "CD1_2": cd[0, 1],
            "CD2_1": cd[1, 0],
            "CD2_2": cd[1, 1],
            **radial_sip_cards(k),
        }
    )
    return WCS(header)


def _airmass(latitude: float, dec: float, hour_angle_h: float) -> float:
    lat, d, h = np.deg2rad(latitude), np.deg2rad(dec), np.deg2rad(15 * hour_angle_h)
    sin_alt = np.sin(lat) * np.sin(d) + np.cos(lat) * np.cos(d) * np.cos(h)
    return float(1.0 / max(sin_alt, 0.2))


# -- rendering -----------------------------------------------------------------------------------


def _expose(exposure: _Exposure, raw_format, geometry, detector, fields, fringe, rng):
    meta, shape = exposure.meta, geometry.shape
    electrons = np.zeros(shape)
    cr_mask = None
    if meta.kind == "bias":
        return electrons, None
    if meta.kind == "flat":
        electrons = (
            exposure.flat_level * detector.response
        )  # the lamp/sky lights the detector as the sky does
    elif meta.kind != "dark":
        light = scene_electrons(exposure, geometry, fields[exposure.target].stars, fringe)
        if meta.kind == "spectrum":
            light = np.zeros(shape)
            light[shape[0] // 2 - 3 : shape[0] // 2 + 3, :] = (
                50.0 * meta.exptime
            )  # a dispersed trace
        electrons = light * detector.response
    electrons = rng.poisson(np.clip(electrons + detector.dark_rate * meta.exptime, 0, None)).astype(
        np.float64
    )
    if meta.kind != "bias":
        cr_mask = add_cosmic_rays(rng, electrons, meta.exptime, (2, 2))
    saturated = saturate(electrons, raw_format.full_well, detector)
    electrons[~detector.sensitive] = 0.0
    if cr_mask is not None:  # one truth map per exposure: bit 1 cosmic ray, bit 2 saturated/bled
        cr_mask = cr_mask.astype(np.uint8) | (saturated.astype(np.uint8) << 1)
    return electrons, cr_mask


def scene_electrons(
    exposure: _Exposure,
    geometry: Geometry,
    stars: Table,
    fringe: np.ndarray | None,
    components: tuple[str, ...] = ("sky", "sources", "fringes", "trail"),
) -> np.ndarray:
    """Noise-free electrons from the sky during one exposure (before the detector's response)."""
    meta, shape = exposure.meta, geometry.shape
    image = np.zeros(shape)
    if "sky" in components:
        image += sky_image(shape, exposure.sky_e_s * meta.exptime, exposure.gradient)
    if "sources" in components:
        flux_scale = meta.exptime * 10 ** (0.4 * exposure.zeropoint)
        psf = None
        if exposure.psf is not None and exposure.psf.model != "moffat":
            psf = field_psf(exposure.psf, shape)
        image += render_sources(
            shape,
            exposure.wcs,
            stars,
            meta.band,
            flux_scale,
            exposure.seeing_px,
            geometry.pixscale,
            psf,
        )[0]
    if "fringes" in components and exposure.fringe_amp and fringe is not None:
        image += exposure.fringe_amp * exposure.sky_e_s * meta.exptime * fringe
    if "trail" in components and exposure.trail is not None:
        image += trail_image(shape, *exposure.trail[:4], exposure.trail[4] * meta.exptime / 100.0)
    return image


def expected_image(
    truth_dir: str | Path, raw_filename: str, components: tuple[str, ...] = ("sky", "sources")
) -> np.ndarray:
    """The noise-free electrons of a science frame on the mosaic plane, from the truth tables:
    sky and sources times exposure time, not multiplied by the flat, no dark, no bias. Where an
    exposure is delivered as several files (IMACS chips), the part this file covers."""
    truth_dir = Path(truth_dir)
    frames = Table.read(truth_dir / "frames.ecsv")
    stars = Table.read(truth_dir / "stars.ecsv")
    row = frames[list(frames["file"]).index(raw_filename)]
    shape = tuple(frames.meta["shape"])
    geometry = Geometry(shape=shape, pixscale=frames.meta["pixscale"])
    meta = FrameMeta(
        str(row["kind"]),
        0,
        str(row["target"]),
        str(row["band"]),
        float(row["exptime"]),
        Time(str(row["date_obs"])),
    )
    trail = (
        None
        if str(row["trail"]) in ("none", "", "--")
        else tuple(float(v) for v in str(row["trail"]).split(","))
    )
    exposure = _Exposure(
        meta,
        WCS(fits.Header.fromstring(str(row["wcs"]))),
        float(row["seeing_fwhm_px"]),
        float(row["sky_e_s"]),
        (float(row["sky_grad_x"]), float(row["sky_grad_y"])),
        float(row["zeropoint"]),
        int(row["target_index"]),
        float(row["fringe_amp"]),
        trail,
    )
    if "psf" in row.colnames and str(row["psf"]) not in ("", "--"):
        exposure.psf = PsfParams.from_json(str(row["psf"]))
    fringe = fringe_pattern(shape, frames.meta["fringe_seed"])
    image = scene_electrons(exposure, geometry, stars, fringe, components)
    (y0, y1), (x0, x1) = (
        tuple(int(v) for v in part.split(":")) for part in str(row["region"]).split(",")
    )
    return image[y0:y1, x0:x1]


def _region_text(region: tuple[slice, slice] | None, shape: tuple[int, int]) -> str:
    """The mosaic rows,columns a raw file covers, as 'y0:y1,x0:x1'."""
    rows, cols = region if region is not None else (slice(0, shape[0]), slice(0, shape[1]))
    return f"{rows.start}:{rows.stop},{cols.start}:{cols.stop}"


def _write_map(path: Path, data: np.ndarray) -> None:
    write_atomic(
        fits.HDUList([fits.PrimaryHDU(), fits.CompImageHDU(data)]), path.with_suffix(".fits.fz")
    )

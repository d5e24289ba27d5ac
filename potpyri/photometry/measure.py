"""Aperture and PSF photometry of a stack: detection, ApertureStats, an empirical PSF, PSF fits.

Sources are detected down to ``sn_min`` (:mod:`~potpyri.photometry.detection`), measured in
apertures and flagged (:mod:`~potpyri.photometry.flags`); PSF stars are chosen
(:mod:`~potpyri.photometry.psf_stars`), their ePSF is built (:mod:`~potpyri.photometry.psf`) and
fits every detection (:mod:`~potpyri.photometry.psf_fit`, one source per fit); fluxes are scaled
to total fluxes (:mod:`~potpyri.photometry.total_flux`) and their errors to the measured noise
(:mod:`~potpyri.photometry.errors`).

Tables (photutils 3.x column names kept where they come from photutils):

``APPPHOT``  id, x_centroid, y_centroid, ra, dec, sum, sum_err (e-/s in the aperture of radius
             aper_radius = 1.5 FWHM, local annulus background local_bkg removed), fwhm,
             ellipticity, roundness1/2, sharpness, peak, flags (FLAG_* bits of
             :mod:`~potpyri.photometry.flags`), snr (sum/(sum_err x NOISEAP)),
             flux_aper/flux_aper_err (sum x APCORR: total flux; error x NOISEAP), mag_inst,
             mag_inst_err, nframes (fewest frames combined over > 10% of the PSF fit box, from the
             stack's COVERAGE; 1 without one)
``PSFSTARS`` id, x_centroid, y_centroid, snr, fwhm, roundness1
``PSFPHOT``  id, x_init, y_init, flux_init, x_fit, y_fit, flux_fit, x_err, y_err, flux_err, qfit,
             cfit, flags (photutils' bits), snr (flux_fit/(flux_err x NOISEPSF)), flux (flux_fit x
             PSFCORR: total flux), flux_err_total (flux_err x NOISEPSF with the PSF-model error in
             quadrature, x PSFCORR), mag_inst, mag_inst_err, ra, dec, nframes

``sum_err`` and ``flux_err`` are photutils' errors from the ERR image; NOISEAP/NOISEPSF are the
measured ratios of the real noise of such fluxes to that (local sky and correlated noise
included). The S/N thresholds inside :func:`measure_stack` (PSF stars, calibration stars) use the
unscaled S/N. Total flux is the flux within 4 FWHM divided by the fraction of the light inside that
radius, from the bright stars' curve of growth and its power-law tail
(:mod:`~potpyri.photometry.growth_curve`; the seeing Moffat's when too few stars give one);
``mag_inst`` is -2.5 log10(total flux in e-/s), so
``mag = mag_inst + ZPTMAG``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import Enum

import numpy as np
from astropy.stats import sigma_clipped_stats
from astropy.table import Table
from astropy.wcs import WCS

from potpyri.calibration.masks import BAD
from potpyri.photometry.apertures import aperture_stats
from potpyri.photometry.detection import brightest, detect_sources
from potpyri.photometry.errors import magnitudes, model_error, noise_factors
from potpyri.photometry.flags import flag_sources
from potpyri.photometry.growth_curve import GrowthCurve
from potpyri.photometry.moffat import moffat_flux_outside, pixel_moffat
from potpyri.photometry.psf import (
    box_fraction,
    fwhm_systematic,
    model_psf,
    noise_area,
    star_moffat_fwhm,
)
from potpyri.photometry.psf_check import psf_problem
from potpyri.photometry.psf_fit import fit_size, psf_photometry
from potpyri.photometry.psf_stars import (
    TooFewPSFStars,
    psf_stamp_half,
    psf_star_table,
    select_psf_stars,
)
from potpyri.photometry.total_flux import flux_corrections, robust_ratio, star_growth_curve

__all__ = [
    "BETA",
    "Detections",
    "PhotometryMethod",
    "PhotometryResult",
    "aperture_photometry",
    "detect_and_measure",
    "fit_psf",
    "measure_stack",
    "moffat_epsf",
]

BETA = 3.0  #: Moffat beta of the seeing assumed where no PSF model gives one


class PhotometryMethod(str, Enum):
    """Which photometry a stack's catalog holds (header PHOTMETH)."""

    psf = "PSF"  #: ePSF fits (PSFPHOT) and aperture sums (APPPHOT)
    aperture = "APERTURE"  #: aperture sums alone: no usable PSF (PHOTWHY says why)


@dataclass
class PhotometryResult:
    """Everything :func:`measure_stack` measured on one stack."""

    apphot: Table
    psfstars: Table
    psfphot: Table | None  #: None with ``method`` aperture
    #: the ePSF on its oversampled grid, normalised to unit total flux (None: aperture)
    epsf: np.ndarray | None
    oversampling: int
    residual: np.ndarray | None  #: image minus the PSF fits (None: aperture)
    #: seeing FWHM, pixels: weighted mean of pixel-integrated Moffat fits to the PSF stars
    fwhm: float
    moffat_beta: float  #: beta of the Moffat whose pixel-integrated profile fits the ePSF
    gauss_sigma: tuple[float, float]  #: x/y sigma (pixels) of a Gaussian2D fit to the ePSF
    skysig: float  #: robust per-pixel sky standard deviation, e-/s
    sky: float  #: median residual sky level subtracted, e-/s
    aperture_correction: float  #: total / aperture flux for a point source (PSF stars)
    psf_correction: float  #: total / PSF-fit flux (PSF stars)
    psf_model_error: float  #: fractional PSF-model error added to the PSF flux errors
    epsf_fwhm: float  #: pixels, Moffat2D FWHM of the ePSF itself (pixel response included)
    noise_area: float  #: effective number of noise pixels of the ePSF, 1/sum(p^2)
    psf_threshold: float  #: the S/N threshold at which enough PSF stars were found
    warnings: list[str] = field(default_factory=list)
    fwhm_err: float = float("nan")  #: 1-sigma uncertainty of ``fwhm``, pixels
    #: pixels, model systematic of ``fwhm`` (:func:`~potpyri.photometry.psf.fwhm_systematic`)
    fwhm_sys: float = float("nan")
    #: pixels, FWHM of the pixel-integrated Moffat fit to the ePSF
    epsf_seeing_fwhm: float = float("nan")
    #: empty-sky noise / ERR-predicted noise of PSF fits ("psf"), the small aperture ("aperture")
    #: and the 4-FWHM calibration aperture ("big"); 1 for independent pixels
    noise_factors: dict = field(default_factory=dict)
    method: PhotometryMethod = PhotometryMethod.psf
    fallback_reason: str = ""  #: why the PSF photometry was not used (``method`` aperture)
    #: how the light beyond the 4-FWHM aperture was found: "growth" (curve of growth) or "moffat"
    total_flux_method: str = "moffat"
    #: px, the last radius of the curve of growth used (the 4-FWHM radius for the Moffat)
    growth_radius: float = float("nan")


def measure_stack(
    sci: np.ndarray,
    err: np.ndarray,
    mask: np.ndarray,
    wcs: WCS | None,
    *,
    sn_min: float = 3.0,
    sn_max: float = 20.0,
    fwhm_init: float = 5.0,
    min_psf_stars: int = 25,
    max_psf_stars: int = 150,
    max_sources: int = 20000,
    oversampling: int = 2,
    saturation: float = np.inf,
    psf_sn_floor: float = 10.0,
    coverage: np.ndarray | None = None,
    moffat_base: bool = True,
) -> PhotometryResult:
    """Detect, measure and PSF-fit the sources of a stack.

    When fewer than 3 PSF stars pass the cuts, or the PSF model fails
    :func:`~potpyri.photometry.psf_check.psf_problem`, the result is aperture photometry alone
    (``method="aperture"``, ``fallback_reason`` says why): no PSF table is published.

    Parameters
    ----------
    sci, err : ndarray
        Science image and its 1-sigma uncertainty (same units, e.g. e-/s).
    mask : ndarray
        Non-zero where pixels must not be used.
    wcs : WCS, optional
        Adds ``ra``/``dec`` columns when given.
    sn_min, sn_max : float
        Detection threshold, and the first PSF-star threshold of the loop.
    fwhm_init : float
        Starting FWHM guess (pixels) for detection.
    min_psf_stars, max_psf_stars : int
        The PSF-star threshold falls until this many stars are found; the brightest kept at most.
    max_sources : int
        Brightest detections kept at most.
    oversampling : int
        ePSF grid points per detector pixel.
    saturation : float
        Peak value above the sky (image units) at which a star saturates: stars peaking above 80%
        of it are not used for the PSF.
    psf_sn_floor : float
        The PSF-star loop stops at this S/N (not at ``sn_min``) unless fewer than 3 stars lie above.
    coverage : ndarray, optional
        Frames covering each pixel (the stack's COVERAGE). Sources with more than 10% of their
        fit box below its maximum get FLAG_PARTIAL, so the ePSF, the aperture/PSF corrections
        and the zero point come from stars with the PSF of the full stack.
    moffat_base : bool
        Fit with :func:`~potpyri.photometry.psf.moffat_base_epsf` (the ePSF's pixel-integrated
        Moffat plus its smoothed residual) instead of the raw ``EPSFBuilder`` ePSF.

    Raises
    ------
    ValueError
        When no source is detected.
    """
    det = detect_and_measure(
        sci,
        err,
        mask,
        sn_min=sn_min,
        fwhm_init=fwhm_init,
        max_sources=max_sources,
        coverage=coverage,
        saturation=saturation,
    )
    try:
        chosen, threshold = select_psf_stars(
            det.apphot[det.isolated],
            det.bad,
            det.fwhm,
            psf_stamp_half(det.fwhm),
            sn_min=sn_min,
            sn_max=sn_max,
            psf_sn_floor=psf_sn_floor,
            min_psf_stars=min_psf_stars,
            max_psf_stars=max_psf_stars,
            saturation=saturation,
            notes=det.notes,
        )
    except TooFewPSFStars as exc:
        res = aperture_photometry(det, str(exc), oversampling)
    else:
        res = fit_psf(det, chosen, threshold, oversampling=oversampling, moffat_base=moffat_base)
    if wcs is not None:
        _add_sky_positions(wcs, res.apphot, res.psfphot, res.psfstars)
    if len(res.apphot) < 10:
        res.warnings.append(f"very few sources: {len(res.apphot)}")
    return res


@dataclass
class Detections:
    """The sources of a stack measured in apertures and flagged, before any PSF."""

    data: np.ndarray  #: sky-subtracted image, 0 at bad pixels
    error: np.ndarray  #: 1-sigma uncertainty, inf at bad pixels
    bad: np.ndarray  #: pixels not to use (bool)
    apphot: Table  #: aperture statistics, DAOStarFinder shape columns, flags, nframes
    isolated: np.ndarray  #: no other detection within 4 FWHM (bool per row of ``apphot``)
    fwhm: float  #: detection FWHM, px: median aperture FWHM of bright round sources
    skysig: float  #: robust per-pixel sky standard deviation
    sky: float  #: median residual sky level subtracted
    notes: list[str] = field(default_factory=list)
    #: peak above the sky at which a star saturates (image units): no PSF or FWHM star above 80%
    saturation: float = np.inf


def detect_and_measure(
    sci: np.ndarray,
    err: np.ndarray,
    mask: np.ndarray,
    *,
    sn_min: float = 3.0,
    fwhm_init: float = 5.0,
    max_sources: int = 20000,
    coverage: np.ndarray | None = None,
    saturation: float = np.inf,
) -> Detections:
    """Sources above ``sn_min`` with their aperture statistics and FLAG_* bits (arguments as in
    :func:`measure_stack`). Raises ValueError when no source is detected."""
    notes: list[str] = []
    bad = (mask != 0) | ~np.isfinite(sci) | ~np.isfinite(err) | (err <= 0)
    _, median, std = sigma_clipped_stats(sci, mask=bad, sigma=3.0, maxiters=10)
    data = np.where(bad, 0.0, sci - median).astype(float)
    error = np.where(bad, np.inf, err).astype(float)
    skysig = float(std)

    found, fwhm = detect_sources(data, error, bad, skysig, fwhm_init, sn_min)
    if len(found) > max_sources:
        found = brightest(found, max_sources)
        notes.append(f"{len(found)} brightest of more detections kept (photometry.max_sources)")
    radius = 1.5 * fwhm
    apphot = aperture_stats(data, error, bad, found, radius)
    for col in ("roundness1", "roundness2", "sharpness", "peak"):
        apphot[col] = np.asarray(found[col], float)
    no_data = ((np.asarray(mask).astype(np.int64) & BAD) != 0) | ~np.isfinite(sci)
    no_data |= ~np.isfinite(err) | (err <= 0)
    isolated = flag_sources(
        apphot, bad, radius, fwhm, coverage, fit_size(fwhm) // 2, no_data, error
    )
    return Detections(
        data, error, bad, apphot, isolated, fwhm, skysig, float(median), notes, saturation
    )


def fit_psf(
    det: Detections,
    chosen: Table,
    threshold: float,
    *,
    oversampling: int = 2,
    moffat_base: bool = True,
) -> PhotometryResult:
    """The ePSF of the PSF stars ``chosen`` (found at S/N ``threshold``), PSF fits of every
    detection of ``det``, total fluxes and their errors; aperture photometry alone
    (:func:`aperture_photometry`) when the model fails
    :func:`~potpyri.photometry.psf_check.psf_problem`."""
    data, error, bad, apphot, fwhm = det.data, det.error, det.bad, det.apphot, det.fwhm
    notes = list(det.notes)
    half = psf_stamp_half(fwhm)
    try:
        psf = model_psf(data, error, bad, chosen, 2 * half + 1, oversampling, moffat_base, notes)
        psfphot, residual = psf_photometry(data, error, bad, psf.model, apphot, fwhm)
    except ValueError as exc:  # photutils: e.g. an ePSF of non-finite values
        reason = f"no PSF model from the {len(chosen)} PSF stars ({exc})"
        return aperture_photometry(det, reason, oversampling)
    # Direct fits of the PSF stars, started from the detection FWHM (not from the model).
    direct, _ = star_moffat_fwhm(data, error, bad, _brightest_rows(chosen, 40), fwhm)
    if reason := psf_problem(psf, direct, apphot, psfphot):
        return aperture_photometry(det, reason, oversampling)
    apphot = apphot.copy()
    radius, box = 1.5 * fwhm, fit_size(fwhm)
    big_radius = 4.0 * psf.fwhm
    corr = flux_corrections(
        data, error, bad, apphot, det.isolated, chosen, psfphot, big_radius, psf.fwhm, psf.beta
    )
    sizes = {"psf": box, "aperture": radius, "big": big_radius}
    noise = noise_factors(
        data,
        error,
        bad,
        apphot,
        psf.epsf,
        oversampling,
        psf.fwhm,
        psf.beta,
        det.skysig,
        sizes,
        notes,
    )
    _note_curve(corr.curve, notes)
    _total_aperture_fluxes(apphot, corr.aperture, noise["aperture"])
    # The fit's pixels are inside the big aperture: the two fluxes share that part of the noise.
    overlap = box_fraction(psf.epsf, oversampling, box)
    model_err = model_error(
        corr.big, corr.big_err * noise["big"], corr.fit, corr.fit_err * noise["psf"], overlap
    )
    _total_psf_fluxes(psfphot, corr.psf, noise["psf"], model_err)
    nframes = dict(zip(np.asarray(apphot["id"]), np.asarray(apphot["nframes"]), strict=True))
    psfphot["nframes"] = np.array([nframes[i] for i in np.asarray(psfphot["id"])], np.int16)
    return PhotometryResult(
        apphot=apphot,
        psfstars=psf_star_table(chosen),
        psfphot=psfphot,
        epsf=psf.epsf,
        oversampling=oversampling,
        residual=np.where(bad, 0.0, residual).astype(np.float32),
        fwhm=psf.fwhm,
        moffat_beta=psf.beta,
        gauss_sigma=psf.gauss_sigma,
        skysig=det.skysig,
        sky=det.sky,
        aperture_correction=corr.aperture,
        psf_correction=corr.psf,
        psf_model_error=model_err,
        epsf_fwhm=psf.epsf_fwhm,
        noise_area=psf.noise_area,
        psf_threshold=threshold,
        warnings=notes,
        fwhm_err=psf.fwhm_err,
        fwhm_sys=psf.fwhm_sys,
        epsf_seeing_fwhm=psf.seeing_fwhm,
        noise_factors=noise,
        total_flux_method=corr.curve.method,
        growth_radius=corr.curve.last,
    )


def aperture_photometry(
    det: Detections, reason: str, oversampling: int = 2, stars: Table | None = None
) -> PhotometryResult:
    """Aperture photometry alone, for a stack without a usable PSF (``reason``, one line).

    The seeing FWHM comes from direct Moffat fits of ``stars`` (default: the clean, isolated,
    round, unsaturated detections of S/N >= 10, the 40 brightest), the aperture correction from
    their 4-FWHM/aperture flux ratio and their curve of growth beyond 4 FWHM (a Moffat beta=3
    with too few bright stars), and the noise area
    (limiting magnitudes) from that Moffat. ``psfphot``, ``epsf`` and ``residual`` are None.
    """
    data, error, bad, fwhm = det.data, det.error, det.bad, det.fwhm
    apphot = det.apphot.copy()
    notes = [*det.notes, f"PSF photometry replaced by aperture photometry: {reason}"]
    if stars is None:
        clean = det.isolated & (apphot["flags"] == 0) & (apphot["snr"] >= 10)
        clean &= (np.abs(apphot["roundness1"]) < 0.3) & (np.abs(apphot["roundness2"]) < 0.3)
        clean &= apphot["peak"] < 0.8 * det.saturation
        stars = _brightest_rows(apphot[clean], 40)
    seeing, seeing_err = star_moffat_fwhm(data, error, bad, stars, fwhm)
    if not np.isfinite(seeing):
        seeing, seeing_err = fwhm, float("nan")
        notes.append("no star could be fitted with a Moffat: FWHM from the detections")
        seeing_sys = float("nan")
    else:
        seeing_sys = fwhm_systematic(data, error, bad, stars, seeing, 3.0)
    beta = BETA
    radius, big_radius = 1.5 * fwhm, 4.0 * seeing
    bright = stars[np.asarray(stars["snr"], float) > 20] if len(stars) else stars
    curve = star_growth_curve(data, bad, bright, apphot, seeing, big_radius, beta)
    if len(bright) >= 3:
        big = aperture_stats(data, error, bad, bright, big_radius)["sum"]
        apcorr = robust_ratio(big, bright["sum"]) / curve.inside
        _note_curve(curve, notes)
    else:  # no star bright enough for a curve of growth: the Moffat's light outside the aperture
        apcorr = 1.0 / (1.0 - moffat_flux_outside(radius, seeing, beta))
        notes.append(f"aperture correction from a Moffat beta={beta:g} (no bright star)")
    epsf = moffat_epsf(seeing, beta, oversampling)
    noise = noise_factors(
        data,
        error,
        bad,
        apphot,
        epsf,
        oversampling,
        seeing,
        beta,
        det.skysig,
        {"aperture": radius, "big": big_radius},
        notes,
    )
    _total_aperture_fluxes(apphot, apcorr, noise["aperture"])
    return PhotometryResult(
        apphot=apphot,
        psfstars=psf_star_table(stars),
        psfphot=None,
        epsf=None,
        oversampling=oversampling,
        residual=None,
        fwhm=seeing,
        moffat_beta=beta,
        gauss_sigma=(float("nan"), float("nan")),
        skysig=det.skysig,
        sky=det.sky,
        aperture_correction=apcorr,
        psf_correction=float("nan"),
        psf_model_error=float("nan"),
        epsf_fwhm=float("nan"),
        noise_area=noise_area(epsf, oversampling),
        psf_threshold=float("nan"),
        warnings=notes,
        fwhm_err=seeing_err,
        fwhm_sys=seeing_sys,
        noise_factors=noise,
        method=PhotometryMethod.aperture,
        fallback_reason=reason,
        total_flux_method=curve.method,
        growth_radius=curve.last,
    )


def _note_curve(curve: GrowthCurve, notes: list[str]) -> None:
    """A note when the light beyond the calibration aperture came from the Moffat."""
    if curve.method == "moffat":
        notes.append(f"light beyond {curve.reference:.1f} px from a Moffat: {curve.reason}")


def moffat_epsf(fwhm: float, beta: float, oversampling: int) -> np.ndarray:
    """A pixel-integrated circular Moffat on an oversampled ePSF grid (unit sum): the PSF of
    :func:`aperture_photometry`'s noise area and empty-sky masks."""
    half = psf_stamp_half(fwhm) * oversampling
    offsets = np.arange(-half, half + 1) / oversampling
    u, v = (a.ravel() for a in np.meshgrid(offsets, offsets))
    grid = pixel_moffat(u, v, fwhm, beta).reshape(2 * half + 1, 2 * half + 1)
    return grid / grid.sum()


def _brightest_rows(table: Table, n: int) -> Table:
    """The ``n`` rows of largest ``snr``."""
    return table[np.argsort(-np.asarray(table["snr"], float))[:n]]


def _total_aperture_fluxes(apphot: Table, apcorr: float, noise: float) -> None:
    """snr, flux_aper, flux_aper_err, mag_inst and mag_inst_err of APPPHOT: aperture sums scaled
    to total flux, errors to the empty-sky noise."""
    apphot["snr"] = apphot["snr"] / noise
    apphot["flux_aper"] = apphot["sum"] * apcorr
    apphot["flux_aper_err"] = apphot["sum_err"] * apcorr * noise
    apphot["mag_inst"], apphot["mag_inst_err"] = magnitudes(
        apphot["flux_aper"], apphot["flux_aper_err"]
    )


def _total_psf_fluxes(psfphot: Table, psfcorr: float, noise: float, model_err: float) -> None:
    """flux, flux_err_total, snr, mag_inst and mag_inst_err of PSFPHOT: fit fluxes scaled to total
    flux, errors to the empty-sky noise with the PSF-model error in quadrature."""
    fit_noise = psfphot["flux_err"] * noise
    psfphot["flux"] = psfphot["flux_fit"] * psfcorr
    psfphot["flux_err_total"] = psfcorr * np.hypot(fit_noise, model_err * psfphot["flux_fit"])
    psfphot["snr"] = psfphot["flux_fit"] / np.where(fit_noise > 0, fit_noise, np.inf)
    psfphot["mag_inst"], psfphot["mag_inst_err"] = magnitudes(
        psfphot["flux"], psfphot["flux_err_total"]
    )


def _add_sky_positions(wcs: WCS, apphot: Table, psfphot: Table | None, psfstars: Table) -> None:
    """ra and dec columns (deg) of the three tables, from their pixel positions."""
    for table, (xc, yc) in (
        (apphot, ("x_centroid", "y_centroid")),
        (psfphot, ("x_fit", "y_fit")),
        (psfstars, ("x_centroid", "y_centroid")),
    ):
        if table is None:
            continue
        ra, dec = wcs.all_pix2world(np.asarray(table[xc], float), np.asarray(table[yc], float), 0)
        table["ra"], table["dec"] = ra, dec

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
unscaled S/N. Total flux is the flux within 4 FWHM divided by the fraction of the fitted seeing
Moffat inside that radius; ``mag_inst`` is -2.5 log10(total flux in e-/s), so
``mag = mag_inst + ZPTMAG``.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
from astropy.stats import sigma_clipped_stats
from astropy.table import Table
from astropy.wcs import WCS

from potpyri.photometry.apertures import aperture_stats
from potpyri.photometry.detection import brightest, detect_sources
from potpyri.photometry.errors import magnitudes, model_error, noise_factors
from potpyri.photometry.flags import flag_sources
from potpyri.photometry.psf import box_fraction, model_psf
from potpyri.photometry.psf_fit import fit_size, psf_photometry
from potpyri.photometry.psf_stars import psf_stamp_half, psf_star_table, select_psf_stars
from potpyri.photometry.total_flux import flux_corrections

__all__ = ["PhotometryResult", "measure_stack"]


@dataclass
class PhotometryResult:
    """Everything :func:`measure_stack` measured on one stack."""

    apphot: Table
    psfstars: Table
    psfphot: Table
    epsf: np.ndarray  #: the ePSF on its oversampled grid, normalised to unit total flux
    oversampling: int
    residual: np.ndarray
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
    #: pixels, FWHM of the pixel-integrated Moffat fit to the ePSF
    epsf_seeing_fwhm: float = float("nan")
    #: empty-sky noise / ERR-predicted noise of PSF fits ("psf"), the small aperture ("aperture")
    #: and the 4-FWHM calibration aperture ("big"); 1 for independent pixels
    noise_factors: dict = field(default_factory=dict)


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
        Peak value (image units) above which a star is not used for the PSF.
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
        When no source or too few PSF stars are found (the message says which).
    """
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
    box = fit_size(fwhm)
    apphot = aperture_stats(data, error, bad, found, radius)
    for col in ("roundness1", "roundness2", "sharpness", "peak"):
        apphot[col] = np.asarray(found[col], float)
    isolated = flag_sources(apphot, bad, radius, fwhm, coverage, box // 2)

    half = psf_stamp_half(fwhm)
    chosen, threshold = select_psf_stars(
        apphot[isolated],
        bad,
        fwhm,
        half,
        sn_min=sn_min,
        sn_max=sn_max,
        psf_sn_floor=psf_sn_floor,
        min_psf_stars=min_psf_stars,
        max_psf_stars=max_psf_stars,
        saturation=saturation,
        notes=notes,
    )
    psf = model_psf(data, error, bad, chosen, 2 * half + 1, oversampling, moffat_base, notes)

    big_radius = 4.0 * psf.fwhm
    psfphot, residual = psf_photometry(data, error, bad, psf.model, apphot, fwhm)
    corr = flux_corrections(
        data, error, bad, apphot, isolated, chosen, psfphot, big_radius, psf.fwhm, psf.beta
    )
    sizes = {"psf": box, "aperture": radius, "big": big_radius}
    noise = noise_factors(
        data, error, bad, apphot, psf.epsf, oversampling, psf.fwhm, psf.beta, skysig, sizes, notes
    )
    _total_aperture_fluxes(apphot, corr.aperture, noise["aperture"])
    # The fit's pixels are inside the big aperture: the two fluxes share that part of the noise.
    overlap = box_fraction(psf.epsf, oversampling, box)
    model_err = model_error(
        corr.big, corr.big_err * noise["big"], corr.fit, corr.fit_err * noise["psf"], overlap
    )
    _total_psf_fluxes(psfphot, corr.psf, noise["psf"], model_err)
    nframes = dict(zip(np.asarray(apphot["id"]), np.asarray(apphot["nframes"]), strict=True))
    psfphot["nframes"] = np.array([nframes[i] for i in np.asarray(psfphot["id"])], np.int16)
    psfstars = psf_star_table(chosen)
    if wcs is not None:
        _add_sky_positions(wcs, apphot, psfphot, psfstars)
    if len(apphot) < 10:
        notes.append(f"very few sources: {len(apphot)}")
    return PhotometryResult(
        apphot=apphot,
        psfstars=psfstars,
        psfphot=psfphot,
        epsf=psf.epsf,
        oversampling=oversampling,
        residual=np.where(bad, 0.0, residual).astype(np.float32),
        fwhm=psf.fwhm,
        moffat_beta=psf.beta,
        gauss_sigma=psf.gauss_sigma,
        skysig=skysig,
        sky=float(median),
        aperture_correction=corr.aperture,
        psf_correction=corr.psf,
        psf_model_error=model_err,
        epsf_fwhm=psf.epsf_fwhm,
        noise_area=psf.noise_area,
        psf_threshold=threshold,
        warnings=notes,
        fwhm_err=psf.fwhm_err,
        epsf_seeing_fwhm=psf.seeing_fwhm,
        noise_factors=noise,
    )


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


def _add_sky_positions(wcs: WCS, apphot: Table, psfphot: Table, psfstars: Table) -> None:
    """ra and dec columns (deg) of the three tables, from their pixel positions."""
    for table, (xc, yc) in (
        (apphot, ("x_centroid", "y_centroid")),
        (psfphot, ("x_fit", "y_fit")),
        (psfstars, ("x_centroid", "y_centroid")),
    ):
        ra, dec = wcs.all_pix2world(np.asarray(table[xc], float), np.asarray(table[yc], float), 0)
        table["ra"], table["dec"] = ra, dec

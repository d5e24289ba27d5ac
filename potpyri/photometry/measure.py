"""Aperture and PSF photometry of a stack: detection, ApertureStats, an empirical PSF, PSF fits.

The reference's photometry loop: sources are detected down to ``sn_min``; PSF stars are sought
first among the brightest (S/N ≥ ``sn_max``) and the threshold is halved until enough round,
isolated, unsaturated stars of the typical FWHM are found (never below ``sn_min``). The ePSF
(photutils ``EPSFBuilder``) then fits every detection (``PSFPhotometry``, one source per fit, so
the cost grows linearly with the number of sources).

Tables (photutils 3.x column names kept where they come from photutils):

``APPPHOT``  id, x_centroid, y_centroid, ra, dec, sum, sum_err (e-/s in the aperture of radius
             aper_radius = 1.5 FWHM, local annulus background local_bkg removed), fwhm,
             ellipticity, roundness1/2, sharpness, peak, flags (FLAG_* bits below), snr
             (sum/(sum_err x NOISEAP)), flux_aper/flux_aper_err (sum x APCORR: total flux; error
             x NOISEAP), mag_inst, mag_inst_err, nframes (fewest frames combined over > 10% of the
             PSF fit box, from the stack's COVERAGE; 1 without one)
``PSFSTARS`` id, x_centroid, y_centroid, snr, fwhm, roundness1
``PSFPHOT``  id, x_init, y_init, flux_init, x_fit, y_fit, flux_fit, x_err, y_err, flux_err, qfit,
             cfit, flags (photutils' bits), snr (flux_fit/(flux_err x NOISEPSF)), flux (flux_fit x
             PSFCORR: total flux), flux_err_total (flux_err x NOISEPSF with the PSF-model error in
             quadrature, x PSFCORR), mag_inst, mag_inst_err, ra, dec, nframes
``sum_err`` and ``flux_err`` are photutils' errors from the ERR image, which assume independent
pixels and an exact sky; NOISEAP/NOISEPSF are the measured ratios of the real noise of such fluxes
to that (:mod:`potpyri.photometry.empty_sky`): both fits and apertures subtract the local sky (annulus mode),
whose noise they include (PSF fits 1.09-1.17 on single frames, aperture 1.28-1.49), as well as the
correlated noise of resampled stacks (PSF fits 1.25 on 5 resampled GMOS-N frames; without the
local sky 1.00 on single frames, 1.15 resampled). The S/N thresholds inside :func:`measure_stack`
(PSF stars, calibration stars) use the unscaled S/N.
Total flux is the flux within 4 FWHM divided by the fraction of the fitted seeing Moffat that falls
inside that radius (99.7% for beta=3: the 0.3% beyond it would bias every magnitude by +0.0035);
``mag_inst`` is -2.5 log10(total flux in e-/s), so ``mag = mag_inst + ZPTMAG``.
"""

from __future__ import annotations

import logging
import warnings
from dataclasses import dataclass, field

import numpy as np
from astropy.modeling import fitting, models
from astropy.stats import sigma_clip, sigma_clipped_stats
from astropy.table import Table
from astropy.utils.exceptions import AstropyUserWarning
from astropy.wcs import WCS

__all__ = [
    "PhotometryResult",
    "build_epsf",
    "measure_stack",
    "moffat_base_epsf",
    "moffat_flux_outside",
    "noise_area",
    "psf_shape_stats",
    "seeing_moffat",
    "star_moffat_fwhm",
]

log = logging.getLogger("potpyri.photometry")

#: Photometry flags (bit values) in the APPPHOT ``flags`` column.
FLAG_MASKED = 1  #: a masked pixel (bad, cosmic ray, saturated) inside the aperture
FLAG_EDGE = 2  #: the aperture crosses the image edge
#: detections within the isolation radius (4 FWHM) put more than MAX_NEIGHBOUR_LIGHT of the
#: source's aperture flux into its aperture (PSF stars and the flux-correction stars must have no
#: detection at all there)
FLAG_NEIGHBOUR = 4
FLAG_FLATTOP = 8  #: peak/flux well below that of other bright stars: a saturated, flattened core
#: fewer frames cover the fit box than the deepest part of the stack: another PSF (a combination of
#: other seeings) than the ePSF, whose PSF magnitude may err by several per cent
FLAG_PARTIAL = 16
#: A neighbour adding less than this to a source's aperture (0.005 mag) leaves it usable for
#: calibration: at |b| < 10 deg nearly every star has a faint detection within 4 FWHM (70% of the
#: S/N > 20 stars of a simulated MMIRS K field at 80 stars/arcmin² brighter than r = 22).
MAX_NEIGHBOUR_LIGHT = 0.005


@dataclass
class PhotometryResult:
    """Everything :func:`measure_stack` measured on one stack."""

    apphot: Table
    psfstars: Table
    psfphot: Table
    epsf: np.ndarray  #: the ePSF on its oversampled grid, normalised to unit total flux
    oversampling: int
    residual: np.ndarray
    fwhm: float  #: seeing FWHM, pixels: weighted mean of pixel-integrated Moffat fits to the PSF stars
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
    epsf_seeing_fwhm: float = float(
        "nan"
    )  #: pixels, FWHM of the pixel-integrated Moffat fit to the ePSF
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
    saturation : float
        Peak value (image units) above which a star is not used for the PSF.
    psf_sn_floor : float
        The PSF-star loop stops at this S/N (not at ``sn_min``) unless fewer than 3 stars lie above.
    coverage : ndarray, optional
        Frames covering each pixel (the stack's COVERAGE). Sources with more than 10% of their
        fit box below its maximum get FLAG_PARTIAL, so the ePSF, the aperture/PSF corrections
        and the zero point come from stars with the PSF of the full stack.
    moffat_base : bool
        Fit with :func:`moffat_base_epsf` (the ePSF's pixel-integrated Moffat plus its smoothed
        residual) instead of the raw ``EPSFBuilder`` ePSF.

    Raises
    ------
    ValueError
        When no source or too few PSF stars are found (the message says which).
    """
    from photutils.detection import DAOStarFinder

    from potpyri.photometry.detection import matched_filter_peaks

    notes: list[str] = []
    bad = (mask != 0) | ~np.isfinite(sci) | ~np.isfinite(err) | (err <= 0)
    mean, median, std = sigma_clipped_stats(sci, mask=bad, sigma=3.0, maxiters=10)
    data = np.where(bad, 0.0, sci - median).astype(float)
    error = np.where(bad, np.inf, err).astype(float)
    skysig = float(std)

    # Detection twice: with the initial FWHM guess, then with the FWHM the bright sources show.
    fwhm = float(fwhm_init)
    for _ in range(2):
        # A detection is a peak of matched-filter (PSF-weighted) S/N >= sn_min, the S/N the
        # limiting magnitudes describe (potpyri.photometry.detection); DAOStarFinder only measures the
        # peaks (centroid, sharpness, roundness: columns, and PSF-star cuts). Its shape cuts
        # are not applied: near the limit noise scatters faint stars' sharpness out of
        # (0.2, 1.0), which lost 0.2 mag of depth on a GMOS stack; artefacts are masked.
        peaks = matched_filter_peaks(data, bad, fwhm, sn_min, skysig)
        finder = DAOStarFinder(
            threshold=sn_min * skysig,
            fwhm=fwhm,
            exclude_border=True,
            roundness_range=None,
            sharpness_range=None,
            xycoords=peaks if len(peaks) else None,
        )
        found = finder(data, mask=bad) if len(peaks) else None
        if found is None or len(found) == 0:
            raise ValueError(f"no source above {sn_min}-sigma (sky sigma {skysig:.4g})")
        apstats = _aperture_stats(data, error, bad, found, 1.5 * fwhm)
        bright = (apstats["snr"] > max(20.0, sn_min)) & (np.abs(found["roundness1"]) < 0.3)
        bright &= np.isfinite(apstats["fwhm"])
        if bright.sum() < 3:
            break
        new = float(np.median(apstats["fwhm"][bright]))
        if abs(new - fwhm) < 0.1 * fwhm:
            fwhm = new
            break
        fwhm = new
    if len(found) > max_sources:
        keep = np.argsort(-np.asarray(found["flux"]))[:max_sources]
        found = found[np.sort(keep)]
        notes.append(f"{len(found)} brightest of more detections kept (photometry.max_sources)")
    radius = 1.5 * fwhm
    apphot = _aperture_stats(data, error, bad, found, radius)
    for col in ("roundness1", "roundness2", "sharpness", "peak"):
        apphot[col] = np.asarray(found[col], float)
    apphot["flags"], isolated = _flags(apphot, bad, radius, isolation=4.0 * fwhm, fwhm=fwhm)
    apphot["flags"] |= _flat_tops(apphot)
    apphot["nframes"] = _fewest_frames(coverage, apphot, _fit_size(fwhm) // 2)
    if coverage is not None:
        apphot["flags"][apphot["nframes"] < coverage.max()] |= FLAG_PARTIAL

    # The reference's loop: the PSF-star threshold falls from sn_max by halves down to sn_min.
    half = int(np.ceil(3 * fwhm)) | 1
    size = 2 * half + 1
    # It stops at psf_sn_floor while that leaves >= 3 stars: below S/N ~10 a star's stamp flux and
    # centre are noise-dominated, and the ePSF (a per-pixel median over few stars, split into
    # oversampling**2 phases) comes out too sharp (one S/N 5.5 star among 10 made the MOSFIRE J
    # ePSF 11% narrower than the truth).
    floor = max(sn_min, min(psf_sn_floor, sn_max))
    threshold = float(sn_max)
    while True:
        candidates = _psf_candidates(apphot[isolated], threshold, fwhm, saturation, half, bad)
        if len(candidates) >= min_psf_stars or threshold <= floor:
            break
        threshold = max(floor, threshold / 2)
    while len(candidates) < 3 and threshold > sn_min:
        threshold = max(sn_min, threshold / 2)
        candidates = _psf_candidates(apphot[isolated], threshold, fwhm, saturation, half, bad)
        if len(candidates) >= 3:
            notes.append(
                f"PSF stars down to S/N {threshold:g} (fewer than 3 above {floor:g}): the ePSF "
                "and FWHM may be biased (too sharp)"
            )
    chosen = candidates
    if len(chosen) < 3:
        raise ValueError(f"only {len(chosen)} PSF star(s) pass the cuts down to S/N {threshold:g}")
    if len(chosen) < min_psf_stars:
        notes.append(f"only {len(chosen)} PSF stars (wanted {min_psf_stars})")
    if len(chosen) > max_psf_stars:
        chosen = chosen[np.argsort(-chosen["snr"])[:max_psf_stars]]
    epsf_model = build_epsf(data, bad, chosen, size, oversampling)
    epsf = np.asarray(epsf_model.data, float)
    psfstars = Table(
        {
            "id": chosen["id"],
            "x_centroid": chosen["x_centroid"],
            "y_centroid": chosen["y_centroid"],
            "snr": chosen["snr"],
            "fwhm": chosen["fwhm"],
            "roundness1": chosen["roundness1"],
        }
    )

    fwhm_eff, beta_eff, gsig = psf_shape_stats(epsf, oversampling)
    if moffat_base:
        from photutils.psf import ImagePSF

        epsf = moffat_base_epsf(epsf, oversampling, fwhm_eff, beta_eff)
        epsf_model = ImagePSF(epsf, oversampling=oversampling)
    epsf_seeing, beta = seeing_moffat(epsf, oversampling, fwhm_eff, beta_eff)
    # The header's seeing comes from the PSF stars themselves, weighted by their precision: the
    # ePSF is an unweighted median, so a handful of S/N ~10 stars (small fields) move its FWHM by
    # 2-3%, while the weighted star fits agree with the truth within 1% (see star_moffat_fwhm).
    fwhm_fit, fwhm_err = star_moffat_fwhm(data, error, bad, chosen, epsf_seeing, beta)
    if not np.isfinite(fwhm_fit):
        fwhm_fit = epsf_seeing
        notes.append("no PSF star could be fitted with a Moffat: FWHM from the ePSF")
    ratio = max(gsig) / max(min(gsig), 1e-6)
    if not (np.isfinite(ratio) and ratio < 1.3) or min(gsig) <= 0:
        notes.append(f"PSF x/y Gaussian sigma differ: {gsig[0]:.2f}, {gsig[1]:.2f} px")
    area = noise_area(epsf, oversampling)

    # Total flux = flux within big_radius (4 FWHM, > 99.5% of a Moffat beta=3 star), measured on
    # the PSF stars: it calibrates both the small aperture and the PSF fit, without trusting the
    # noisy far wings of the ePSF.
    big_radius = 4.0 * fwhm_fit
    psfphot, residual = _psf_photometry(data, error, bad, epsf_model, apphot, fwhm)
    # Calibrated on every clean, isolated star with S/N > 50 (the PSF stars if fewer than 10).
    bright = apphot[isolated & (apphot["flags"] == 0) & (apphot["snr"] > 50)]
    if len(bright) < 10:
        bright = chosen
    big_stats = _aperture_stats(data, error, bad, bright, big_radius)
    big = np.asarray(big_stats["sum"])
    small = np.asarray(bright["sum"], float)
    fitted = dict(
        zip(np.asarray(psfphot["id"]), np.asarray(psfphot["flux_fit"], float), strict=True)
    )
    fit = np.array([fitted.get(i, np.nan) for i in bright["id"]])
    # The wings beyond big_radius, from the seeing Moffat fitted to the ePSF (its beta).
    inside = 1.0 - moffat_flux_outside(big_radius, fwhm_fit, beta)
    apcorr = _robust_ratio(big, small) / inside
    psfcorr = _robust_ratio(big, fit) / inside
    # Errors predicted from ERR assume independent pixels; the empty-sky sums of each kind of
    # measurement say by how much they really scatter (correlated noise of resampled stacks).
    # The selections above (S/N thresholds) used the per-pixel ERR alone.
    noise = _noise_factors(
        data,
        error,
        bad,
        apphot,
        epsf,
        oversampling,
        fwhm,
        fwhm_fit,
        beta,
        skysig,
        {"psf": _fit_size(fwhm), "aperture": radius, "big": big_radius},
        notes,
    )
    apphot["snr"] = apphot["snr"] / noise["aperture"]
    apphot["flux_aper"] = apphot["sum"] * apcorr
    apphot["flux_aper_err"] = apphot["sum_err"] * apcorr * noise["aperture"]
    apphot["mag_inst"], apphot["mag_inst_err"] = _mags(apphot["flux_aper"], apphot["flux_aper_err"])
    # PSF-model error: the star-to-star scatter of big-aperture/PSF flux beyond the noise, added in
    # quadrature to every star's fit error (it dominates above S/N ~ 30 when the PSF is
    # undersampled).
    fit_err = np.array(
        [
            dict(
                zip(np.asarray(psfphot["id"]), np.asarray(psfphot["flux_err"], float), strict=True)
            ).get(i, np.nan)
            for i in bright["id"]
        ]
    )
    # The fit's pixels are inside the big aperture: the two fluxes share that part of the noise.
    overlap = _box_fraction(epsf, oversampling, _fit_size(fwhm))
    model_err = _model_error(
        big, np.asarray(big_stats["sum_err"]) * noise["big"], fit, fit_err * noise["psf"], overlap
    )
    fit_noise = psfphot["flux_err"] * noise["psf"]
    psfphot["flux"] = psfphot["flux_fit"] * psfcorr
    psfphot["flux_err_total"] = psfcorr * np.hypot(fit_noise, model_err * psfphot["flux_fit"])
    psfphot["snr"] = psfphot["flux_fit"] / np.where(fit_noise > 0, fit_noise, np.inf)
    psfphot["mag_inst"], psfphot["mag_inst_err"] = _mags(psfphot["flux"], psfphot["flux_err_total"])
    nframes = dict(zip(np.asarray(apphot["id"]), np.asarray(apphot["nframes"]), strict=True))
    psfphot["nframes"] = np.array([nframes[i] for i in np.asarray(psfphot["id"])], np.int16)
    if wcs is not None:
        for table, (xc, yc) in (
            (apphot, ("x_centroid", "y_centroid")),
            (psfphot, ("x_fit", "y_fit")),
            (psfstars, ("x_centroid", "y_centroid")),
        ):
            ra, dec = wcs.all_pix2world(
                np.asarray(table[xc], float), np.asarray(table[yc], float), 0
            )
            table["ra"], table["dec"] = ra, dec
    if len(apphot) < 10:
        notes.append(f"very few sources: {len(apphot)}")
    return PhotometryResult(
        apphot,
        psfstars,
        psfphot,
        epsf,
        oversampling,
        np.where(bad, 0.0, residual).astype(np.float32),
        fwhm_fit,
        beta,
        gsig,
        skysig,
        float(median),
        apcorr,
        psfcorr,
        model_err,
        fwhm_eff,
        area,
        threshold,
        notes,
        fwhm_err=fwhm_err,
        epsf_seeing_fwhm=epsf_seeing,
        noise_factors=noise,
    )


def moffat_flux_outside(radius: float, fwhm: float, beta: float) -> float:
    """Fraction of a circular Moffat's flux beyond ``radius`` (same units as ``fwhm``).

    ``beta`` is kept within [2, 10]: a fit outside that range says more about the noise in the
    ePSF's wings than about the seeing, and beta <= 1 has no finite total flux at all.
    """
    beta = float(np.clip(beta, 2.0, 10.0)) if np.isfinite(beta) else 3.0
    return float((1 + radius**2 / _moffat_alpha2(fwhm, beta)) ** (1 - beta))


def _moffat_alpha2(fwhm: float, beta: float) -> float:
    """The squared core width alpha² of a Moffat (1 + r²/alpha²)^-beta of this FWHM."""
    return (fwhm / (2 * np.sqrt(2 ** (1 / beta) - 1))) ** 2


#: 5x5 Gauss-Legendre offsets (pixels) and weights over one pixel: the pixel integral of a Moffat
#: is exact to < 1e-4 for FWHM >= 1.5 px.
_NODES, _WEIGHTS = np.polynomial.legendre.leggauss(5)
_DU, _DV = (a.ravel() / 2 for a in np.meshgrid(_NODES, _NODES))
_PIXEL_WEIGHTS = np.outer(_WEIGHTS, _WEIGHTS).ravel() / 4


def _pixel_moffat(dx: np.ndarray, dy: np.ndarray, fwhm: float, beta: float) -> np.ndarray:
    """(1 + r²/alpha²)^-beta averaged over the pixels centred ``dx``, ``dy`` from the peak (peak 1)."""
    alpha2 = _moffat_alpha2(fwhm, beta)
    x = np.asarray(dx)[:, None] + _DU[None, :]
    y = np.asarray(dy)[:, None] + _DV[None, :]
    return ((1 + (x * x + y * y) / alpha2) ** -beta) @ _PIXEL_WEIGHTS


def build_epsf(
    data: np.ndarray,
    bad: np.ndarray,
    stars: Table,
    size: int,
    oversampling: int,
    smoothing: str | None = None,
):
    """The photutils ``EPSFBuilder`` ePSF of ``stars`` (columns x_centroid, y_centroid)."""
    from astropy.nddata import NDData
    from photutils.psf import EPSFBuilder, extract_stars

    nddata = NDData(data)  # candidates have no masked pixel in their stamp
    cutouts = extract_stars(
        nddata, Table({"x": stars["x_centroid"], "y": stars["y_centroid"]}), size=(size, size)
    )
    builder = EPSFBuilder(
        oversampling=oversampling, maxiters=8, progress_bar=False, smoothing_kernel=smoothing
    )
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", AstropyUserWarning)
        result = builder(cutouts)
    epsf = result.epsf if hasattr(result, "epsf") else result[0]
    return epsf


def psf_shape_stats(
    epsf: np.ndarray, oversampling: int
) -> tuple[float, float, tuple[float, float]]:
    """FWHM (pixels) and beta of a Moffat2D fit, and x/y sigma of a Gaussian2D fit, of the ePSF."""
    ny, nx = epsf.shape
    y, x = np.mgrid[:ny, :nx]
    fitter = fitting.LevMarLSQFitter()
    peak = float(epsf.max())
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        moffat = fitter(
            models.Moffat2D(peak, (nx - 1) / 2, (ny - 1) / 2, gamma=2.0 * oversampling, alpha=3.0),
            x,
            y,
            epsf,
        )
        gauss = fitter(
            models.Gaussian2D(peak, (nx - 1) / 2, (ny - 1) / 2, oversampling, oversampling),
            x,
            y,
            epsf,
        )
    fwhm = float(abs(moffat.fwhm)) / oversampling
    return (
        fwhm,
        float(moffat.alpha.value),
        (
            float(abs(gauss.x_stddev.value)) / oversampling,
            float(abs(gauss.y_stddev.value)) / oversampling,
        ),
    )


def seeing_moffat(
    epsf: np.ndarray, oversampling: int, fwhm0: float = 3.0, beta0: float = 3.0
) -> tuple[float, float]:
    """FWHM (pixels) and beta of the seeing: the circular Moffat that, integrated over one detector
    pixel, best fits the ePSF.

    The ePSF is the seeing convolved with the pixel (photutils samples stars' pixel values on an
    oversampled grid). Removing a 1-pixel box in quadrature from a Moffat2D fit of the ePSF leaves
    the FWHM too large by 1.6% at 2.4 px and 2.4% at 2 px (Moffat beta=3); fitting the
    pixel-integrated model instead is exact for a Moffat seeing (0.3% at 2 px, 0.04% at 6 px).

    Parameters
    ----------
    epsf : ndarray
        The ePSF on its oversampled grid, centred on the array centre.
    oversampling : int
        Grid points per detector pixel.
    fwhm0, beta0 : float
        Starting values (pixels; e.g. the Moffat2D fit of the ePSF itself).
    """
    fit = _fit_pixel_moffat(epsf, oversampling, fwhm0, beta0)
    return float(fit[3]), float(fit[4])


def moffat_base_epsf(
    epsf: np.ndarray, oversampling: int, fwhm0: float = 3.0, beta0: float = 3.0
) -> np.ndarray:
    """The ePSF as its best-fitting pixel-integrated Moffat plus the rest of it smoothed (the
    DAOPHOT idea: an analytic core and a look-up table of residuals), same grid and sum.

    ``EPSFBuilder`` takes a per-node median of the stars' samples. When the PSF is barely sampled
    that raw ePSF is noisy and biased node to node, and each star inherits the error at its own
    pixel phase. On one LRIS-blue frame (FWHM 2.4 px, 112 PSF stars), PSF magnitudes of S/N
    200-500 stars scattered by 0.013 mag about the truth, against 0.004 with the true PSF, and
    the pulls at S/N 50-200 were 1.24. Smoothing the whole ePSF (photutils' kernels) removes the
    noise but flattens the core: magnitudes then drift with flux (-0.016 mag at S/N > 50 on a
    GMOS-N stack). Smoothing only the residual from the Moffat keeps the core and any smooth
    departure from it (the quadratic kernel preserves second-order structure such as
    ellipticity over 5 grid nodes): scatter 0.0043 and pulls 1.08 on the same frame.
    """
    from scipy.ndimage import convolve

    epsf = np.asarray(epsf, float)
    model = _pixel_moffat_grid(
        epsf.shape, oversampling, _fit_pixel_moffat(epsf, oversampling, fwhm0, beta0)
    )
    smooth = model + convolve(epsf - model, _QUADRATIC_KERNEL, mode="nearest")
    return smooth * (epsf.sum() / smooth.sum())


def _quadratic_kernel(size: int = 5) -> np.ndarray:
    """Savitzky-Golay kernel: the centre value of the least-squares quadratic surface through a
    ``size`` x ``size`` patch (photutils' 'quadratic' ePSF smoothing kernel)."""
    c = np.arange(size) - size // 2
    x, y = (a.ravel() for a in np.meshgrid(c, c))
    design = np.column_stack([np.ones_like(x), x, y, x * x, x * y, y * y]).astype(float)
    hat = design @ np.linalg.solve(design.T @ design, design.T)
    return hat[:, size * size // 2].reshape(size, size)


_QUADRATIC_KERNEL = _quadratic_kernel()


def _grid_offsets(shape: tuple[int, int], oversampling: int) -> tuple[np.ndarray, np.ndarray]:
    """Detector-pixel offsets of an oversampled grid's nodes from its centre (flattened u, v)."""
    ny, nx = shape
    v, u = np.mgrid[:ny, :nx]
    return ((u - (nx - 1) / 2) / oversampling).ravel(), ((v - (ny - 1) / 2) / oversampling).ravel()


def _pixel_moffat_grid(shape: tuple[int, int], oversampling: int, params: np.ndarray) -> np.ndarray:
    """The pixel-integrated Moffat ``params`` (amplitude, x0, y0, fwhm, beta) on an ePSF grid."""
    amplitude, x0, y0, fwhm, beta = params
    u, v = _grid_offsets(shape, oversampling)
    return (amplitude * _pixel_moffat(u - x0, v - y0, fwhm, beta)).reshape(shape)


def _fit_pixel_moffat(
    epsf: np.ndarray, oversampling: int, fwhm0: float, beta0: float
) -> np.ndarray:
    """Least-squares (amplitude, x0, y0, fwhm, beta) of a pixel-integrated Moffat to an ePSF grid."""
    from scipy.optimize import least_squares

    u, v = _grid_offsets(epsf.shape, oversampling)
    z = np.asarray(epsf, float).ravel()

    def residual(p: np.ndarray) -> np.ndarray:
        amplitude, x0, y0, fwhm, beta = p
        return amplitude * _pixel_moffat(u - x0, v - y0, fwhm, beta) - z

    peak = float(z.max())
    start = [peak, 0.0, 0.0, float(np.clip(fwhm0, 0.5, 40)), float(np.clip(beta0, 1.2, 15))]
    fit = least_squares(
        residual,
        start,
        bounds=([0, -2, -2, 0.3, 1.05], [np.inf, 2, 2, 50, 20]),
        x_scale=[peak, 0.1, 0.1, 0.1, 0.1],
    )
    return fit.x


def star_moffat_fwhm(
    data: np.ndarray,
    error: np.ndarray,
    bad: np.ndarray,
    stars: Table,
    fwhm0: float,
    beta0: float = 3.0,
) -> tuple[float, float]:
    """Seeing FWHM (pixels) and its error from pixel-integrated Moffat fits to each star.

    Each star (columns x_centroid, y_centroid) is fitted within 2 ``fwhm0`` of its centre with a
    circular Moffat integrated over the pixels (free flux, centre, FWHM and beta; no background:
    the image is sky-subtracted), weighted by ``error``. The result is the inverse-variance
    weighted mean of the FWHMs after 3-sigma outliers (blends, residual cosmic rays) are removed,
    so the brightest stars dominate, as they should. NaN if no star could be fitted.
    """
    from scipy.optimize import least_squares

    ny, nx = data.shape
    radius = 2.0 * fwhm0
    h = int(np.ceil(radius))
    values, sigmas = [], []
    for x, y in zip(
        np.asarray(stars["x_centroid"], float), np.asarray(stars["y_centroid"], float), strict=True
    ):
        yy, xx = np.mgrid[
            int(round(y)) - h : int(round(y)) + h + 1, int(round(x)) - h : int(round(x)) + h + 1
        ]
        use = (
            ((xx - x) ** 2 + (yy - y) ** 2 <= radius**2)
            & (xx >= 0)
            & (yy >= 0)
            & (xx < nx)
            & (yy < ny)
        )
        xs, ys = xx[use], yy[use]
        use = ~bad[ys, xs] & np.isfinite(error[ys, xs]) & (error[ys, xs] > 0)
        xs, ys = xs[use], ys[use]
        z, e = data[ys, xs], error[ys, xs]
        if len(z) < 10 or z.sum() <= 0:
            continue

        def residual(p, xs=xs, ys=ys, z=z, e=e):
            flux, x0, y0, fwhm, beta = p
            norm = (beta - 1) / (np.pi * _moffat_alpha2(fwhm, beta))  # unit total flux
            return (flux * norm * _pixel_moffat(xs - x0, ys - y0, fwhm, beta) - z) / e

        start = [float(z.sum()), x, y, fwhm0, float(np.clip(beta0, 1.5, 10))]
        lower = [0, x - 2, y - 2, 0.3, 1.2]
        upper = [np.inf, x + 2, y + 2, 4 * fwhm0, 15]
        try:
            fit = least_squares(
                residual, start, bounds=(lower, upper), x_scale=[start[0], 0.1, 0.1, 0.1, 0.1]
            )
            chi2 = 2 * fit.cost / max(len(z) - 5, 1)
            sigma = float(np.sqrt(np.linalg.inv(fit.jac.T @ fit.jac)[3, 3] * max(chi2, 1.0)))
        except (ValueError, np.linalg.LinAlgError):
            continue
        at_bound = np.isclose(fit.x[3], [lower[3], upper[3]]).any()
        if fit.success and np.isfinite(sigma) and sigma > 0 and not at_bound:
            values.append(fit.x[3])
            sigmas.append(sigma)
    if not values:
        return float("nan"), float("nan")
    values, sigmas = np.array(values), np.array(sigmas)
    keep = np.ones(len(values), bool)
    for _ in range(5):  # clip pulls > 3 from the weighted mean
        wts = 1 / sigmas[keep] ** 2
        mean = float(np.sum(wts * values[keep]) / wts.sum())
        new = np.abs(values - mean) / sigmas <= 3
        if new.sum() == 0 or (new == keep).all():
            break
        keep = new
    wts = 1 / sigmas[keep] ** 2
    return float(np.sum(wts * values[keep]) / wts.sum()), float(1 / np.sqrt(wts.sum()))


def noise_area(epsf: np.ndarray, oversampling: int) -> float:
    """Effective noise area 1/Σp² (pixels) of the ePSF sampled on the detector's pixels."""
    native = _native_psf(epsf, oversampling)
    return float(1.0 / np.sum(native**2))


def _native_psf(epsf: np.ndarray, oversampling: int) -> np.ndarray:
    """The ePSF binned onto detector pixels (centred sampling), normalised to unit sum."""
    o = oversampling
    ny, nx = (s // o * o for s in epsf.shape)
    offset_y, offset_x = (epsf.shape[0] - ny) // 2, (epsf.shape[1] - nx) // 2
    core = epsf[offset_y : offset_y + ny, offset_x : offset_x + nx]
    native = core.reshape(ny // o, o, nx // o, o).sum(axis=(1, 3))
    return native / native.sum()


def _aperture_stats(data, error, bad, found, radius, local: bool = True) -> Table:
    from photutils.aperture import ApertureStats, CircularAnnulus, CircularAperture

    xy = np.transpose(
        [np.asarray(found["x_centroid"], float), np.asarray(found["y_centroid"], float)]
    )
    # Local sky: the SExtractor mode (2.5 median - 1.5 mean of the 3-sigma clipped annulus, the
    # clipped median where the annulus is too skewed). The plain median sits ~0.06 sigma above
    # the sky when neighbours' wings fill a few per cent of the annulus: on a field of 8 stars
    # per arcmin^2 (r < 22) the 4-FWHM fluxes lost 0.8% (0.3% with the mode).
    from astropy.stats import SigmaClip

    annulus = ApertureStats(
        data,
        CircularAnnulus(xy, 2.5 * radius, 3.5 * radius),
        mask=bad,
        sigma_clip=SigmaClip(sigma=3.0, maxiters=10),
        sum_method="center",
    )
    med, mean, std = (np.asarray(getattr(annulus, k), float) for k in ("median", "mean", "std"))
    with np.errstate(divide="ignore", invalid="ignore"):
        mode = np.where((mean - med) / std < 0.3, 2.5 * med - 1.5 * mean, med)
    local_bkg = np.nan_to_num(mode) if local else np.zeros(len(xy))
    stats = ApertureStats(
        data, CircularAperture(xy, radius), error=error, mask=bad, local_bkg=local_bkg
    )
    table = stats.to_table(
        columns=[
            "id",
            "x_centroid",
            "y_centroid",
            "sum",
            "sum_err",
            "sum_aper_area",
            "fwhm",
            "ellipticity",
        ]
    )
    table["x_centroid"] = xy[
        :, 0
    ]  # keep the detection centroid (the aperture's own is biased by noise)
    table["y_centroid"] = xy[:, 1]
    for name in ("sum", "sum_err", "sum_aper_area", "fwhm", "ellipticity"):
        table[name] = np.asarray(getattr(table[name], "value", table[name]), float)
    table["aper_radius"] = np.full(len(table), radius)
    table["local_bkg"] = local_bkg
    table["snr"] = table["sum"] / np.where(table["sum_err"] > 0, table["sum_err"], np.inf)
    return table


def _flags(
    table: Table, bad: np.ndarray, radius: float, isolation: float, fwhm: float
) -> tuple[np.ndarray, np.ndarray]:
    """The FLAG_* bits of each source, and whether no other detection lies within ``isolation``
    pixels (what PSF stars and the flux-correction stars need)."""
    from scipy.spatial import cKDTree

    x, y = np.asarray(table["x_centroid"]), np.asarray(table["y_centroid"])
    ny, nx = bad.shape
    flags = np.zeros(len(table), np.int16)
    edge = (x < radius) | (y < radius) | (x > nx - 1 - radius) | (y > ny - 1 - radius)
    flags[edge] |= FLAG_EDGE
    full_area = np.pi * radius**2
    flags[np.asarray(table["sum_aper_area"]) < 0.98 * full_area] |= FLAG_MASKED
    pairs = cKDTree(np.transpose([x, y])).query_pairs(isolation, output_type="ndarray")
    isolated = np.ones(len(table), bool)
    if len(pairs):
        isolated[pairs.ravel()] = False
        i, j = np.concatenate([pairs, pairs[:, ::-1]]).T  # each pair both ways: j lights i
        share = _moffat_share(np.hypot(x[i] - x[j], y[i] - y[j]), radius, fwhm)
        flux = np.maximum(np.nan_to_num(np.asarray(table["sum"], float)), 0.0)
        light = np.bincount(i, weights=flux[j] * share, minlength=len(table))
        flags[light > MAX_NEIGHBOUR_LIGHT * flux] |= FLAG_NEIGHBOUR
    return flags, isolated


def _moffat_share(
    distance: np.ndarray, radius: float, fwhm: float, beta: float = 3.0
) -> np.ndarray:
    """Fraction of a unit-flux Moffat (seeing ``fwhm``; beta 3 before the ePSF gives one) that
    falls in a circle of ``radius`` centred ``distance`` away (equal-area polar nodes)."""
    n_r, n_t = 16, 24
    r = radius * np.sqrt((np.arange(n_r) + 0.5) / n_r)
    t = 2 * np.pi * (np.arange(n_t) + 0.5) / n_t
    u = (r[:, None] * np.cos(t)[None, :]).ravel()
    v = (r[:, None] * np.sin(t)[None, :]).ravel()
    alpha2 = _moffat_alpha2(fwhm, beta)
    d = np.asarray(distance, float)[:, None]
    profile = (
        (beta - 1)
        / (np.pi * alpha2)
        * (1 + ((u[None, :] + d) ** 2 + v[None, :] ** 2) / alpha2) ** -beta
    )
    return profile.mean(axis=1) * np.pi * radius**2


def _flat_tops(apphot: Table) -> np.ndarray:
    """FLAG_FLATTOP where peak/flux is < 85% of the median of S/N > 20 stars: saturated cores that
    the mask missed (their fluxes and shapes would bias the ePSF and the zero point)."""
    ratio = np.asarray(apphot["peak"], float) / np.where(apphot["sum"] > 0, apphot["sum"], np.nan)
    sample = (apphot["snr"] > 20) & np.isfinite(ratio)
    flags = np.zeros(len(apphot), np.int16)
    if sample.sum() >= 5:
        reference = np.median(ratio[sample])
        flags[(apphot["snr"] > 50) & (ratio < 0.85 * reference)] = FLAG_FLATTOP
    return flags


def _psf_candidates(apphot: Table, threshold, fwhm, saturation, half, bad) -> Table:
    ny, nx = bad.shape
    x, y = np.asarray(apphot["x_centroid"]), np.asarray(apphot["y_centroid"])
    ok = (apphot["flags"] == 0) & (apphot["snr"] >= threshold)
    ok &= (np.abs(apphot["roundness1"]) < 0.3) & (np.abs(apphot["roundness2"]) < 0.3)
    ok &= np.abs(apphot["fwhm"] / fwhm - 1) < 0.25
    ok &= apphot["peak"] < 0.8 * saturation
    ok &= (x > half) & (y > half) & (x < nx - 1 - half) & (y < ny - 1 - half)
    for k in np.flatnonzero(ok):  # no masked pixel anywhere in the ePSF stamp
        xi, yi = int(round(x[k])), int(round(y[k]))
        ok[k] = not bad[yi - half : yi + half + 1, xi - half : xi + half + 1].any()
    return apphot[ok]


def _psf_photometry(
    data, error, bad, epsf_model, apphot: Table, fwhm: float
) -> tuple[Table, np.ndarray]:
    """PSF fits of every detection, each on its own (linear cost), and the residual image."""
    from astropy.modeling.fitting import LevMarLSQFitter
    from photutils.psf import PSFPhotometry

    fit_size = _fit_size(fwhm)
    init = Table(
        {
            "id": apphot["id"],
            "x": apphot["x_centroid"],
            "y": apphot["y_centroid"],
            "flux": np.where(apphot["sum"] > 0, apphot["sum"] * 1.2, 1e-3),
            # The aperture's local sky (annulus mode): the global median subtracted from the
            # image sits above the sky between sources (their wings), which biased faint PSF
            # fluxes low by ~0.3 sigma (+0.02-0.04 mag at S/N 5-20).
            "local_bkg": np.asarray(apphot["local_bkg"], float),
        }
    )
    # No grouper: each source is fitted on its own, so the cost is linear in the number of sources.
    phot = PSFPhotometry(
        epsf_model,
        (fit_size, fit_size),
        aperture_radius=1.5 * fwhm,
        progress_bar=False,
        fitter=LevMarLSQFitter(),
    )
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", AstropyUserWarning)
        table = phot(data, mask=bad, error=np.where(bad, 1e30, error), init_params=init)
        residual = phot.make_residual_image(data, psf_shape=(4 * fit_size + 1, 4 * fit_size + 1))
    keep = [
        "id",
        "x_init",
        "y_init",
        "flux_init",
        "x_fit",
        "y_fit",
        "flux_fit",
        "x_err",
        "y_err",
        "flux_err",
        "qfit",
        "cfit",
        "flags",
        "n_pixels_fit",
    ]
    out = Table({k: table[k] for k in keep if k in table.colnames})
    for name in out.colnames:
        if hasattr(out[name], "unit") and out[name].unit is not None:
            out[name] = np.asarray(out[name])
    return out, np.asarray(residual, float)


def _fewest_frames(coverage: np.ndarray | None, apphot: Table, half: int) -> np.ndarray:
    """Frames combined at each source: the fewest that cover more than 10% of its fit box (a box
    of side 2 ``half`` + 1), so that the scattered bad pixels of single frames do not count and a
    dither edge or chip gap across the star does; 1 everywhere without a coverage map."""
    if coverage is None:
        return np.ones(len(apphot), np.int16)
    from scipy.ndimage import uniform_filter

    ny, nx = coverage.shape
    x = np.clip(np.round(np.asarray(apphot["x_centroid"], float)).astype(int), 0, nx - 1)
    y = np.clip(np.round(np.asarray(apphot["y_centroid"], float)).astype(int), 0, ny - 1)
    nframes = np.full(len(apphot), int(coverage.max()), np.int16)
    for n in np.unique(coverage)[-2::-1]:  # the levels below the deepest, downwards: fewer wins
        fraction = uniform_filter(
            (coverage <= n).astype(np.float32), size=2 * half + 1, mode="nearest"
        )
        nframes[fraction[y, x] > 0.1] = n
    return nframes


def _fit_size(fwhm: float) -> int:
    """Side (pixels, odd) of the box each PSF fit uses."""
    return int(np.ceil(1.5 * fwhm)) * 2 + 1


def _noise_factors(
    data,
    error,
    bad,
    apphot: Table,
    epsf: np.ndarray,
    oversampling: int,
    fwhm: float,
    seeing: float,
    beta: float,
    skysig: float,
    sizes: dict,
    notes: list[str],
) -> dict:
    """Empty-sky noise factors (see :mod:`potpyri.photometry.empty_sky`): ``psf`` for fits over a box of side
    ``sizes["psf"]``, and one per aperture radius (the other keys), each 1 when not measurable."""
    from potpyri.photometry.empty_sky import (
        lattice_positions,
        noise_factor,
        psf_weighted_pulls,
        source_free,
    )

    free = source_free(
        bad, apphot["x_centroid"], apphot["y_centroid"], apphot["peak"], seeing, skysig, beta
    )

    def at_lattice(xy: np.ndarray, radius: float) -> Table:
        """Aperture statistics (with the annulus sky) at empty-sky positions."""
        return _aperture_stats(
            data, error, bad, Table({"x_centroid": xy[:, 0], "y_centroid": xy[:, 1]}), radius
        )

    factors = {}
    for name, size in sizes.items():
        if name == "psf":
            half = int(size) // 2
            psf = _native_psf(epsf, oversampling)
            c = psf.shape[0] // 2
            k = min(half, c)
            stamp = np.zeros((2 * half + 1, 2 * half + 1))
            stamp[half - k : half + k + 1, half - k : half + k + 1] = psf[
                c - k : c + k + 1, c - k : c + k + 1
            ]
            xy = lattice_positions(free, half, border=int(np.ceil(3.5 * sizes["aperture"])) + 1)
            # the fits subtract the local sky of the small aperture's annulus (its noise included)
            sky = at_lattice(xy, sizes["aperture"])["local_bkg"] if len(xy) else np.zeros(0)
            pulls = psf_weighted_pulls(data, error, xy, stamp, np.asarray(sky, float))
        else:
            half = int(np.ceil(size))
            # The annulus of the local sky (to 3.5 radii) must lie on the image, not be source-free.
            xy = lattice_positions(free, half, border=int(np.ceil(3.5 * size)) + 1)
            stats = at_lattice(xy, size) if len(xy) else Table({"sum": [], "sum_err": []})
            pulls = np.asarray(stats["sum"], float) / np.asarray(stats["sum_err"], float)
        factor, n = noise_factor(pulls)
        if not np.isfinite(factor):
            notes.append(
                f"only {n} empty-sky positions for the {name} noise factor: errors from ERR alone"
            )
            factor = 1.0
        factors[name] = factor
    log.debug("empty-sky noise factors %s", factors)
    return factors


def _robust_ratio(numerator, denominator) -> float:
    """Flux-weighted ratio sum(num)/sum(den) over pairs whose own ratio is not a 3-sigma outlier
    (bright stars dominate: their big-aperture sums are the least affected by sky noise)."""
    num, den = np.asarray(numerator, float), np.asarray(denominator, float)
    ratio = num / den
    good = np.isfinite(ratio) & (ratio > 0) & (den > 0)
    if good.sum() == 0:
        return 1.0
    clipped = sigma_clip(ratio[good], sigma=3.0, maxiters=5, masked=True)
    keep = ~np.ma.getmaskarray(clipped)
    return float(num[good][keep].sum() / den[good][keep].sum())


def _box_fraction(epsf: np.ndarray, oversampling: int, size: int) -> float:
    """Fraction of the (native-pixel) ePSF inside a centred ``size`` x ``size`` box."""
    native = _native_psf(epsf, oversampling)
    c, h = native.shape[0] // 2, int(size) // 2
    return float(native[max(c - h, 0) : c + h + 1, max(c - h, 0) : c + h + 1].sum())


def _model_error(big, big_err, fit, fit_err, overlap: float = 0.0, clip: float = 3.0) -> float:
    """Fractional PSF-model error from the star-to-star scatter of big-aperture/PSF flux ratios.

    The ratios r = big/fit of the calibration stars are modelled as normal about a common mean
    with variance n² + s² + (c · f₀/fit)², where n is the ratio's own noise, s the fractional
    PSF-model error (returned: a wrong PSF shape errs in proportion to the flux) and c an additive
    excess of the big aperture (light of neighbours' wings and of sources below the detection
    limit, which a big aperture in a crowded field collects; f₀ the median fit flux). The two are
    told apart by how they scale with the flux; s and c are fitted by maximum likelihood.

    The ratio's noise counts the covariance of the two fluxes: the fit's pixels lie inside the big
    aperture, so cov(big, fit) = ``overlap`` x var(fit) (the PSF's fraction in the fit box);
    adding the two errors in quadrature counts the star's own photon noise twice. Stars more than
    ``clip`` sigma off the mean are dropped and the fit repeated: a big aperture holding a
    neighbour or a galaxy says nothing about the PSF (one such blend in 250 stars doubled s).
    """
    from scipy.optimize import minimize

    big, big_err, fit, fit_err = (np.asarray(a, float) for a in (big, big_err, fit, fit_err))
    ratio = big / fit
    with np.errstate(invalid="ignore", divide="ignore"):
        var = (big_err / big) ** 2 + (fit_err / fit) ** 2 - 2 * overlap * fit_err**2 / (big * fit)
        # never below the big aperture's noise beyond the fit's (the sky of the extra area)
        var = np.maximum(var, np.abs((big_err / big) ** 2 - (fit_err / fit) ** 2))
    noise = ratio * np.sqrt(var)
    good = np.isfinite(ratio) & np.isfinite(noise) & (ratio > 0) & (noise > 0) & (fit > 0)
    if good.sum() < 5:
        return 0.0
    scale = np.median(ratio[good])
    r, n, f = ratio[good] / scale, noise[good] / scale, fit[good] / np.median(fit[good])

    def variance(p: np.ndarray, n: np.ndarray, f: np.ndarray) -> np.ndarray:
        return n**2 + np.exp(2 * p[1]) + (np.exp(p[2]) / f) ** 2

    keep = np.ones(len(r), bool)
    p = np.array([1.0, np.log(1e-3), np.log(1e-3)])
    for _ in range(10):
        rk, nk, fk = r[keep], n[keep], f[keep]

        def nll(p: np.ndarray, rk=rk, nk=nk, fk=fk) -> float:
            v = variance(p, nk, fk)
            return float(np.sum((rk - p[0]) ** 2 / v + np.log(v)))

        # log s and log c from a few starts (the likelihood can have a shallow second minimum)
        fits = [
            minimize(
                nll,
                [np.median(rk), a, b],
                method="Nelder-Mead",
                options={"xatol": 1e-5, "fatol": 1e-8, "maxiter": 4000},
            )
            for a in (-7.0, -4.5, -3.0)
            for b in (-7.0, -4.5, -3.0)
        ]
        p = min(fits, key=lambda res: res.fun).x
        new = np.abs(r - p[0]) <= clip * np.sqrt(variance(p, n, f))
        if new.sum() < 5 or (new == keep).all():
            break
        keep = new
    s = float(np.exp(p[1]))
    return s if s > 1e-4 else 0.0  # the likelihood is flat towards s = 0


def _mags(flux, flux_err) -> tuple[np.ndarray, np.ndarray]:
    flux, flux_err = np.asarray(flux, float), np.asarray(flux_err, float)
    with np.errstate(divide="ignore", invalid="ignore"):
        mag = np.where(flux > 0, -2.5 * np.log10(flux), np.nan)
        mag_err = np.where(flux > 0, 2.5 / np.log(10) * flux_err / flux, np.nan)
    return mag, mag_err

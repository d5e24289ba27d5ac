"""The PSF model of a stack: the ePSF of chosen stars, its Moffat base, seeing FWHM and noise area.

``EPSFBuilder`` makes the empirical PSF (ePSF) on an oversampled grid. By default the fitted PSF
is that ePSF's best-fitting pixel-integrated Moffat plus its residual smoothed (the DAOPHOT idea:
an analytic core and a table of residuals): a barely sampled raw ePSF is noisy node to node. The
seeing is a circular Moffat integrated over the detector pixel, fitted to the ePSF and, for the
header's FWHM, to each PSF star.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass

import numpy as np
from astropy.modeling import fitting, models
from astropy.table import Table
from astropy.utils.exceptions import AstropyUserWarning

from potpyri.photometry.moffat import moffat_alpha2, pixel_moffat

__all__ = [
    "PSFModel",
    "box_fraction",
    "build_epsf",
    "fwhm_systematic",
    "model_psf",
    "moffat_base_epsf",
    "native_psf",
    "noise_area",
    "psf_shape_stats",
    "seeing_moffat",
    "star_moffat_fwhm",
]


@dataclass
class PSFModel:
    """The PSF :func:`model_psf` made from the PSF stars."""

    model: object  #: the photutils PSF model the sources are fitted with
    epsf: np.ndarray  #: that PSF on its oversampled grid, normalised to unit total flux
    oversampling: int
    epsf_fwhm: float  #: pixels, Moffat2D FWHM of the raw ePSF (pixel response included)
    gauss_sigma: tuple[float, float]  #: x/y sigma (pixels) of a Gaussian2D fit to the raw ePSF
    seeing_fwhm: float  #: pixels, FWHM of the pixel-integrated Moffat fit to ``epsf``
    beta: float  #: beta of that Moffat
    fwhm: float  #: seeing FWHM, pixels: weighted mean of pixel-integrated Moffat star fits
    fwhm_err: float  #: 1-sigma uncertainty of ``fwhm``, pixels (NaN: from the ePSF)
    noise_area: float  #: effective number of noise pixels of ``epsf``, 1/sum(p^2)
    fwhm_sys: float = float("nan")  #: model systematic of ``fwhm``, px (:func:`fwhm_systematic`)


def model_psf(
    data: np.ndarray,
    error: np.ndarray,
    bad: np.ndarray,
    stars: Table,
    size: int,
    oversampling: int,
    moffat_base: bool,
    notes: list[str],
) -> PSFModel:
    """The PSF of ``stars`` (columns x_centroid, y_centroid) on ``size`` x ``size`` stamps.

    ``moffat_base`` replaces the raw ePSF by :func:`moffat_base_epsf`. Problems (no star fitted
    with a Moffat, an elongated PSF) are appended to ``notes``.
    """
    epsf_model = build_epsf(data, bad, stars, size, oversampling)
    epsf = np.asarray(epsf_model.data, float)
    fwhm_eff, beta_eff, gsig = psf_shape_stats(epsf, oversampling)
    if moffat_base:
        from photutils.psf import ImagePSF

        epsf = moffat_base_epsf(epsf, oversampling, fwhm_eff, beta_eff)
        epsf_model = ImagePSF(epsf, oversampling=oversampling)
    epsf_seeing, beta = seeing_moffat(epsf, oversampling, fwhm_eff, beta_eff)
    # The header's seeing comes from the PSF stars themselves, weighted by their precision: the
    # ePSF is an unweighted median, so a handful of S/N ~10 stars (small fields) move its FWHM.
    fwhm_fit, fwhm_err = star_moffat_fwhm(data, error, bad, stars, epsf_seeing, beta)
    if not np.isfinite(fwhm_fit):
        fwhm_fit = epsf_seeing
        notes.append("no PSF star could be fitted with a Moffat: FWHM from the ePSF")
    fwhm_sys = fwhm_systematic(data, error, bad, stars, fwhm_fit, beta)
    ratio = max(gsig) / max(min(gsig), 1e-6)
    if not (np.isfinite(ratio) and ratio < 1.3) or min(gsig) <= 0:
        notes.append(f"PSF x/y Gaussian sigma differ: {gsig[0]:.2f}, {gsig[1]:.2f} px")
    return PSFModel(
        model=epsf_model,
        epsf=epsf,
        oversampling=oversampling,
        epsf_fwhm=fwhm_eff,
        gauss_sigma=gsig,
        seeing_fwhm=epsf_seeing,
        beta=beta,
        fwhm=fwhm_fit,
        fwhm_err=fwhm_err,
        noise_area=noise_area(epsf, oversampling),
        fwhm_sys=fwhm_sys,
    )


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
    oversampled grid). Removing a 1-pixel box in quadrature from a Moffat2D fit of the ePSF
    overestimates small FWHMs; fitting the pixel-integrated model is exact for a Moffat seeing.

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
    pixel phase. Smoothing the whole ePSF removes the noise but flattens the core (magnitudes
    drift with flux); smoothing only the residual from the Moffat keeps the core and any smooth
    departure from it (the quadratic kernel preserves second-order structure such as
    ellipticity over 5 grid nodes).
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
    return (amplitude * pixel_moffat(u - x0, v - y0, fwhm, beta)).reshape(shape)


def _fit_pixel_moffat(
    epsf: np.ndarray, oversampling: int, fwhm0: float, beta0: float
) -> np.ndarray:
    """Least-squares (amplitude, x0, y0, fwhm, beta) of a pixel-integrated Moffat to an ePSF
    grid."""
    from scipy.optimize import least_squares

    u, v = _grid_offsets(epsf.shape, oversampling)
    z = np.asarray(epsf, float).ravel()

    def residual(p: np.ndarray) -> np.ndarray:
        amplitude, x0, y0, fwhm, beta = p
        return amplitude * pixel_moffat(u - x0, v - y0, fwhm, beta) - z

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
    radius_fwhm: float = 2.0,
) -> tuple[float, float]:
    """Seeing FWHM (pixels) and its error from pixel-integrated Moffat fits to each star.

    Each star (columns x_centroid, y_centroid) is fitted within ``radius_fwhm`` x ``fwhm0`` of its
    centre with a
    circular Moffat integrated over the pixels (free flux, centre, FWHM and beta; no background:
    the image is sky-subtracted), weighted by ``error``. The result is the inverse-variance
    weighted mean of the FWHMs after 3-sigma outliers (blends, residual cosmic rays) are removed,
    so the brightest stars dominate, as they should. NaN if no star could be fitted.
    """
    from scipy.optimize import least_squares

    ny, nx = data.shape
    radius = radius_fwhm * fwhm0
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
            norm = (beta - 1) / (np.pi * moffat_alpha2(fwhm, beta))  # unit total flux
            return (flux * norm * pixel_moffat(xs - x0, ys - y0, fwhm, beta) - z) / e

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


def fwhm_systematic(
    data: np.ndarray,
    error: np.ndarray,
    bad: np.ndarray,
    stars: Table,
    fwhm: float,
    beta: float,
) -> float:
    """Model systematic of a Moffat-fit FWHM (pixels): how much the FWHM of the 40 brightest
    ``stars`` changes when they are fitted within 1.25 ``fwhm`` instead of 2 ``fwhm``.

    The FWHM is defined by the half-maximum contour. A Moffat describes that contour exactly only
    when the star is a Moffat: otherwise the fit trades the core's width against the wings', and
    its FWHM depends on how much wing it sees. A PSF with atmospheric (r^-11/3) wings is read too
    narrow, the less so the closer to the core the fit stays; the change between the two radii
    is a measured, not assumed, size of that error (zero, up to noise, for a Moffat PSF). NaN
    when the core fit fails.
    """
    order = np.argsort(-np.asarray(stars["snr"], float))[:40] if "snr" in stars.colnames else None
    bright = stars[order] if order is not None else stars
    core, _ = star_moffat_fwhm(data, error, bad, bright, fwhm, beta, radius_fwhm=1.25)
    return float(abs(core - fwhm)) if np.isfinite(core) else float("nan")


def noise_area(epsf: np.ndarray, oversampling: int) -> float:
    """Effective noise area 1/Σp² (pixels) of the ePSF sampled on the detector's pixels."""
    native = native_psf(epsf, oversampling)
    return float(1.0 / np.sum(native**2))


def native_psf(epsf: np.ndarray, oversampling: int) -> np.ndarray:
    """The ePSF binned onto detector pixels (centred sampling), normalised to unit sum."""
    o = oversampling
    ny, nx = (s // o * o for s in epsf.shape)
    offset_y, offset_x = (epsf.shape[0] - ny) // 2, (epsf.shape[1] - nx) // 2
    core = epsf[offset_y : offset_y + ny, offset_x : offset_x + nx]
    native = core.reshape(ny // o, o, nx // o, o).sum(axis=(1, 3))
    return native / native.sum()


def box_fraction(epsf: np.ndarray, oversampling: int, size: int) -> float:
    """Fraction of the (native-pixel) ePSF inside a centred ``size`` x ``size`` box."""
    native = native_psf(epsf, oversampling)
    c, h = native.shape[0] // 2, int(size) // 2
    return float(native[max(c - h, 0) : c + h + 1, max(c - h, 0) : c + h + 1].sum())

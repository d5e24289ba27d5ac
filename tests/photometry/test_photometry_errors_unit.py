"""The pieces of the PSF/aperture error model on synthetic data with known answers (fast).

* :mod:`potpyri.photometry.empty_sky`: on white noise the empty-sky factor is 1; on noise smoothed
  by a known kernel (what resampling does) it equals the exact ratio of the true noise of a weighted
  sum to the one predicted from the per-pixel sigma, sqrt(Σ_ij w_i w_j C_ij / Σ_i w_i² C_ii).
* ``model_error``: recovers a fractional model error from simulated big/fit flux ratios with
  correlated noise, an additive big-aperture excess and a few blends.
"""

from __future__ import annotations

import numpy as np
import pytest
from scipy import ndimage, signal

from potpyri.photometry.empty_sky import (
    lattice_positions,
    noise_factor,
    psf_weighted_pulls,
    source_free,
)
from potpyri.photometry.errors import model_error


def _gaussian_psf(half: int, sigma: float) -> np.ndarray:
    yy, xx = np.mgrid[-half : half + 1, -half : half + 1]
    psf = np.exp(-0.5 * (xx**2 + yy**2) / sigma**2)
    return psf / psf.sum()


def _smoothed_noise(shape, kernel, seed):
    """Unit white noise convolved with ``kernel``; its exact per-pixel sigma."""
    rng = np.random.default_rng(seed)
    image = ndimage.convolve(rng.normal(size=shape), kernel, mode="wrap")
    return image, float(np.sqrt(np.sum(kernel**2)))


def test_white_noise_factor_is_one():
    rng = np.random.default_rng(1)
    data = rng.normal(0, 2.0, (600, 600))
    error = np.full(data.shape, 2.0)
    free = np.ones(data.shape, bool)
    psf = _gaussian_psf(6, 1.7)
    factor, n = noise_factor(psf_weighted_pulls(data, error, lattice_positions(free, 6), psf))
    assert n >= 1500
    assert factor == pytest.approx(1.0, abs=0.04)


def test_correlated_noise_factor_matches_the_exact_covariance():
    # A cubic-spline-like interpolation kernel at phase 0.5 in x and y: strong neighbour
    # correlation.
    k1 = np.array([-0.06, 0.56, 0.56, -0.06])
    kernel = np.outer(k1, k1)
    data, sigma = _smoothed_noise((700, 700), kernel, seed=2)
    error = np.full(data.shape, sigma)  # the per-pixel noise, as the resample step propagates it
    psf = _gaussian_psf(6, 1.7)
    # exact: var(sum w d) = sum over lags of (w ⋆ w)(lag) x autocovariance(lag)
    autocov = signal.correlate(kernel, kernel)
    wcorr = signal.correlate(psf, psf)
    centre_w, centre_c = np.array(wcorr.shape) // 2, np.array(autocov.shape) // 2
    total = 0.0
    for (dy, dx), c in np.ndenumerate(autocov):
        ly, lx = dy - centre_c[0] + centre_w[0], dx - centre_c[1] + centre_w[1]
        total += c * wcorr[ly, lx]
    exact = np.sqrt(total / (np.sum(psf**2) * sigma**2))
    assert exact > 1.3  # the test means something: correlation matters here
    free = np.ones(data.shape, bool)
    factor, n = noise_factor(psf_weighted_pulls(data, error, lattice_positions(free, 6), psf))
    assert factor == pytest.approx(exact, rel=0.05), (factor, exact, n)


def test_source_free_excludes_discs_scaled_by_brightness():
    bad = np.zeros((200, 200), bool)
    free = source_free(
        bad,
        np.array([50.0, 150.0]),
        np.array([100.0, 100.0]),
        np.array([1.0, 1e5]),
        fwhm=3.0,
        skysig=1.0,
        beta=3.0,
    )
    assert not free[100, 50 + 8] and free[100, 50 + 10]  # faint: 3 FWHM
    assert not free[100, 150 + 30]  # bright: out to where its wings fall below 0.02 sigma
    positions = lattice_positions(free, 5)
    assert len(positions) and all(
        free[int(y) - 5 : int(y) + 6, int(x) - 5 : int(x) + 6].all() for x, y in positions
    )


def test_too_few_positions_give_nan():
    assert np.isnan(noise_factor(np.ones(10))[0])


@pytest.mark.parametrize("true_model", [0.0, 0.01, 0.03])
def test_model_error_recovered_with_covariance_blends_and_additive_excess(true_model):
    rng = np.random.default_rng(7)
    n = 250
    fit_true = 10 ** rng.uniform(3.3, 5.5, n)  # e-/s; S/N ~ 40-1000
    sky_fit, sky_big, overlap = 15.0, 45.0, 0.95
    # Noise of the fit: sky + the star's photons; of the big aperture: more sky, the same photons.
    # cov(big, fit) = overlap x var(fit), as for a fit whose box holds that fraction of the PSF.
    var_fit, var_big = sky_fit**2 + fit_true, sky_big**2 + fit_true
    fit_noise = rng.normal(0, 1, n) * np.sqrt(var_fit)
    own = rng.normal(0, 1, n) * np.sqrt(var_big - overlap**2 * var_fit)
    fit = fit_true * (1 + rng.normal(0, true_model, n)) + fit_noise
    excess = rng.normal(
        0, 60.0, n
    )  # additive excess a big aperture collects (crowding), not in ERR
    big = fit_true + overlap * fit_noise + own + excess
    blends = rng.choice(n, 5, replace=False)
    big[blends] += 0.2 * fit_true[blends]
    big_err, fit_err = np.sqrt(var_big), np.sqrt(var_fit)
    s = model_error(big, big_err, fit, fit_err, overlap)
    assert s == pytest.approx(true_model, abs=0.003)


def test_partial_coverage_is_the_fewest_frames_in_the_fit_box():
    from astropy.table import Table

    from potpyri.photometry.flags import fewest_frames

    coverage = np.full((50, 50), 5, np.int16)
    coverage[:, 40:] = 3  # a dither edge
    coverage[10, 10] = 4  # one bad pixel of one frame: not another PSF
    sources = Table(
        {"x_centroid": [10.0, 36.4, 37.6, 45.0], "y_centroid": [10.0, 25.0, 25.0, 25.0]}
    )
    assert list(fewest_frames(coverage, sources, half=3)) == [5, 5, 3, 3]
    assert list(fewest_frames(None, sources, half=3)) == [1, 1, 1, 1]

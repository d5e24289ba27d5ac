"""The fitted PSF (photometry.moffat_base_epsf): the ePSF's pixel-integrated Moffat plus its
residual smoothed. It must remove node-to-node noise of a raw ePSF without flattening the core,
and keep a smooth departure from a circular Moffat (ellipticity)."""

from __future__ import annotations

import numpy as np

from potpyri.photometry.psf import _pixel_moffat_grid, moffat_base_epsf

OVERSAMPLING = 2
SHAPE = (31, 31)


def _elliptical(fwhm_x: float, fwhm_y: float) -> np.ndarray:
    """An elliptical (x/y-stretched) beta=3 Moffat on the ePSF grid, sampled at the nodes."""
    ny, nx = SHAPE
    v, u = np.mgrid[:ny, :nx]
    u, v = (u - (nx - 1) / 2) / OVERSAMPLING, (v - (ny - 1) / 2) / OVERSAMPLING
    scale = 2 * np.sqrt(2 ** (1 / 3) - 1)
    return (1 + (u * scale / fwhm_x) ** 2 + (v * scale / fwhm_y) ** 2) ** -3.0


def test_node_noise_is_removed_and_the_core_kept():
    truth = _pixel_moffat_grid(SHAPE, OVERSAMPLING, np.array([1.0, 0.1, -0.15, 2.4, 3.0]))
    rng = np.random.default_rng(2)
    raw = truth + 0.01 * rng.standard_normal(SHAPE)  # 1% of the peak per node
    fitted = moffat_base_epsf(raw, OVERSAMPLING, 2.2, 3.0)
    assert np.isclose(fitted.sum(), raw.sum())
    core = slice(10, 21)
    before = np.std((raw - truth)[core, core])
    after = np.std((fitted - truth)[core, core])
    # The 5x5 quadratic Savitzky-Golay kernel passes sqrt(sum k^2) = 0.45 of white noise.
    assert after < 0.55 * before, (before, after)
    assert abs(fitted.max() / truth.max() - 1) < 0.01


def test_an_elliptical_psf_stays_elliptical():
    truth = _elliptical(2.8, 2.2)
    fitted = moffat_base_epsf(truth, OVERSAMPLING, 2.5, 3.0)
    ny, nx = SHAPE
    v, u = np.mgrid[:ny, :nx] - np.array([(ny - 1) / 2, (nx - 1) / 2])[:, None, None]
    core = (u**2 + v**2) < 8**2  # second moments of the core (2 FWHM): the ellipticity

    def moments(p):
        return np.sum((u**2 * p)[core]), np.sum((v**2 * p)[core])

    (tx, ty), (fx, fy) = moments(truth), moments(fitted)
    assert abs((fx / fy) / (tx / ty) - 1) < 0.02, (tx / ty, fx / fy)  # the circular Moffat alone: 1
    assert np.max(np.abs(fitted - truth)) < 0.03 * truth.max()

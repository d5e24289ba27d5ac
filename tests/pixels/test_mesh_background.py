"""skysub's mesh background is not pulled up by bright stars' wings
(potpyri.calibration.mesh_background)."""

from __future__ import annotations

import numpy as np
import pytest

from potpyri.calibration.mesh_background import mesh_background
from potpyri.sim.scene import _moffat_pixels, moffat_alpha

SIZE, SKY, FLUX, FWHM = 400, 1000.0, 3e5, 4.0


def _field(seed: int, nstar: int = 40) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Poisson frame: flat sky and ``nstar`` Moffat (beta 3) stars of FLUX e- each."""
    rng = np.random.default_rng(seed)
    image = np.full((SIZE, SIZE), SKY)
    xs, ys = rng.uniform(40, SIZE - 40, nstar), rng.uniform(40, SIZE - 40, nstar)
    alpha, half = moffat_alpha(FWHM), 60
    for x, y in zip(xs, ys, strict=True):
        x0, x1 = max(int(x) - half, 0), min(int(x) + half + 1, SIZE)
        y0, y1 = max(int(y) - half, 0), min(int(y) + half + 1, SIZE)
        image[y0:y1, x0:x1] += FLUX * _moffat_pixels(x0, x1, y0, y1, x, y, alpha)
    return rng.poisson(image).astype(np.float64), xs, ys


def _excess_at_stars(background: np.ndarray, xs: np.ndarray, ys: np.ndarray) -> float:
    """Mean background minus the true sky within 4 FWHM of the stars, e-/px."""
    half = int(4 * FWHM) + 1
    yy, xx = np.mgrid[-half : half + 1, -half : half + 1]
    excess = []
    for x, y in zip(xs, ys, strict=True):
        xi, yi = int(round(x)), int(round(y))
        cut = background[yi - half : yi + half + 1, xi - half : xi + half + 1]
        excess.append(cut[np.hypot(xx + xi - x, yy + yi - y) < 4 * FWHM].mean() - SKY)
    return float(np.mean(excess))


@pytest.mark.parametrize("seed", [1, 2])
def test_star_wings_do_not_raise_the_background(seed):
    image, xs, ys = _field(seed)
    clipped_only = _excess_at_stars(mesh_background(image, None, 64, source_nsigma=None), xs, ys)
    masked = _excess_at_stars(mesh_background(image, None, 64), xs, ys)
    # Box medians that only clip keep the wings: ~2 e-/px over the 800 px of a 4-FWHM aperture,
    # 0.6% of the star (measured 1.9-2.3 on seeds 1-5); masked: within +-0.4 (<0.1%).
    assert clipped_only > 1.5
    assert abs(masked) < 0.5


def test_flagged_pixels_and_empty_sky():
    rng = np.random.default_rng(3)
    image = rng.normal(SKY, 30.0, (SIZE, SIZE))
    mask = np.zeros(image.shape, np.uint8)
    image[100:110, :] = 1e5  # a flagged bad row must not enter the background
    mask[100:110, :] = 1
    background = mesh_background(image, mask, 64)
    assert background.dtype == np.float32 and background.shape == image.shape
    assert np.abs(background - SKY).max() < 10.0

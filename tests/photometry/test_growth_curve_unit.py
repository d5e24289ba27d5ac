"""The curve of growth (photometry.growth_curve) on stars of a known profile: the fraction of the
light within the 4-FWHM calibration aperture, which sets every total flux and the zero point."""

from __future__ import annotations

import numpy as np

from potpyri.photometry.growth_curve import growth_curve
from potpyri.photometry.moffat import moffat_alpha2, moffat_flux_outside, pixel_moffat

FWHM = 3.0
#: (1 + r²/alpha²)^-11/6 has the atmosphere's r^-11/3 wings: 5.8% of its light lies beyond 4
#: FWHM, several times a beta=3.5 Moffat's, so a Moffat extrapolation would be far off.
BETA = 11 / 6


def _outside(radius: float) -> float:
    """Fraction of the light beyond ``radius`` px (moffat_flux_outside keeps beta >= 2)."""
    return float((1 + radius**2 / moffat_alpha2(FWHM, BETA)) ** (1 - BETA))


def _field(n_stars: int, seed: int = 1) -> tuple[np.ndarray, np.ndarray]:
    """Unit-sky-noise image of ``n_stars`` bright stars (flux 1e6) on a grid 150 px apart."""
    rng = np.random.default_rng(seed)
    side = 150 * 3 + 120
    image = rng.standard_normal((side, side))
    xy = []
    norm = (BETA - 1) / (np.pi * moffat_alpha2(FWHM, BETA))  # unit total flux
    half = 100
    offsets = np.arange(-half, half + 1)
    for k in range(n_stars):
        x0 = 135 + 150 * (k % 3) + rng.uniform(-0.5, 0.5)
        y0 = 135 + 150 * (k // 3) + rng.uniform(-0.5, 0.5)
        ix, iy = int(round(x0)), int(round(y0))
        u, v = (a.ravel() for a in np.meshgrid(offsets + ix - x0, offsets + iy - y0))
        stamp = 1e6 * norm * pixel_moffat(u, v, FWHM, BETA).reshape(2 * half + 1, 2 * half + 1)
        ys, xs = slice(max(iy - half, 0), iy + half + 1), slice(max(ix - half, 0), ix + half + 1)
        sub = image[ys, xs]
        sub += stamp[: sub.shape[0], : sub.shape[1]] if iy >= half and ix >= half else 0
        xy.append((x0, y0))
    return image, np.array(xy)


def test_curve_of_growth_finds_the_light_beyond_the_reference_radius():
    image, xy = _field(9)
    bad = np.zeros(image.shape, bool)
    reference = 4 * FWHM
    curve = growth_curve(image, bad, xy, xy, np.full(len(xy), 1e6), FWHM, reference, 3.5)
    truth = 1 - _outside(reference)
    assert curve.method == "growth"
    assert curve.last >= 8 * FWHM  # bright isolated stars: the curve reaches far out
    assert abs(curve.inside / truth - 1) < 0.002, (curve.inside, truth)
    # the Moffat of the old extrapolation misses most of that light
    assert abs((1 - moffat_flux_outside(reference, FWHM, 3.5)) / truth - 1) > 0.04


def test_too_few_stars_fall_back_to_the_moffat():
    image, xy = _field(3)
    bad = np.zeros(image.shape, bool)
    curve = growth_curve(image, bad, xy, xy, np.full(len(xy), 1e6), FWHM, 4 * FWHM, 3.5)
    assert curve.method == "moffat" and "3 bright isolated stars" in curve.reason
    assert curve.inside == 1 - moffat_flux_outside(4 * FWHM, FWHM, 3.5)


def test_a_neighbour_ends_the_curve_where_its_light_starts():
    image, xy = _field(9)
    bad = np.zeros(image.shape, bool)
    # a faint neighbour (1% of each star's flux) 20 px from every star: only radii below 20 - 2
    # FWHM px are clean, so the curve stops before the tail can be fitted
    others = np.vstack([xy, xy + [20.0, 0.0]])
    flux = np.concatenate([np.full(len(xy), 1e6), np.full(len(xy), 1e4)])
    curve = growth_curve(image, bad, xy, others, flux, FWHM, 4 * FWHM, 3.5)
    assert curve.method == "moffat"
    assert "not measured beyond 12.0 px" in curve.reason

"""The circular Moffat profile (1 + r²/alpha²)^-beta: width, wings, pixel integral, light in a
circle.

Shared by the PSF model (:mod:`potpyri.photometry.psf`), the neighbour flag
(:mod:`potpyri.photometry.flags`) and the empty-sky masks (:mod:`potpyri.photometry.empty_sky`).
"""

from __future__ import annotations

import numpy as np

__all__ = ["moffat_alpha2", "moffat_flux_outside", "moffat_share", "pixel_moffat"]


def moffat_alpha2(fwhm: float, beta: float) -> float:
    """The squared core width alpha² of a Moffat (1 + r²/alpha²)^-beta of this FWHM."""
    return (fwhm / (2 * np.sqrt(2 ** (1 / beta) - 1))) ** 2


def moffat_flux_outside(radius: float, fwhm: float, beta: float) -> float:
    """Fraction of a circular Moffat's flux beyond ``radius`` (same units as ``fwhm``).

    ``beta`` is kept within [2, 10]: a fit outside that range says more about the noise in the
    ePSF's wings than about the seeing, and beta <= 1 has no finite total flux at all.
    """
    beta = float(np.clip(beta, 2.0, 10.0)) if np.isfinite(beta) else 3.0
    return float((1 + radius**2 / moffat_alpha2(fwhm, beta)) ** (1 - beta))


#: 5x5 Gauss-Legendre offsets (pixels) and weights over one pixel: the pixel integral of a Moffat
#: is exact to < 1e-4 for FWHM >= 1.5 px.
_NODES, _WEIGHTS = np.polynomial.legendre.leggauss(5)
_DU, _DV = (a.ravel() / 2 for a in np.meshgrid(_NODES, _NODES))
_PIXEL_WEIGHTS = np.outer(_WEIGHTS, _WEIGHTS).ravel() / 4


def pixel_moffat(dx: np.ndarray, dy: np.ndarray, fwhm: float, beta: float) -> np.ndarray:
    """(1 + r²/alpha²)^-beta averaged over the pixels centred ``dx``, ``dy`` from the peak
    (peak 1)."""
    alpha2 = moffat_alpha2(fwhm, beta)
    x = np.asarray(dx)[:, None] + _DU[None, :]
    y = np.asarray(dy)[:, None] + _DV[None, :]
    return ((1 + (x * x + y * y) / alpha2) ** -beta) @ _PIXEL_WEIGHTS


def moffat_share(distance: np.ndarray, radius: float, fwhm: float, beta: float = 3.0) -> np.ndarray:
    """Fraction of a unit-flux Moffat (seeing ``fwhm``; beta 3 before the ePSF gives one) that
    falls in a circle of ``radius`` centred ``distance`` away (equal-area polar nodes)."""
    n_r, n_t = 16, 24
    r = radius * np.sqrt((np.arange(n_r) + 0.5) / n_r)
    t = 2 * np.pi * (np.arange(n_t) + 0.5) / n_t
    u = (r[:, None] * np.cos(t)[None, :]).ravel()
    v = (r[:, None] * np.sin(t)[None, :]).ravel()
    alpha2 = moffat_alpha2(fwhm, beta)
    d = np.asarray(distance, float)[:, None]
    profile = (
        (beta - 1)
        / (np.pi * alpha2)
        * (1 + ((u[None, :] + d) ** 2 + v[None, :] ** 2) / alpha2) ** -beta
    )
    return profile.mean(axis=1) * np.pi * radius**2

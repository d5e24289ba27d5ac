"""Colour terms: the fit recovers a known term, and the simulator's spectra give a published one.

The zero point with its colour term against the truth of a simulated night is checked in
``test_zeropoint_instruments.py`` (every catalog path; LRIS-blue g on PS1 in CI).
"""

from __future__ import annotations

import numpy as np
import pytest

from potpyri.photometry.zeropoint import fit_zeropoint
from potpyri.sim import seds
from potpyri.sim.truth import magnitudes


def test_fit_recovers_a_known_colour_term():
    rng = np.random.default_rng(4)
    colour = rng.uniform(0.2, 1.5, 300)
    err = np.full(300, 0.02)
    delta = 25.3 + 0.06 * colour + rng.normal(0, 0.02, 300)
    delta[:6] += 0.5  # outliers (blends) the clipping must drop
    fit = fit_zeropoint(np.zeros(300), err, delta, np.zeros(300), color=colour, fit_color=True)
    assert fit.color_term == pytest.approx(0.06, abs=3 * 0.02 / np.sqrt(300) / colour.std())
    assert abs(fit.zp - 25.3) <= 3 * fit.error
    assert not fit.used[:6].any()
    plain = fit_zeropoint(np.zeros(300), err, delta, np.zeros(300), color=colour)
    assert plain.color_term == 0.0
    assert plain.zp == pytest.approx(25.3 + 0.06 * np.mean(colour[6:]), abs=0.005)


def test_fit_with_measured_colours_is_not_diluted():
    """Catalog colours with errors comparable to their spread, sharing the calibrated band's
    catalog error (g in g-r for g): the plain line's slope is diluted and its intercept pulled
    towards the mean offset; given the colour errors and the covariance, the intercept at colour 0
    is the truth within its error."""
    rng = np.random.default_rng(7)
    n = 400
    g_r = rng.normal(0.7, 0.15, n)
    g_err, r_err = rng.uniform(0.01, 0.06, n), rng.uniform(0.01, 0.04, n)
    g_noise, r_noise = rng.normal(0, g_err), rng.normal(0, r_err)
    inst_err = np.full(n, 0.01)
    inst = 20 + rng.normal(0, inst_err)
    cat_g = 20 + 25.3 - 0.06 * g_r + g_noise
    colour = g_r + g_noise - r_noise
    colour_err = np.hypot(g_err, r_err)
    kwargs = {"color": colour, "fit_color": True}
    plain = fit_zeropoint(inst, inst_err, cat_g, g_err, **kwargs)
    fit = fit_zeropoint(
        inst, inst_err, cat_g, g_err, **kwargs, color_err=colour_err, color_cov=g_err**2
    )
    print(
        f"plain {plain.zp - 25.3:+.4f} ({plain.color_term:+.3f}), corrected "
        f"{fit.zp - 25.3:+.4f} +- {fit.error:.4f} ({fit.color_term:+.3f})"
    )
    assert abs(plain.zp - 25.3) > 3 * plain.error  # the bias the correction removes
    assert abs(fit.zp - 25.3) <= 3 * fit.error
    assert fit.color_term == pytest.approx(-0.06, abs=0.03)


#: DES DR2 documentation, "Transformations" (Abbott et al. 2021; Stripe 82 stars), DES minus SDSS
#: per mag of SDSS colour: g in g-i, r i z in r-i.
DES_MINUS_SDSS = {"g": ("g", "i", -0.061), "r": ("r", "i", -0.155), "i": ("r", "i", -0.166)}
DES_MINUS_SDSS["z"] = ("r", "i", -0.056)


@pytest.mark.parametrize("band", list(DES_MINUS_SDSS))
def test_model_colour_terms_match_published_ones(band):
    """The simulator's spectra through speclite's DECam and SDSS curves give the colour terms
    that DES DR2 measured on real stars, to 0.07 mag per mag of colour (a blackbody has no
    absorption features; status_colour.md has the measured values)."""
    g_r = np.linspace(0.1, 1.6, 100)
    locus = magnitudes(np.full(g_r.size, 18.0), g_r)
    temperature = seds.band_temperatures(locus)[band]
    offset = seds.curve_offset(temperature, f"decamDR1-{band}", f"sdss2010-{band}")
    blue, red, published = DES_MINUS_SDSS[band]
    slope = np.polyfit(locus[blue] - locus[red], offset, 1)[0]
    print(f"model {band}_DECam - {band}_SDSS per mag of {blue}-{red}: {slope:+.3f} ({published})")
    assert slope == pytest.approx(published, abs=0.07)

"""The simulator's physical PSF against GalSim drawn directly, and the bright-star detector
effects: flux, FWHM definition, field variation, saturation."""

from __future__ import annotations

import galsim
import numpy as np
import pytest

from potpyri.sim.detector import DetectorModel, bleed, nonlinear, saturate
from potpyri.sim.psf import FieldPsf, PsfParams, effective_fwhm

SHAPE = (301, 301)
PIXSCALE = 0.16


@pytest.fixture(scope="module")
def params() -> PsfParams:
    # Explicit field terms: e1 grows to +0.04 at the right edge, size by 4% at the corners.
    return PsfParams(
        model="physical",
        pixscale=PIXSCALE,
        seeing_arcsec=0.7,
        wavelength_nm=620.0,
        diameter_m=8.1,
        obscuration=0.13,
        aberrations_nm=(30.0, -20.0, 15.0, 25.0, -10.0),
        g1=(0.02, 0.02, 0.0, 0.0, 0.0, 0.0),
        g2=(-0.01, 0.0, 0.0, 0.0, 0.0, 0.0),
        dilation=(0.0, 0.0, 0.02, 0.0, 0.02),
    )


@pytest.fixture(scope="module")
def field(params) -> FieldPsf:
    return FieldPsf(params, SHAPE)


@pytest.mark.parametrize("shear", [0.0, 0.1])
def test_effective_fwhm_is_the_half_maximum_area(shear):
    """A Moffat of FWHM 4 px, sheared (area kept), has effective FWHM 4 px: the definition
    reads the geometric mean of the axes."""
    profile = galsim.Moffat(beta=3.0, fwhm=4 * PIXSCALE).shear(g1=shear, g2=0.0)
    image = profile.drawImage(nx=161, ny=161, scale=PIXSCALE / 8, method="no_pixel").array
    assert effective_fwhm(image, 8) == pytest.approx(4.0, rel=0.003)


def test_parameters_round_trip(params):
    assert PsfParams.from_json(params.to_json()) == params


def test_star_holds_its_truth_flux(field):
    """Core and wings of a unit star add up to the PSF's drawn fraction, which is all but
    0.1% of it."""
    assert field.captured > 0.999
    for x, y in ((150.0, 150.0), (115.3, 185.7), (185.5, 114.5)):  # wings inside the image
        image = np.zeros(SHAPE)
        field.add_stars(image, np.array([x]), np.array([y]), np.array([1.0]))
        assert image.sum() == pytest.approx(field.captured, abs=2e-4)


def test_core_is_galsim_drawn_with_its_pixel(field, params):
    """At a grid node the star's core is GalSim's own drawing (method 'auto' integrates over
    the pixel), sub-pixel offset included."""
    x, y = 150.3, 149.8  # the centre node is at (150, 150)
    h = field.core_half
    core = field.stamp(150 - h, 151 + h, 150 - h, 151 + h, x, y)
    direct = (
        params.galsim_psf(0.0, 0.0)
        .drawImage(
            nx=2 * h + 1, ny=2 * h + 1, scale=PIXSCALE, method="auto", offset=(x - 150, y - 150)
        )
        .array
    )
    assert np.abs(core - direct).max() < 2e-3 * direct.max()


def test_psf_varies_over_the_field(field, params):
    """Size grows to the corners and the ellipticity follows the field polynomial: adaptive
    moments of the rendered stars against the model's shear at each place."""
    centre, corner = field.fwhm_at(150, 150), field.fwhm_at(0, 0)
    assert corner / centre == pytest.approx(1.04, abs=0.01)
    e1 = {}
    for x in (0.0, 300.0):
        h = field.core_half
        image = np.zeros((2 * h + 1, 2 * h + 1))
        cx = int(x)
        stamp = field.stamp(cx - h, cx + h + 1, 150 - h, 151 + h, x, 150.0)
        image += stamp
        e1[x] = galsim.hsm.FindAdaptiveMom(galsim.Image(image)).observed_shape.g1
    # The atmosphere's g1 is 0.00 at the left edge, 0.04 at the right; optics dilute it.
    assert e1[300.0] - e1[0.0] == pytest.approx(0.04, abs=0.012)


def test_ccd_bleed_conserves_charge():
    image = np.zeros((50, 5))
    image[25, 2] = 1e6
    bled = image.copy()
    saturated = bleed(bled, 1e5)
    assert bled.sum() == pytest.approx(1e6) and bled.max() <= 1e5
    # 1e5 stays, 4.5e5 spills each way: four full pixels and a half-full one on each side.
    assert saturated[:, 2].sum() == 9 and not saturated[:, [0, 1, 3, 4]].any()
    assert bled[20, 2] == pytest.approx(5e4) and bled[30, 2] == pytest.approx(5e4)


def test_nir_array_is_nonlinear_and_clips():
    """The polynomial reads 3% low at full well and 1% low at 40% of it; beyond, pixels clip
    without spilling."""
    coefficients = (0.02, 0.01)
    charge = np.array([0.4e5, 1e5])
    assert nonlinear(charge, 1e5, coefficients) / charge == pytest.approx([0.99, 0.97], abs=5e-4)
    ones = np.ones((3, 3), np.float32)
    nir = DetectorModel(ones, ones * 0, ones < 0, ones > 0, False, coefficients)
    image = np.zeros((3, 3))
    image[1, 1] = 5e5
    saturated = saturate(image, 1e5, nir)
    assert image[1, 1] == 1e5 and image.sum() == 1e5 and saturated.sum() == 1

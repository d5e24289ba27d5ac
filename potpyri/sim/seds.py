"""Spectral energy distributions of the simulated stars, and their magnitudes through filter curves.

A star's brightness in each band is fixed by the stellar locus of :mod:`potpyri.sim.truth` in a
*reference* filter of that band (SDSS 2010 for u g r i z, Bessell for B V R I, 2MASS for J H K,
Gaia DR3 for G BP RP, Pan-STARRS for Y). How the magnitude changes from one filter of a band to
another (a survey's, an instrument's) comes from the star's spectrum around that band: a
blackbody (Planck's law) whose colour between the band and the next redder one (g-r for g, r-i
for r: :data:`LOCAL_COLOUR`) is the star's. So an instrument's g and PS1's g differ by a colour
term of a few hundredths of a magnitude per magnitude of g-r, as in life, while the locus (and
so every star count and depth) stays as it was. The filter curves are speclite's
(Kirkby et al., https://speclite.readthedocs.io): SDSS (Doi et al. 2010), Pan-STARRS (Tonry et
al. 2012), 2MASS (Cohen et al. 2003), Gaia DR3 (Riello et al. 2021), CFHT MegaCam, HSC and the
Bessell (1990) curves.

A blackbody has no Balmer jump or molecular bands: colour terms of u and of the reddest stars are
only roughly those of real stars.
"""

from __future__ import annotations

from collections.abc import Mapping
from functools import cache

import numpy as np

__all__ = [
    "INSTRUMENT_CURVES",
    "REFERENCE_CURVES",
    "SURVEY_CURVES",
    "LOCAL_COLOUR",
    "band_magnitude",
    "band_temperatures",
    "curve_offset",
    "temperature_for_colour",
]

#: Filter curve (speclite name) in which the locus defines each band's magnitude.
REFERENCE_CURVES: dict[str, str] = {
    **{b: f"sdss2010-{b}" for b in "ugriz"},
    "Y": "panstarrs-y",
    **{b: f"bessell-{b}" for b in "BVRI"},
    "J": "twomass-J",
    "H": "twomass-H",
    "K": "twomass-Ks",
    **{b: f"gaiadr3-{b}" for b in ("G", "BP", "RP")},
}
#: A survey's filter curve per catalog band (band names as in potpyri.sim.catalogs); a band not
#: listed is the reference's. SkyMapper's own curves are not in speclite: it stands in with SDSS's.
SURVEY_CURVES: dict[str, dict[str, str]] = {
    "ps1": {b: f"panstarrs-{b}" for b in "grizy"},
    "sdss": {},
    "skymapper": {},
    "2mass": {},
    "gaia": {},
    "gspc": {},  # standardised to the Johnson-Cousins and SDSS systems
}
#: The simulated instruments' own filter curves per generic band: Subaru HSC for g r i z Y and
#: CFHT MegaCam for u, real imager curves that differ from SDSS's and PS1's as an imager's own
#: filters do. Johnson-Cousins and NIR bands use the reference curves (no colour term yet).
INSTRUMENT_CURVES: dict[str, str] = {
    "u": "cfht_megacam-u",
    **{b: f"hsc2017-{b}" for b in "griz"},
    "Y": "hsc2017-y",
}

#: The colour (bluer, redder band) that sets the blackbody around each band: the band and the next
#: redder one. (One temperature from g-r for every band gives colour terms in r, i and z 2-3
#: times those measured on real stars, e.g. DES DR2's against SDSS; the local colour gives
#: terms within a few hundredths per magnitude of them.)
LOCAL_COLOUR: dict[str, tuple[str, str]] = {
    "u": ("u", "g"),
    "g": ("g", "r"),
    "r": ("r", "i"),
    "i": ("i", "z"),
    "z": ("z", "Y"),
    "Y": ("Y", "J"),
    "J": ("J", "H"),
    "H": ("H", "K"),
    "K": ("H", "K"),
    "B": ("B", "V"),
    "V": ("V", "R"),
    "R": ("R", "I"),
    "I": ("R", "I"),
}
#: Temperatures (K) of the tabulated blackbodies: from the coolest M dwarfs to hot white dwarfs.
_TEMPERATURES_K = np.geomspace(2000.0, 60000.0, 300)
_WAVELENGTH_A = np.arange(2000.0, 30000.0, 5.0)


def _blackbody_flambda(temperature_k: np.ndarray) -> np.ndarray:
    """Planck's f_lambda (arbitrary scale) on :data:`_WAVELENGTH_A`, one row per temperature."""
    hc_over_k = 1.438777e8  # h c / k in Angstrom kelvin
    lam = _WAVELENGTH_A[None, :]
    x = hc_over_k / (lam * np.asarray(temperature_k, float)[:, None])
    return 1e20 / lam**5 / np.expm1(x)


@cache
def _ab_mags(curve: str) -> np.ndarray:
    """AB magnitude (arbitrary common scale) of each tabulated blackbody through ``curve``."""
    import speclite.filters  # imported here: only the simulator needs it

    response = speclite.filters.load_filter(curve)
    flux = _blackbody_flambda(_TEMPERATURES_K)
    return np.array([response.get_ab_magnitude(f, _WAVELENGTH_A) for f in flux])


def temperature_for_colour(colour: np.ndarray, blue: str, red: str) -> np.ndarray:
    """The blackbody temperature (K) whose AB colour ``blue - red`` (bands, through their
    reference curves) is ``colour``; the grid's end where no blackbody has it."""
    model = _ab_mags(REFERENCE_CURVES[blue]) - _ab_mags(REFERENCE_CURVES[red])  # falls as T rises
    log_t = np.interp(np.asarray(colour, float), model[::-1], np.log(_TEMPERATURES_K)[::-1])
    return np.exp(log_t)


def band_temperatures(locus: Mapping[str, np.ndarray]) -> dict[str, np.ndarray]:
    """The blackbody temperature of the spectrum around each band of :data:`LOCAL_COLOUR`, from
    the locus magnitudes ``locus`` (reference curves)."""
    return {
        band: temperature_for_colour(locus[blue] - locus[red], blue, red)
        for band, (blue, red) in LOCAL_COLOUR.items()
        if blue in locus and red in locus
    }


def curve_offset(temperature_k: np.ndarray, curve: str, reference: str) -> np.ndarray:
    """m(curve) - m(reference) of blackbodies of ``temperature_k`` (AB; 0 when the curves are
    one)."""
    if curve == reference:
        return np.zeros(np.shape(temperature_k))
    delta = _ab_mags(curve) - _ab_mags(reference)
    return np.interp(np.log(temperature_k), np.log(_TEMPERATURES_K), delta)


def band_magnitude(
    reference_mag: np.ndarray,
    temperature_k: np.ndarray,
    band: str,
    curves: Mapping[str, str],
) -> np.ndarray:
    """A band's magnitude through ``curves[band]`` (the reference's when absent) of stars with
    the locus magnitude ``reference_mag`` and blackbody temperature ``temperature_k`` around
    the band (:func:`band_temperatures`)."""
    reference = REFERENCE_CURVES.get(band)
    curve = curves.get(band, reference)
    if reference is None or curve is None:
        return np.asarray(reference_mag, float)
    return np.asarray(reference_mag, float) + curve_offset(temperature_k, curve, reference)

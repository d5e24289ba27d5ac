"""The truth model of a simulated field: stars and galaxies with positions, motions and AB
magnitudes."""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np
from astropy.table import Table

from potpyri.catalogs.magsys import VEGA_TO_AB
from potpyri.sim.seds import (
    INSTRUMENT_CURVES,
    REFERENCE_CURVES,
    band_magnitude,
    band_temperatures,
)

__all__ = [
    "BANDS",
    "DENSITY_R22",
    "EXTINCTION",
    "R_FAINT",
    "SKY_AB",
    "johnson_cousins",
    "make_field",
    "magnitudes",
    "star_magnitudes",
]

#: Bands the simulator knows, with their AB sky brightness (mag/arcsec², dark sky; NIR at a
#: good site) and extinction coefficient (mag/airmass).
SKY_AB = {
    "u": 22.8,
    "g": 22.1,
    "r": 21.2,
    "i": 20.4,
    "z": 19.5,
    "Y": 18.5,
    "J": 16.9,
    "H": 15.8,
    "K": 14.9,
    "B": 22.6,
    "V": 21.8,
    "R": 21.1,
    "I": 20.3,
    "NB4170": 22.6,
}
EXTINCTION = {
    "u": 0.45,
    "g": 0.18,
    "r": 0.10,
    "i": 0.07,
    "z": 0.05,
    "Y": 0.05,
    "J": 0.10,
    "H": 0.06,
    "K": 0.08,
    "B": 0.22,
    "V": 0.13,
    "R": 0.09,
    "I": 0.06,
    "NB4170": 0.25,
}
BANDS = tuple(SKY_AB)

#: Default star density: stars per arcmin² brighter than r = 22 (~1 at high galactic latitude).
DENSITY_R22 = 1.2
#: Default faintest simulated r magnitude (AB).
R_FAINT = 24.5


def magnitudes(r: np.ndarray, g_r: np.ndarray) -> dict[str, np.ndarray]:
    """AB magnitudes in every band from r and the g-r colour (a smooth stellar-locus model), each
    through the band's reference filter curve (:data:`potpyri.sim.seds.REFERENCE_CURVES`).

    The relations follow the main-sequence locus closely enough that colour terms between
    catalogs stay small, which is what real zero-point fits see. Johnson-Cousins B V R I follow
    from g, r, i by :func:`johnson_cousins`.
    """
    sdss = {
        "u": r + g_r + 1.1 + 0.9 * g_r,
        "g": r + g_r,
        "r": r,
        "i": r - (0.05 + 0.40 * g_r),
        "z": r - (0.05 + 0.60 * g_r),
        "Y": r - (0.10 + 0.70 * g_r),
        "J": r - (0.25 + 0.85 * g_r),
        "H": r - (0.20 + 1.05 * g_r),
        "K": r - (0.05 + 1.10 * g_r),
        "G": r - (0.05 + 0.20 * g_r),
        "BP": r + (0.05 + 0.35 * g_r),
        "RP": r - (0.30 + 0.45 * g_r),
    }
    johnson = johnson_cousins(sdss["g"], sdss["r"], sdss["i"])
    # A narrow band at 417 nm (LRIS NB4170) sees the continuum of B: no emission-line sources.
    return {**sdss, **johnson, "NB4170": johnson["B"]}


def johnson_cousins(g: np.ndarray, r: np.ndarray, i: np.ndarray) -> dict[str, np.ndarray]:
    """Johnson B, V and Cousins R, I, in AB, of stars with SDSS g, r, i.

    Lupton (2005) transformations for stars (SDSS DR4 "Transformations between SDSS magnitudes
    and UBVRcIc"): B = g + 0.3130 (g-r) + 0.2271, V = g - 0.5784 (g-r) - 0.0038,
    R = r - 0.2936 (r-i) - 0.1439, I = r - 1.2444 (r-i) - 0.3820 (Vega magnitudes), moved to AB
    with :data:`~potpyri.catalogs.magsys.VEGA_TO_AB` (Blanton & Roweis 2007).
    """
    vega = {
        "B": g + 0.3130 * (g - r) + 0.2271,
        "V": g - 0.5784 * (g - r) - 0.0038,
        "R": r - 0.2936 * (r - i) - 0.1439,
        "I": r - 1.2444 * (r - i) - 0.3820,
    }
    return {band: mag + VEGA_TO_AB[band] for band, mag in vega.items()}


def star_magnitudes(
    r: np.ndarray, g_r: np.ndarray, curves: Mapping[str, str] = INSTRUMENT_CURVES
) -> dict[str, np.ndarray]:
    """The magnitude columns of stars of locus r and g-r (see :func:`make_field`): ``mag_<band>``
    through ``curves``, ``ref_mag_<band>`` where that is not the reference curve, and
    ``teff_<band>_K``, the blackbody temperature around each band (potpyri.sim.seds)."""
    locus = magnitudes(r, g_r)
    teff = band_temperatures(locus)
    columns = {}
    for band, mag in locus.items():
        if band in teff:
            columns[f"mag_{band}"] = band_magnitude(mag, teff[band], band, curves)
        else:  # no spectrum around it (Gaia, narrow bands): the reference curve's
            columns[f"mag_{band}"] = mag
        if curves.get(band, REFERENCE_CURVES.get(band)) != REFERENCE_CURVES.get(band):
            columns[f"ref_mag_{band}"] = mag
    columns |= {f"teff_{band}_K": t for band, t in teff.items()}
    return columns


def make_field(
    rng: np.random.Generator,
    ra0: float,
    dec0: float,
    radius_deg: float,
    *,
    r_bright: float = 14.0,
    r_faint: float = R_FAINT,
    density_r22: float = DENSITY_R22,
    galaxy_fraction: float = 0.15,
    curves: Mapping[str, str] = INSTRUMENT_CURVES,
) -> Table:
    """Stars (and some galaxies) uniformly over a cone, with realistic number counts.

    Parameters
    ----------
    r_bright, r_faint : float
        Range of r magnitudes drawn (AB).
    density_r22 : float
        Stars per arcmin² brighter than r = 22 (a high-latitude field has ~1; several at
        galactic latitude |b| ~ 20-30 deg).
        Counts grow as 10^(0.25 r), close to observed star counts at faint magnitudes.
    galaxy_fraction : float
        Fraction of the sources fainter than r = 19 that are galaxies.
    curves : mapping
        The instrument's filter curve (speclite name) per band, in which ``mag_<band>`` is given
        (:mod:`potpyri.sim.seds`); a band not listed is in its reference curve.

    Returns
    -------
    astropy.table.Table
        ``id, ra, dec, pmra, pmdec`` (deg, mas/yr), one ``mag_<band>`` column per band (AB,
        through the instrument's curve: what the frames show), ``ref_mag_<band>`` (AB, through
        the band's reference curve) where the two differ, ``teff_<band>_K`` (the blackbody
        temperature of the spectrum around the band, which relates them) and galaxy shape
        columns (``is_galaxy``, ``re_arcsec``, ``axis_ratio``, ``pa_deg``).
    """
    area = np.pi * (radius_deg * 60) ** 2
    slope = 0.25
    total = density_r22 * area * (10 ** (slope * (r_faint - 22)) - 10 ** (slope * (r_bright - 22)))
    n = int(rng.poisson(max(total, 1.0)))
    u = rng.uniform(size=n)
    lo, hi = 10 ** (slope * r_bright), 10 ** (slope * r_faint)
    r = np.log10(lo + u * (hi - lo)) / slope
    # Uniform on the sphere within the cone.
    rho = radius_deg * np.sqrt(rng.uniform(size=n))
    theta = rng.uniform(0, 2 * np.pi, n)
    dec = dec0 + rho * np.sin(theta)
    ra = ra0 + rho * np.cos(theta) / np.cos(np.deg2rad(dec0))
    g_r = np.clip(rng.normal(0.75, 0.35, n), 0.1, 1.6)
    galaxy = (r > 19) & (rng.uniform(size=n) < galaxy_fraction)
    table = Table()
    table["id"] = np.arange(1, n + 1)
    table["ra"], table["dec"] = ra, dec
    table["pmra"] = np.where(galaxy, 0.0, rng.normal(0, 6, n))
    table["pmdec"] = np.where(galaxy, 0.0, rng.normal(-3, 6, n))
    for name, column in star_magnitudes(r, g_r, curves).items():
        table[name] = column
    table["is_galaxy"] = galaxy
    table["re_arcsec"] = np.where(galaxy, rng.uniform(0.4, 1.5, n), 0.0)
    table["axis_ratio"] = np.where(galaxy, rng.uniform(0.4, 1.0, n), 1.0)
    table["pa_deg"] = rng.uniform(0, 180, n)
    table.meta["center"] = [ra0, dec0]
    table.meta["radius_deg"] = radius_deg
    return table

"""Reference catalogs drawn from the truth, written into the catalog cache in the raw format of
each service's answer (so the pipeline's own catalog code reads them, offline).

Each survey's magnitudes are its own filter curves' (:mod:`potpyri.sim.seds`), not the
instrument's: the zero point meets a colour term as in life.

Realism: magnitude-dependent errors, survey depth limits, saturation at the bright end, a few
per cent of entries missing, position errors (and for Gaia, positions at its 2016.0 epoch). The
Gaia synthetic photometry (GSPC) lists stars of G < 17.65 only, Johnson-Kron-Cousins in Vega and
SDSS in AB, each band only where its flux is measured to S/N > 30, as the real catalogue.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

import numpy as np
from astropy.table import Table

from potpyri.catalogs.cache import CatalogCache, Cone
from potpyri.catalogs.magsys import VEGA_TO_AB
from potpyri.catalogs.query import CATALOGS, GSPC_G_LIMIT
from potpyri.sim.seds import INSTRUMENT_CURVES, REFERENCE_CURVES, SURVEY_CURVES, curve_offset
from potpyri.sim.truth import star_magnitudes

__all__ = ["colour_zero_offset", "seed_catalog_cache"]

#: catalog -> (bands with their (faint limit, bright saturation) in AB, dec range covered)
_SURVEYS = {
    "gaia": ({"G": (20.7, 3.0), "BP": (21.0, 3.0), "RP": (20.2, 3.0)}, (-90, 90)),
    "ps1": (
        {b: (m, 14.5) for b, m in zip("grizy", (23.0, 22.8, 22.5, 21.8, 21.0), strict=True)},
        (-30, 90),
    ),
    "sdss": (
        {b: (m, 14.0) for b, m in zip("ugriz", (22.0, 22.2, 22.2, 21.3, 20.5), strict=True)},
        (-10, 70),
    ),
    "skymapper": (
        {b: (m, 9.0) for b, m in zip("uvgriz", (19.5, 19.5, 21.5, 21.0, 20.5, 19.8), strict=True)},
        (-90, 2),
    ),
    "2mass": ({"J": (17.8, 9.0), "H": (17.4, 8.5), "K": (16.9, 8.0)}, (-90, 90)),  # AB limits
    "gspc": ({"G": (GSPC_G_LIMIT, 3.0)}, (-90, 90)),  # detection in G; bands: _gspc_answer
}
#: GSPC magnitude error per band relative to V (XP spectra are noisier in the blue), with
#: ``_GSPC_ERR_V17`` the V error at G = 17 and a 2 mmag floor (standardisation).
_GSPC_ERR_SCALE = {"B": 1.6, "V": 1.0, "R": 0.9, "I": 1.0, "u": 4.0, "g": 1.0, "r": 0.8}
_GSPC_ERR_SCALE |= {"i": 0.9, "z": 1.4, "U": 4.0}
_GSPC_ERR_V17 = 0.01
#: Zero-magnitude flux densities of the GSPC flux columns: Vega in U B V R I (W m-2 nm-1,
#: approximate: only the error-to-flux ratio matters to a reader) and AB (3631 Jy, W m-2 Hz-1).
_GSPC_F0 = {"U": 4.2e-11, "B": 6.3e-11, "V": 3.6e-11, "R": 2.2e-11, "I": 1.1e-11}
_GSPC_F0 |= {b: 3.631e-23 for b in "ugriz"}


def seed_catalog_cache(
    cache_dir: Path,
    stars: Table,
    ra: float,
    dec: float,
    radius: float,
    *,
    epoch: float,
    rng: np.random.Generator,
) -> list[Path]:
    """Write every catalog that covers (ra, dec) for the cone into ``cache_dir``."""
    cache = CatalogCache(cache_dir)
    cone = Cone(ra, dec, radius)
    written = []
    point_like = ~np.asarray(stars["is_galaxy"])
    for name, (bands, (dec_lo, dec_hi)) in _SURVEYS.items():
        if not dec_lo <= dec <= dec_hi:
            continue
        keep = np.ones(len(stars), bool)
        keep &= rng.uniform(size=len(stars)) > 0.03  # entries a survey simply lacks
        if name in ("gaia", "2mass", "gspc"):
            keep &= point_like | (np.asarray(stars["mag_r"]) < 19)
        # A survey lists a source detected in any of its bands (per-band values beyond that band's
        # limit are masked by _raw_answer), not only those above the first band's limit. Gaia
        # detects in G only (BP/RP are measured for G sources).
        detected = np.zeros(len(stars), bool)
        for band, (limit, _bright) in ({"G": bands["G"]} if name == "gaia" else bands).items():
            detected |= _survey_mag(stars, name, band) < limit
        keep &= detected
        subset = stars[keep]
        written.append(
            cache.store(name, cone, _raw_answer(name, subset, bands, epoch, rng), "potpyri.sim")
        )
    return written


def colour_zero_offset(
    survey: str,
    band: str,
    colour: tuple[str, str],
    curves: Mapping[str, str] = INSTRUMENT_CURVES,
    instrument_band: str | None = None,
) -> float:
    """Survey ``band`` minus instrument magnitude of a simulated star whose survey colour
    ``colour`` (bluer, redder band) is 0: what a zero point fitted with a linear colour term
    in that colour adds to the instrument's own AB zero point, for the simulator's stars.

    The star lies on the simulator's locus and blackbody spectra (extended beyond the colours
    drawn where colour 0 needs it); ``band`` and ``colour`` are survey band names (``y``, not
    ``Y``); ``instrument_band`` is the simulator's band of the instrument's filter (default: the
    survey band's, e.g. ``R`` for an R filter calibrated on PS1 r).
    """
    g_r = np.linspace(-1.0, 2.5, 701)
    stars = Table(star_magnitudes(np.full(g_r.size, 18.0), g_r, curves))
    blue, red = (_survey_mag(stars, survey, b) for b in colour)
    instrument_band = instrument_band or ("Y" if band == "y" else band)
    offset = _survey_mag(stars, survey, band) - np.asarray(stars[f"mag_{instrument_band}"], float)
    c = blue - red
    order = np.argsort(c)
    if not c.min() <= 0.0 <= c.max():
        raise ValueError(f"{survey} {colour[0]}-{colour[1]} = 0 is off the simulated locus")
    return float(np.interp(0.0, c[order], offset[order]))


def _raw_answer(
    name: str, stars: Table, bands: dict, epoch: float, rng: np.random.Generator
) -> Table:
    n = len(stars)
    out = Table()
    ra, dec = np.asarray(stars["ra"], float), np.asarray(stars["dec"], float)
    if name == "gspc":
        return _gspc_answer(stars, epoch, rng)
    if name == "gaia":
        years = epoch - 2016.0
        pmra, pmdec = np.asarray(stars["pmra"], float), np.asarray(stars["pmdec"], float)
        g = _survey_mag(stars, "gaia", "G")
        pos_err = 0.02 + 0.3 * 10 ** (0.4 * (g - 20.5))  # mas
        out["source_id"] = 4_000_000_000_000 + np.asarray(stars["id"], np.int64)
        out["ra"] = (
            ra - pmra * years / 3.6e6 / np.cos(np.deg2rad(dec)) + rng.normal(0, pos_err / 3.6e6)
        )
        out["dec"] = dec - pmdec * years / 3.6e6 + rng.normal(0, pos_err / 3.6e6)
        out["ra_error"], out["dec_error"] = pos_err, pos_err
        out["pmra"] = pmra + rng.normal(0, pos_err, n)
        out["pmdec"] = pmdec + rng.normal(0, pos_err, n)
        out["pmra_error"], out["pmdec_error"] = pos_err, pos_err
        out["parallax"] = np.abs(rng.normal(0.5, 0.3, n))
        for band, column in (
            ("G", "phot_g_mean_mag"),
            ("BP", "phot_bp_mean_mag"),
            ("RP", "phot_rp_mean_mag"),
        ):
            mag = _survey_mag(stars, "gaia", band)
            out[column] = mag + rng.normal(0, 0.002 + 0.02 * 10 ** (0.4 * (mag - 20)))
        out["ref_epoch"] = np.full(n, 2016.0)
        return out
    pos_err = {"ps1": 0.02, "sdss": 0.05, "skymapper": 0.1, "2mass": 0.08}[name]  # arcsec
    columns = {
        "ps1": ("objID", "RAJ2000", "DEJ2000", "{b}mag", "e_{b}mag"),
        "sdss": ("objID", "RA_ICRS", "DE_ICRS", "{b}mag", "e_{b}mag"),
        "skymapper": ("ObjectId", "RAICRS", "DEICRS", "{b}PSF", "e_{b}PSF"),
        "2mass": ("2MASS", "RAJ2000", "DEJ2000", "{b}mag", "e_{b}mag"),
    }[name]
    ids = np.asarray(stars["id"], np.int64)
    out[columns[0]] = (
        [f"J{r:09.5f}{d:+09.5f}" for r, d in zip(ra, dec, strict=True)]
        if name == "2mass"
        else 100_000_000_000 + ids
    )
    out[columns[1]] = ra + rng.normal(0, pos_err / 3600 / np.cos(np.deg2rad(dec)), n)
    out[columns[2]] = dec + rng.normal(0, pos_err / 3600, n)
    for band, (limit, bright) in bands.items():
        mag = _survey_mag(stars, name, band)
        err = 0.008 + 0.2 * 10 ** (0.4 * (mag - limit))
        measured = mag + rng.normal(0, err)
        usable = (mag < limit + 0.5) & (mag > bright)
        value = measured - VEGA_TO_AB[band] if name == "2mass" else measured
        col = band if name != "2mass" else band
        out[columns[3].format(b=col)] = np.ma.masked_array(value, ~usable)
        out[columns[4].format(b=col)] = np.ma.masked_array(err, ~usable)
    if name == "sdss":
        out["class"] = np.where(np.asarray(stars["is_galaxy"]), 3, 6)
    if name == "2mass":
        out["Qflg"] = "AAA"
    return out


def _gspc_answer(stars: Table, epoch: float, rng: np.random.Generator) -> Table:
    """The archive's answer to the GSPC ADQL (potpyri.catalogs.query.gspc_adql): gaia_source's
    positions at 2016.0, proper motions and G, then per band magnitude, flux, flux error and flag
    (1: in the validated range), a band left empty where its S/N would be <= 30."""
    gaia = _raw_answer("gaia", stars, {}, epoch, rng)
    out = gaia["source_id", "ra", "dec", "pmra", "pmdec", "phot_g_mean_mag", "ref_epoch"]
    out["c_star"] = rng.normal(0.0, 0.02, len(stars))
    g = _survey_mag(stars, "gaia", "G")
    spec = CATALOGS["gspc"]
    for band, (mag_col, _none) in spec.bands.items():
        flux_col, err_col = spec.flux_cols[band]
        stem = mag_col.removesuffix("_mag")
        if f"mag_{band}" in stars.colnames:
            truth = _survey_mag(stars, "gspc", band) - spec.vega_to_ab.get(band, 0.0)
        else:  # no truth in this band (Johnson U): the catalogue's entry stays empty
            truth = np.full(len(stars), np.nan)
        err = 0.002 + _GSPC_ERR_SCALE[band] * _GSPC_ERR_V17 * 10 ** (0.4 * (g - 17.0))
        mag = truth + rng.normal(0.0, err)
        flux = _GSPC_F0[band] * 10 ** (-0.4 * mag)
        missing = ~np.isfinite(mag) | (err >= 2.5 / np.log(10) / 30.0)  # S/N <= 30: not listed
        out[mag_col] = np.ma.masked_array(mag, missing)
        out[flux_col] = np.ma.masked_array(flux, missing)
        out[err_col] = np.ma.masked_array(flux * err / (2.5 / np.log(10)), missing)
        out[f"{stem}_flag"] = np.ma.masked_array(np.ones(len(stars), np.int16), missing)
    return out[np.asarray(out["phot_g_mean_mag"]) < GSPC_G_LIMIT]  # the catalogue's own G cut


def _survey_mag(stars: Table, survey: str, band: str) -> np.ndarray:
    """AB magnitude of the stars in a survey's band (through its curve, potpyri.sim.seds; PS1 y
    is the truth Y; SkyMapper v lies between u and g)."""
    if band == "v":
        u, g = _survey_mag(stars, survey, "u"), _survey_mag(stars, survey, "g")
        return 0.5 * (u + g)
    generic = "Y" if band == "y" else band
    column = f"ref_mag_{generic}" if f"ref_mag_{generic}" in stars.colnames else f"mag_{generic}"
    reference = np.asarray(stars[column], float)
    curve = SURVEY_CURVES[survey].get(band)
    if curve is None or f"teff_{generic}_K" not in stars.colnames:
        return reference
    teff = np.asarray(stars[f"teff_{generic}_K"], float)
    return reference + curve_offset(teff, curve, REFERENCE_CURVES[generic])

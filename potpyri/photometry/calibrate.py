"""Flux calibration of a photometered stack: which catalog, which stars, the zero point, the depth.

The calibration stars are the measured sources of S/N >= ``min_snr`` without an
:data:`~potpyri.photometry.flags.UNUSABLE_FOR_CALIBRATION` flag, cross-matched with the catalog
stars of good photometry (:func:`~potpyri.photometry.zeropoint.crossmatch`); the zero point is
their sigma-clipped weighted mean offset (:func:`~potpyri.photometry.zeropoint.fit_zeropoint`).
"""

from __future__ import annotations

import enum
import logging
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np
from astropy.io import fits
from astropy.table import Table
from astropy.wcs import WCS

from potpyri.catalogs import CATALOGS, CatalogUnavailable, query
from potpyri.catalogs.cache import Cone
from potpyri.catalogs.choice import band_of, catalog_order
from potpyri.catalogs.cones import image_cone
from potpyri.catalogs.user_file import UserCatalog, legacy_settings, user_catalog
from potpyri.photometry.flags import UNUSABLE_FOR_CALIBRATION
from potpyri.photometry.measure import PhotometryMethod
from potpyri.photometry.zeropoint import (
    ZeroPoint,
    crossmatch,
    fit_zeropoint,
    limiting_magnitude,
)

__all__ = [
    "calibration_flux",
    "COLOR_INDEX",
    "Calibration",
    "CatalogChoice",
    "FluxKind",
    "calibrate",
    "catalog_candidates",
    "catalog_color",
    "catalog_system",
    "configured_choice",
    "configured_reference_stars",
    "field_cone",
    "reference_stars",
    "with_magnitudes",
    "write_uncalibrated_header",
    "write_zeropoint_header",
]

log = logging.getLogger("potpyri.catalogs")


class FluxKind(str, enum.Enum):
    """Which fluxes are calibrated."""

    psf = "psf"  #: PSFPHOT's total PSF-fit fluxes
    aperture = "aperture"  #: APPPHOT's aperture-corrected fluxes

    @property
    def table(self) -> str:
        """The stack extension holding these fluxes."""
        return "PSFPHOT" if self is FluxKind.psf else "APPPHOT"


#: The reference catalog of the zero point: ``auto`` (potpyri.catalogs.choice.catalog_order) or
#: a catalog by name (the survey spellings of the instrument files are accepted too).
CatalogChoice = enum.Enum(
    "CatalogChoice",
    {
        "auto": "auto",
        "ps1": "ps1",
        "sdss": "sdss",
        "skymapper": "skymapper",
        "2mass": "2mass",
        "gspc": "gspc",
        "PS1": "ps1",
        "SDSS": "sdss",
        "SkyMapper": "skymapper",
        "2MASS": "2mass",
        "GSPC": "gspc",
    },
    type=str,
)
CatalogChoice.__module__ = __name__
CatalogChoice.__doc__ = "The reference catalog of the zero point (auto: the closest band first)."

#: The catalog colour (bluer band, redder band) of the colour term, per calibrated band: g-r for
#: the SDSS-like bands g to y, as Tonry et al. (2012, ApJ 750, 99) transform PS1 in every band (a
#: colour next to i, z or y, such as r-i, spans a narrower range than g-r with larger errors,
#: which leaves a less certain slope to extrapolate to colour 0), else the colour next to the band.
COLOR_INDEX: dict[str, tuple[str, str]] = {
    "u": ("u", "g"),
    "v": ("v", "g"),
    "g": ("g", "r"),
    "r": ("g", "r"),
    "i": ("g", "r"),
    "z": ("g", "r"),
    "y": ("g", "r"),
    "B": ("B", "V"),
    "V": ("B", "V"),
    "R": ("V", "R"),
    "I": ("R", "I"),
    "J": ("J", "K"),
    "H": ("J", "K"),
    "K": ("J", "K"),
}


@dataclass
class Calibration:
    """A stack's zero point, the stars behind it and its depth."""

    fit: ZeroPoint
    zpstars: Table  #: the matched calibration stars (ZPSTARS), ``used`` where not clipped
    shift: tuple[float, float]  #: offset (arcsec) between the WCS and the catalog, found first
    limits: dict[int, float]  #: point-source limiting magnitude per S/N (3, 5, 10)
    warnings: list[str]

    def summary(self, catalog: str, band: str) -> str:
        """One log line: the zero point, the stars behind it, the WCS offset and the depth."""
        fit = self.fit
        return (
            f"ZP {fit.zp:.4f} ± {fit.error:.4f} ({catalog} {band}, {fit.n_used:d} stars, "
            f'scatter {fit.scatter:.3f}, WCS offset {self.shift[0]:.1f}" {self.shift[1]:.1f}"), '
            f"M5SIGMA {self.limits[5]:.2f}"
        )


def calibration_flux(header: fits.Header, configured: FluxKind) -> FluxKind:
    """The fluxes to calibrate: the configured ones, or the aperture fluxes of a stack with
    aperture photometry alone (``PHOTMETH = 'APERTURE'``: no PSF photometry, see ``PHOTWHY``)."""
    aperture_only = header.get("PHOTMETH") == PhotometryMethod.aperture.value
    return FluxKind.aperture if aperture_only else configured


def field_cone(wcs: WCS, shape: tuple[int, int]) -> Cone:
    """The cone (deg) around an image's centre that reaches its corners
    (:func:`potpyri.catalogs.cones.image_cone`)."""
    return image_cone(wcs, shape)


def catalog_candidates(choice: CatalogChoice, band: str, dec: float, preference: str) -> list[str]:
    """The catalogs to try in turn: ``choice`` alone, or for ``auto`` those that have ``band`` at
    ``dec``, the closest band first (:func:`~potpyri.catalogs.choice.catalog_order`, with the
    instrument's ``preference``). Raises ValueError when none calibrates it."""
    if choice.value == "auto":
        return catalog_order(band, dec, preference)
    return [choice.value]


def catalog_system(catalog: str, band: str) -> tuple[str, float]:
    """The catalog's own magnitude system for ``band`` ('AB' or 'Vega') and the m_AB - m_Vega
    the parser added to reach AB (0 for AB catalogs and for a user's file, which is AB)."""
    spec = CATALOGS.get(catalog)
    if spec is None:
        return "AB", 0.0
    return spec.system(band), float(spec.vega_to_ab.get(band, 0.0))


def calibrate(
    sources: Table,
    apphot: Table,
    cat: Table,
    wcs: WCS,
    band: str,
    flux: FluxKind,
    *,
    min_snr: float,
    max_catalog_err_mag: float,
    match_radius_arcsec: float,
    search_radius_arcsec: float,
    sigma: float,
    color_term: bool,
    skysig: float,
    noise_area: float,
    catalog: str,
    cone: Cone,
) -> Calibration:
    """The zero point of ``sources`` (the PSFPHOT or APPPHOT table, as ``flux`` says) against
    ``cat`` (columns ra, dec, source_id, ``<band>_mag``, ``<band>_err``).

    ``apphot`` gives the sources' flags; ``skysig`` and ``noise_area`` (SKYSIG, NOISAREA) the
    limiting magnitudes; ``catalog`` and ``cone`` name the catalog and the field in the message of
    the ValueError raised when no star can be used.
    """
    psf = flux == FluxKind.psf
    x_col = "x_fit" if psf else "x_centroid"
    ok = np.isfinite(sources["mag_inst"]) & (sources["snr"] >= min_snr)
    ap_flags = dict(zip(np.asarray(apphot["id"]), np.asarray(apphot["flags"]), strict=True))
    bad_flags = np.array([ap_flags.get(i, 0) & UNUSABLE_FOR_CALIBRATION for i in sources["id"]])
    ok &= bad_flags == 0
    if psf:
        ok &= np.asarray(sources["flags"]) == 0
    cand = np.flatnonzero(ok)
    mag_col, err_col = f"{band}_mag", f"{band}_err"
    good_cat = np.isfinite(cat[mag_col]) & (
        np.nan_to_num(cat[err_col], nan=0.0) <= max_catalog_err_mag
    )
    cat = cat[good_cat]
    ra, dec = wcs.all_pix2world(
        np.asarray(sources[x_col])[cand],
        np.asarray(sources[x_col.replace("x", "y", 1)])[cand],
        0,
    )
    i, j, shift = crossmatch(
        ra, dec, cat["ra"], cat["dec"], radius=match_radius_arcsec, search=search_radius_arcsec
    )
    if len(i) == 0:
        raise ValueError(f"no {catalog} star matches a measured source in {cone}")
    src = sources[cand[i]]
    color, color_err, color_cov, color_name = catalog_color(cat[j], band, max_catalog_err_mag)
    fit = fit_zeropoint(
        src["mag_inst"],
        src["mag_inst_err"],
        cat[mag_col][j],
        cat[err_col][j],
        sigma=sigma,
        color=color,
        fit_color=color_term,
        color_err=color_err,
        color_cov=color_cov,
    )
    if fit.color_term:
        fit.color = color_name
    limits = {n: limiting_magnitude(fit.zp, skysig, noise_area, n) for n in (3, 5, 10)}
    warnings = []
    if fit.n_used < 10:
        warnings.append(f"zero point from {fit.n_used} stars (< 10)")
    if fit.error > 0.05:
        warnings.append(f"zero-point uncertainty {fit.error:.3f} mag (> 0.05)")
    zpstars = Table(
        {
            "id": src["id"],
            "ra": cat["ra"][j],
            "dec": cat["dec"][j],
            "catalog_id": cat["source_id"][j],
            "catalog_mag": cat[mag_col][j],
            "catalog_err": cat[err_col][j],
            "mag_inst": src["mag_inst"],
            "mag_inst_err": src["mag_inst_err"],
            "color": color,
            "used": fit.used,
        }
    )
    return Calibration(fit, zpstars, shift, limits, warnings)


def catalog_color(
    cat: Table, band: str, max_catalog_err_mag: float
) -> tuple[np.ndarray, np.ndarray, np.ndarray, str]:
    """The catalog colour of :data:`COLOR_INDEX` for each star of ``cat`` (NaN where a band is
    missing or its error exceeds ``max_catalog_err_mag``), its error, the covariance of its error
    with that of the catalog's ``band`` (the band's variance, negative for the redder band, where
    the colour holds ``band``; else 0) and its name (``g-r``); all NaN and "" when the catalog
    lacks either band."""
    blue, red = COLOR_INDEX.get(band, ("", ""))
    columns = [f"{b}_{q}" for b in (blue, red) for q in ("mag", "err")]
    if not blue or any(c not in cat.colnames for c in columns):
        nan = np.full(len(cat), np.nan)
        return nan, nan, nan, ""
    values, errors = [], []
    for b in (blue, red):
        mag = np.ma.filled(np.ma.asarray(cat[f"{b}_mag"], float), np.nan)
        err = np.ma.filled(np.ma.asarray(cat[f"{b}_err"], float), np.nan)
        good = np.nan_to_num(err, nan=0.0) <= max_catalog_err_mag
        values.append(np.where(good, mag, np.nan))
        errors.append(np.where(good, err, np.nan))
    sign = {blue: 1.0, red: -1.0}.get(band, 0.0)
    cov = sign * errors[0 if sign > 0 else 1] ** 2 if sign else np.zeros(len(cat))
    return values[0] - values[1], np.hypot(*errors), cov, f"{blue}-{red}"


def with_magnitudes(table: Table, zp: float) -> Table:
    """``table`` (APPPHOT or PSFPHOT) with calibrated ``mag`` and ``mag_err`` (which leaves the
    zero point's uncertainty out)."""
    table["mag"] = table["mag_inst"] + zp
    table["mag_err"] = table["mag_inst_err"]
    return table


def write_zeropoint_header(
    header: fits.Header, fit: ZeroPoint, catalog: str, band: str, limits: dict
) -> None:
    """The zero-point and limiting-magnitude keywords (docs/keywords.yaml)."""
    system, offset = catalog_system(catalog, band)
    header["ZPTMAG"] = (round(fit.zp, 5), "AB zero point: m = -2.5 log10(e-/s) + ZPTMAG")
    header["ZPTMSYS"] = ("AB", "magnitude system of ZPTMAG and catalog mag")
    header["ZPTCSYS"] = (system, "catalog's own system in ZPTBAND")
    header["ZPTVEGAB"] = (round(offset, 4), "m_AB - m_Vega added to the catalog, mag")
    header["ZPTMUCER"] = (round(fit.error, 5), "zero-point uncertainty, mag")
    header["ZPTNSTAR"] = (fit.n_used, "stars used for the zero point")
    header["ZPTSCAT"] = (round(fit.scatter, 5), "star-to-star scatter of the zero point, mag")
    header["ZPTCAT"] = (catalog[:60], "zero-point catalog")
    header["ZPTBAND"] = (band, "catalog band")
    header["ZPCOLTRM"] = (round(fit.color_term, 5), "cat. - instr. mag per mag of ZPCOLOR")
    header["ZPCOLOR"] = (fit.color or "none", "catalog colour of ZPCOLTRM")
    for n, value in limits.items():
        header[f"M{n}SIGMA"] = (
            round(value, 4) if np.isfinite(value) else -99.0,
            f"{n}-sigma point-source limiting magnitude",
        )


#: The cards a zero point writes, removed from a stack left uncalibrated.
_ZEROPOINT_CARDS = (
    *("ZPTMAG", "ZPTMUCER", "ZPTNSTAR", "ZPTSCAT", "ZPTCAT", "ZPTBAND", "ZPCOLTRM", "ZPCOLOR"),
    *("ZPTMSYS", "ZPTCSYS", "ZPTVEGAB", "M3SIGMA", "M5SIGMA", "M10SIGMA"),
)


def write_uncalibrated_header(header: fits.Header, why: str) -> None:
    """The card that says why a stack has no zero point (no ZPT* value is written)."""
    for key in _ZEROPOINT_CARDS:
        header.remove(key, ignore_missing=True)
    header["ZPTWHY"] = why[:68]  # no room for a comment: docs/keywords.yaml


def calibration_band(
    filter_name: str,
    settings: Any,
    catalog_file: str | None,
    aliases: Mapping[str, str] | None = None,
) -> tuple[str | None, UserCatalog | None]:
    """The band calibrating ``filter_name`` and the user's catalog file serving it (None: a
    survey does): ``settings`` is the run's ``catalog`` group, ``catalog_file`` the deprecated
    ``zeropoint.catalog_file``, ``aliases`` the instrument's ``filter_bands``. The band is None
    when neither the file nor a catalog has it (a narrow band: the stack stays uncalibrated).

    Raises ``ValueError`` with the one-line reason when the user's file cannot be used.
    """
    user = user_catalog(legacy_settings(settings, catalog_file), [filter_name])
    band = user.band_for(filter_name) if user is not None else None
    if band is not None:
        return band, user
    return band_of(filter_name, aliases), None


def reference_stars(
    band: str,
    cone: Cone,
    *,
    choice: CatalogChoice,
    user: UserCatalog | None,
    preference: str,
    epoch: float | None,
    cache_dir: str | None,
    offline: bool,
    label: str,
    max_catalog_err_mag: float = 0.1,
    min_stars: int = 10,
) -> tuple[str, Table]:
    """The calibration catalog's name and its stars in ``cone``: a user's file (``user``, from
    :func:`calibration_band`), or a survey.

    Catalogs are tried in the order of :func:`catalog_candidates`; the first with at least
    ``min_stars`` stars of good ``band`` photometry (error <= ``max_catalog_err_mag``) in the cone
    wins, else the one with the most such stars. Raises ``ValueError`` with the one-line reason
    (``label`` names the stack) when there is none.
    """
    if user is not None:
        return user.label, user.calibration_stars(band, cone, epoch)
    try:
        names = catalog_candidates(choice, band, cone.dec, preference)
    except ValueError as exc:
        raise ValueError(f"{label}: {exc}") from None
    found: list[tuple[int, str, Table]] = []
    reasons: list[str] = []
    for name in names:
        try:
            table = query(
                name,
                cone.ra,
                cone.dec,
                cone.radius,
                epoch=epoch,
                cache_dir=cache_dir,
                offline=offline,
            )
        except CatalogUnavailable as exc:
            reasons.append(str(exc))
            continue
        if f"{band}_mag" not in table.colnames:
            reasons.append(f"{name} has no {band} band (cone {cone})")
            continue
        mag, err = np.asarray(table[f"{band}_mag"]), np.asarray(table[f"{band}_err"])
        good = np.isfinite(mag) & (np.nan_to_num(err, nan=0.0) <= max_catalog_err_mag)
        usable = int(np.sum(good))
        if usable >= min_stars:
            return name, table
        found.append((usable, name, table))
        if name != names[-1]:
            log.info(
                "%s: %s has %d stars with %s <= %.2f mag error in %s (< %d); trying %s",
                label, name, usable, band, max_catalog_err_mag, cone, min_stars,
                names[names.index(name) + 1],
            )  # fmt: skip
    if found:
        usable, name, table = max(found, key=lambda f: f[0])  # the first of equals
        return name, table
    raise ValueError("; ".join(reasons))


def configured_choice(
    choice: CatalogChoice, filter_name: str, band: str, instrument
) -> CatalogChoice:
    """``choice`` (the zeropoint config's), or where it is auto the catalog the instrument's
    ``zp_catalogs`` fixes for the filter (by filter name, then band).

    Raises ``ValueError`` with one line naming an unknown catalog.
    """
    by_filter = dict(instrument.get("zp_catalogs") or {})
    fixed = by_filter.get(filter_name) or by_filter.get(band)
    if not fixed or choice.value != "auto":
        return choice
    name = str(fixed)  # a member's name (PS1, GSPC) or value (ps1, gspc), as in a recipe
    members = CatalogChoice.__members__
    try:
        return members[name] if name in members else CatalogChoice(name)
    except ValueError:
        known = ", ".join(sorted({c.value for c in CatalogChoice} - {"auto"}))
        raise ValueError(
            f"instrument zp_catalogs: unknown catalog {fixed!r} for filter {filter_name!r} "
            f"(known: {known})"
        ) from None


def configured_reference_stars(
    band: str,
    filter_name: str,
    cone: Cone,
    zp,
    catalog_settings,
    instrument,
    *,
    user: UserCatalog | None = None,
    epoch: float | None,
    label: str,
) -> tuple[str, Table]:
    """:func:`reference_stars` as the zeropoint config ``zp``, the ``catalog`` settings and the
    instrument set it (``user``: the user's file serving the band, which then wins): the
    instrument's ``zp_catalogs`` (by filter name, then band) fixes the catalog where
    ``zp.catalog`` is auto; its ``catalog_zp`` is the preferred survey."""
    return reference_stars(
        band,
        cone,
        choice=configured_choice(zp.catalog, filter_name, band, instrument),
        user=user,
        preference=str(instrument.get("catalog_zp", "PS1")),
        epoch=epoch,
        cache_dir=catalog_settings.get("cache_dir"),
        offline=bool(catalog_settings.offline),
        label=label,
        max_catalog_err_mag=zp.max_catalog_err_mag,
        min_stars=zp.min_catalog_stars,
    )

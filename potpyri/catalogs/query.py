"""Catalog queries: one description per catalog, a cache in front, one parser for every answer.

Column sets are those the services document: Gaia DR3 ``gaiadr3.gaia_source`` and the Gaia
Synthetic Photometry Catalogue ``gaiadr3.synthetic_photometry_gspc`` (Gaia Collaboration,
Montegriffo et al. 2023, A&A 674, A33: Johnson-Kron-Cousins UBVRI in Vega, standardised SDSS ugriz
in AB, complete to G ~ 17.65) through the Gaia archive (astroquery.gaia); Pan-STARRS DR1 (VizieR
``II/349/ps1``), SDSS DR12 (``V/147/sdss12``), SkyMapper DR2 (``II/358/smss``) and 2MASS
(``II/246/out``) through VizieR.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np
from astropy.table import Table

from potpyri.catalogs.cache import CatalogCache, CatalogUnavailable, Cone, in_cone
from potpyri.catalogs.magsys import VEGA_TO_AB

__all__ = ["CATALOGS", "GSPC_G_LIMIT", "CatalogSpec", "gspc_adql", "parse", "query"]

log = logging.getLogger("potpyri.catalogs")


@dataclass(frozen=True)
class CatalogSpec:
    """How one catalog's raw answer maps onto the standard columns."""

    name: str
    service: str  #: 'gaia' or a VizieR catalogue id
    id_col: str
    ra_col: str
    dec_col: str
    bands: dict[str, tuple[str, str | None]]  #: band -> (raw magnitude column, raw error column)
    vega_to_ab: dict[str, float] = field(default_factory=dict)  #: added to Vega magnitudes
    pm_cols: tuple[str, str] | None = None
    ref_epoch: float | None = None  #: epoch of the positions (Gaia: 2016.0)
    star_filter: Callable[[Table], np.ndarray] | None = None
    #: band -> (raw flux column, raw flux-error column): the magnitude error is 1.0857 err/flux
    #: (bands whose error column in ``bands`` is None)
    flux_cols: dict[str, tuple[str, str]] = field(default_factory=dict)

    def system(self, band: str) -> str:
        """Magnitude system of the catalog's own ``band`` values: 'Vega' or 'AB'."""
        return "Vega" if band in self.vega_to_ab else "AB"


#: Faintest Gaia G of the Gaia Synthetic Photometry Catalogue (its completeness limit).
GSPC_G_LIMIT = 17.65
#: GSPC bands used: Johnson-Kron-Cousins (Vega) and standardised SDSS (AB). Its PS1 y is left
#: out (published without the faint-end offset: a known issue of the DR3 table).
_GSPC_BANDS = {**{b: f"{b.lower()}_jkc" for b in "UBVRI"}, **{b: f"{b}_sdss" for b in "ugriz"}}


CATALOGS: dict[str, CatalogSpec] = {
    "gaia": CatalogSpec(
        "gaia",
        "gaia",
        "source_id",
        "ra",
        "dec",
        {
            "G": ("phot_g_mean_mag", None),
            "BP": ("phot_bp_mean_mag", None),
            "RP": ("phot_rp_mean_mag", None),
        },
        pm_cols=("pmra", "pmdec"),
        ref_epoch=2016.0,
    ),
    "gspc": CatalogSpec(
        "gspc",
        "gaia-gspc",
        "source_id",
        "ra",
        "dec",
        {b: (f"{stem}_mag", None) for b, stem in _GSPC_BANDS.items()},
        vega_to_ab={b: VEGA_TO_AB[b] for b in "UBVRI"},
        pm_cols=("pmra", "pmdec"),
        ref_epoch=2016.0,
        flux_cols={b: (f"{stem}_flux", f"{stem}_flux_error") for b, stem in _GSPC_BANDS.items()},
    ),
    "ps1": CatalogSpec(
        "ps1",
        "II/349/ps1",
        "objID",
        "RAJ2000",
        "DEJ2000",
        {b: (f"{b}mag", f"e_{b}mag") for b in "grizy"},
    ),
    "sdss": CatalogSpec(
        "sdss",
        "V/147/sdss12",
        "objID",
        "RA_ICRS",
        "DE_ICRS",
        {b: (f"{b}mag", f"e_{b}mag") for b in "ugriz"},
        star_filter=lambda t: np.asarray(t["class"]) == 6,
    ),
    "skymapper": CatalogSpec(
        "skymapper",
        "II/358/smss",
        "ObjectId",
        "RAICRS",
        "DEICRS",
        {b: (f"{b}PSF", f"e_{b}PSF") for b in "uvgriz"},
    ),
    "2mass": CatalogSpec(
        "2mass",
        "II/246/out",
        "2MASS",
        "RAJ2000",
        "DEJ2000",
        {"J": ("Jmag", "e_Jmag"), "H": ("Hmag", "e_Hmag"), "K": ("Kmag", "e_Kmag")},
        vega_to_ab={b: VEGA_TO_AB[b] for b in "JHK"},
    ),
}


def query(
    catalog: str,
    ra: float,
    dec: float,
    radius_deg: float,
    *,
    epoch: float | None = None,
    cache_dir=None,
    offline: bool = False,
    retries: int = 3,
) -> Table:
    """Sources of ``catalog`` within ``radius_deg`` of (ra, dec), in standard columns.

    Parameters
    ----------
    catalog : str
        One of :data:`CATALOGS` (``gaia``, ``gspc``, ``ps1``, ``sdss``, ``skymapper``,
        ``2mass``).
    epoch : float, optional
        Decimal year to propagate positions to with proper motions (where the catalog has them).
    cache_dir : path, optional
        Cache folder; default :func:`potpyri.catalogs.default_cache_dir`.
    offline : bool
        Use the cache only.
    retries : int
        Live attempts, with exponential back-off, before giving up.

    Raises
    ------
    CatalogUnavailable
        Naming the catalog and the cone, when neither cache nor service can answer.
    """
    try:
        spec = CATALOGS[catalog.lower()]
    except KeyError:
        raise ValueError(f"unknown catalog {catalog!r} (known: {', '.join(CATALOGS)})") from None
    cone = Cone(float(ra), float(dec), float(radius_deg))
    cache = CatalogCache(cache_dir)
    raw = cache.find(spec.name, cone)
    if raw is None:
        if offline:
            raise CatalogUnavailable(
                f"{spec.name}: no cached answer covers the cone {cone} and "
                f"catalog.offline=true (cache: {cache.root})"
            )
        raw = _ask_service(spec, cone, retries)
        cache.store(spec.name, cone, raw, spec.service)
    return in_cone(parse(spec.name, raw, epoch=epoch), cone)


def parse(catalog: str, raw: Table, *, epoch: float | None = None) -> Table:
    """Turn a raw answer (the service's own columns) into the standard columns."""
    spec = CATALOGS[catalog]
    if spec.star_filter is not None and len(raw):
        raw = raw[spec.star_filter(raw)]
    out = Table()
    out["source_id"] = np.asarray(raw[spec.id_col]).astype(str)
    out["ra"] = _float(raw[spec.ra_col])
    out["dec"] = _float(raw[spec.dec_col])
    if spec.pm_cols:
        out["pmra"] = np.nan_to_num(_float(raw[spec.pm_cols[0]]))
        out["pmdec"] = np.nan_to_num(_float(raw[spec.pm_cols[1]]))
        if epoch is not None and spec.ref_epoch is not None:
            years = epoch - spec.ref_epoch
            out["dec"] = out["dec"] + out["pmdec"] * years / 3.6e6
            out["ra"] = out["ra"] + out["pmra"] * years / 3.6e6 / np.cos(np.deg2rad(out["dec"]))
    for band, (mag_col, err_col) in spec.bands.items():
        mag = _float(raw[mag_col]) + spec.vega_to_ab.get(band, 0.0)
        out[f"{band}_mag"] = mag
        if band in spec.flux_cols:
            flux, flux_err = (_float(raw[c]) for c in spec.flux_cols[band])
            with np.errstate(divide="ignore", invalid="ignore"):
                err = 2.5 / np.log(10) * flux_err / flux
            out[f"{band}_err"] = np.where(np.isfinite(mag) & (flux > 0), err, np.nan)
        else:
            out[f"{band}_err"] = (
                _float(raw[err_col]) if err_col else np.where(np.isfinite(mag), 0.01, np.nan)
            )
    out.meta["catalog"] = catalog
    return out


def _float(column) -> np.ndarray:
    data = np.ma.asarray(column)
    if data.dtype == object:  # the archive's JSON answers (and their ECSV copies): nulls are None
        values = np.ma.filled(data, None)
        return np.array([np.nan if v is None else float(v) for v in values], float)
    return np.ma.filled(data.astype(float), np.nan)


def _ask_service(spec: CatalogSpec, cone: Cone, retries: int) -> Table:
    delay = 2.0
    for attempt in range(1, retries + 1):
        try:
            if spec.service == "gaia":
                answer = _gaia(cone)
            elif spec.service == "gaia-gspc":
                answer = _gspc(cone)
            else:
                answer = _vizier(spec.service, cone)
            return _checked(spec, answer)
        except Exception as exc:  # network errors come in many types; garbage answers too
            if attempt == retries:
                raise CatalogUnavailable(
                    f"{spec.name}: no usable answer from the service for the cone {cone} "
                    f"after {retries} attempts ({type(exc).__name__}: {exc})"
                ) from None
            log.warning(
                "%s: attempt %d failed (%s); retrying in %.0f s", spec.name, attempt, exc, delay
            )
            time.sleep(delay)
            delay *= 2
    raise AssertionError("unreachable")


def _checked(spec: CatalogSpec, answer: object) -> Table:
    """The answer if the parser can read it; an answer with no rows and no columns means no source.

    Anything else (an error page, a table without the catalog's columns) raises, so that it is
    retried and never written to the cache, where it would poison every later query of the cone.
    """
    if not isinstance(answer, Table):
        raise ValueError(f"the answer is a {type(answer).__name__}, not a table")
    if len(answer) == 0 and not answer.colnames:
        answer = Table({c: np.zeros(0, str if c == spec.id_col else float) for c in _columns(spec)})
    missing = [c for c in _columns(spec) if c not in answer.colnames]
    if missing:
        raise ValueError(f"the answer lacks the catalog's column(s) {', '.join(missing)}")
    parse(spec.name, answer)  # values that do not parse as numbers raise here
    return answer


def _columns(spec: CatalogSpec) -> list[str]:
    bands = [c for mag, err in spec.bands.values() for c in (mag, err) if c]
    fluxes = [c for pair in spec.flux_cols.values() for c in pair]
    return [spec.id_col, spec.ra_col, spec.dec_col, *(spec.pm_cols or ()), *bands, *fluxes]


def _gaia(cone: Cone) -> Table:
    from astroquery.gaia import Gaia

    adql = (
        "SELECT source_id, ra, dec, ra_error, dec_error, pmra, pmdec, pmra_error, pmdec_error, "
        "parallax, phot_g_mean_mag, phot_bp_mean_mag, phot_rp_mean_mag, ref_epoch "
        "FROM gaiadr3.gaia_source "
        "WHERE 1 = CONTAINS(POINT('ICRS', ra, dec), "
        f"CIRCLE('ICRS', {cone.ra}, {cone.dec}, {cone.radius}))"
    )
    return Gaia.launch_job_async(adql).get_results()


def gspc_adql(cone: Cone) -> str:
    """The ADQL of a GSPC cone: its magnitudes, fluxes, flux errors and flags joined with
    ``gaia_source`` for the positions, proper motions and G (the cone is on 2016.0 positions)."""
    stems = list(_GSPC_BANDS.values())
    photometry = ", ".join(
        f"s.{stem}_{what}" for stem in stems for what in ("mag", "flux", "flux_error", "flag")
    )
    return (
        "SELECT g.source_id, g.ra, g.dec, g.pmra, g.pmdec, g.phot_g_mean_mag, g.ref_epoch, "
        f"s.c_star, {photometry} "
        "FROM gaiadr3.synthetic_photometry_gspc AS s "
        "JOIN gaiadr3.gaia_source AS g ON g.source_id = s.source_id "
        "WHERE 1 = CONTAINS(POINT('ICRS', g.ra, g.dec), "
        f"CIRCLE('ICRS', {cone.ra}, {cone.dec}, {cone.radius}))"
    )


def _gspc(cone: Cone) -> Table:
    from astroquery.gaia import Gaia

    return Gaia.launch_job_async(gspc_adql(cone)).get_results()


def _vizier(catalog_id: str, cone: Cone) -> Table:
    import astropy.units as u
    from astropy.coordinates import SkyCoord
    from astroquery.vizier import Vizier

    result = Vizier(columns=["**"], row_limit=-1).query_region(
        SkyCoord(cone.ra, cone.dec, unit="deg"), radius=cone.radius * u.deg, catalog=catalog_id
    )
    return result[0] if len(result) else Table()

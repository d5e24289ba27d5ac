"""A user's own catalog file (``catalog.file``): read, checked and turned into reference stars.

The file (FITS, ECSV or CSV) gives positions and, per band, magnitudes in its own column names;
``catalog.columns`` maps them where the common spellings below do not find them. Magnitudes in
Vega are converted to AB with the one table of :mod:`potpyri.catalogs.magsys`. The file serves
the astrometry (positions) and/or the zero point (magnitudes), as ``catalog.use`` says.
"""

from __future__ import annotations

import enum
import re
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import Any

import numpy as np
from astropy.table import Table
from omegaconf import OmegaConf

from potpyri.catalogs.cache import Cone, in_cone
from potpyri.catalogs.choice import band_of
from potpyri.catalogs.magsys import VEGA_TO_AB

__all__ = [
    "CatalogUse",
    "DEFAULT_ERR_MAG",
    "MagSys",
    "UserCatalog",
    "UserCatalogError",
    "check_user_catalog",
    "legacy_settings",
    "read_table",
    "read_user_catalog",
    "user_catalog",
]

#: Error assumed for a magnitude without an error column, mag.
DEFAULT_ERR_MAG = 0.02

#: Table.read format per file suffix.
_FORMATS = {
    ".fits": "fits",
    ".fit": "fits",
    ".fts": "fits",
    ".fits.gz": "fits",
    ".ecsv": "ascii.ecsv",
    ".csv": "ascii.csv",
}
#: Column spellings tried when ``catalog.columns`` names none (VizieR's, Gaia's, plain ones).
_RA_NAMES = ("ra", "RA", "Ra", "RAJ2000", "_RAJ2000", "RA_ICRS", "RAdeg", "ra_deg", "RA_deg")
_DEC_NAMES = ("dec", "DEC", "Dec", "DEJ2000", "_DEJ2000", "DE_ICRS", "DEdeg", "dec_deg", "DEC_deg")
_PMRA_NAMES = ("pmra", "pmRA", "PMRA")
_PMDEC_NAMES = ("pmdec", "pmDE", "PMDEC", "pmDec")
_MAG_NAMES = ("{b}_mag", "{b}mag", "{b}MAG", "{b}")
_ERR_NAMES = ("{b}_err", "e_{b}mag", "{b}_mag_err", "{b}_magerr", "{b}err", "e_{b}")


class UserCatalogError(ValueError):
    """A catalog file that cannot serve the run; the message is one line naming the file."""


class MagSys(str, enum.Enum):
    """The magnitude system of a user's catalog."""

    AB = "AB"
    Vega = "Vega"


class CatalogUse(str, enum.Enum):
    """What a user's catalog serves."""

    astrometry = "astrometry"  #: its positions replace Gaia's (coarse solution and WCS fits)
    zeropoint = "zeropoint"  #: its magnitudes calibrate the stacks


@dataclass(frozen=True)
class UserCatalog:
    """A checked catalog file: positions and AB magnitudes in standard columns.

    ``stars`` has ``source_id``, ``ra``, ``dec`` (deg, at ``epoch`` when given), ``pmra`` and
    ``pmdec`` (mas/yr, 0 when the file has none) and ``<key>_mag``/``<key>_err`` (AB) for every
    band key the file was asked for and every band mapped in ``catalog.columns.mag``.
    """

    name: str  #: the file's name, as products record it (``file:<name>``)
    stars: Table
    uses: frozenset[CatalogUse]
    epoch: float | None = None  #: decimal year of the positions
    bands: dict[str, str] = field(default_factory=dict)  #: filter -> band key in ``stars``

    @property
    def label(self) -> str:
        """The catalog's name in headers and logs: ``file:<name>``."""
        return f"file:{self.name}"

    def band_for(self, filter_name: str) -> str | None:
        """The band key calibrating ``filter_name`` from this file, None if it does not."""
        if CatalogUse.zeropoint not in self.uses:
            return None
        return self.bands.get(str(filter_name))

    def reference(self, ra: float, dec: float, radius_deg: float, epoch: float | None) -> Table:
        """Stars within ``radius_deg`` of (ra, dec), positions at ``epoch`` (proper motions
        applied from the file's epoch when both are known), brightest first where the file has
        magnitudes."""
        stars = self.stars.copy()
        if epoch is not None and self.epoch is not None:
            years = epoch - self.epoch
            stars["dec"] = stars["dec"] + stars["pmdec"] * years / 3.6e6
            stars["ra"] = stars["ra"] + stars["pmra"] * years / 3.6e6 / np.cos(
                np.deg2rad(stars["dec"])
            )
        stars = in_cone(stars, Cone(ra, dec, radius_deg))
        mags = [c for c in stars.colnames if c.endswith("_mag")]
        if mags:
            stars["mag"] = np.nan_to_num(np.asarray(stars[mags[0]], float), nan=99.0)
            stars.sort("mag")
        stars.meta["catalog"] = self.label
        return stars

    def calibration_stars(self, key: str, cone: Cone, epoch: float | None) -> Table:
        """Stars in ``cone`` with ``<key>_mag``/``<key>_err`` (AB), for the zero point, and the
        file's other bands (the colour of a colour term)."""
        stars = self.reference(cone.ra, cone.dec, cone.radius, epoch)
        others = [c for c in stars.colnames if c.endswith(("_mag", "_err"))]
        keep = ["source_id", "ra", "dec", f"{key}_mag", f"{key}_err"]
        keep += [c for c in others if c not in keep]
        out = stars[keep]
        out.meta["catalog"] = self.label
        return out


def read_table(path: str | Path) -> Table:
    """The table in ``path``, its format taken from the suffix (FITS, ECSV, CSV).

    Raises
    ------
    UserCatalogError
        One line naming the file: missing, unknown suffix, or unreadable.
    """
    path = Path(path).expanduser()
    if not path.is_file():
        raise UserCatalogError(f"catalog.file {path}: no such file")
    suffix = ".fits.gz" if path.name.lower().endswith(".fits.gz") else path.suffix.lower()
    if suffix not in _FORMATS:
        raise UserCatalogError(
            f"catalog.file {path.name}: unknown suffix {path.suffix!r} "
            "(give a .fits, .ecsv or .csv file)"
        )
    try:
        return Table.read(path, format=_FORMATS[suffix])
    except Exception as exc:  # astropy raises many types for a broken file
        reason = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        raise UserCatalogError(
            f"catalog.file {path.name}: not a readable {_FORMATS[suffix]} table ({reason})"
        ) from None


def check_user_catalog(settings: Any, filters: list[str]) -> UserCatalog | None:
    """The run's ``catalog`` group's file, checked for the night's science ``filters``.

    Returns None when ``catalog.file`` is not set. With ``catalog.use`` not given, the file
    serves the astrometry and the zero point of every filter it has magnitudes for; with
    ``zeropoint`` in ``catalog.use`` every filter must have a magnitude column.

    Raises
    ------
    UserCatalogError
        One line naming the file and the missing column or bad value.
    """
    if not settings.get("file"):
        return None
    path = Path(str(settings.get("file"))).expanduser()
    return _checked(
        str(path.absolute()),
        _mtime(path),
        _plain(settings.get("columns") or {}),
        str(_value(settings.get("magsys") or MagSys.AB)),
        None if settings.get("use") is None else tuple(_value(u) for u in settings.get("use")),
        None if settings.get("epoch") is None else float(settings.get("epoch")),
        tuple(sorted({str(f) for f in filters})),
    )


def legacy_settings(settings: Any, catalog_file: str | None) -> Any:
    """The ``catalog`` group, or for the deprecated ``zeropoint.catalog_file`` (when
    ``catalog.file`` is not set) the same file as ``catalog.file`` serving the zero point only."""
    if not catalog_file or settings.get("file"):
        return settings
    return {**OmegaConf.to_container(settings), "file": catalog_file, "use": ["zeropoint"]}


def user_catalog(settings: Any, filters: list[str] | None = None) -> UserCatalog | None:
    """The run's user catalog for a step (see :func:`check_user_catalog`), None when not set.

    ``filters``: the filters whose zero point the file may serve (:meth:`UserCatalog.band_for`);
    none for the astrometry. The file was checked at the start of the run; it is read once per
    process (and again when it changes on disk).
    """
    return check_user_catalog(settings, filters or [])


def read_user_catalog(path: str | Path, band: str, cone: Cone) -> Table:
    """Stars in ``cone`` of an AB catalog file with ``<band>`` magnitudes (the deprecated
    ``zeropoint.catalog_file``): :func:`check_user_catalog` with the default column spellings."""
    found = check_user_catalog({"file": str(path), "use": ["zeropoint"]}, [band])
    assert found is not None
    return found.calibration_stars(found.bands[band], cone, None)


@lru_cache(maxsize=8)
def _checked(
    path: str,
    mtime_ns: int,
    columns: tuple,
    magsys: str,
    uses: tuple[str, ...] | None,
    epoch: float | None,
    filters: tuple[str, ...],
) -> UserCatalog:
    name = Path(path).name
    table = read_table(path)
    mapping = dict(columns)
    if len(table) == 0:
        raise UserCatalogError(f"catalog.file {name}: the table has no rows")
    ra = _numeric(table, _column(table, name, "ra", mapping.get("ra"), _RA_NAMES), name)
    dec = _numeric(table, _column(table, name, "dec", mapping.get("dec"), _DEC_NAMES), name)
    if np.any(~np.isfinite(ra) | ~np.isfinite(dec)):
        raise UserCatalogError(f"catalog.file {name}: ra/dec hold empty or non-finite values")
    if np.any((dec < -90) | (dec > 90)):
        raise UserCatalogError(f"catalog.file {name}: dec outside -90..90 deg (not degrees?)")
    stars = Table()
    ids = _find(table, mapping.get("id"), ("source_id", "id", "ID", "name", "Name"))
    stars["source_id"] = np.asarray(table[ids]).astype(str) if ids else np.arange(len(table))
    stars["ra"], stars["dec"] = ra, dec
    for out, names, key in (("pmra", _PMRA_NAMES, "pmra"), ("pmdec", _PMDEC_NAMES, "pmdec")):
        col = _column(table, name, key, mapping[key], names) if mapping.get(key) else None
        col = col or _find(table, None, names)
        stars[out] = np.nan_to_num(_numeric(table, col, name)) if col else np.zeros(len(table))
    explicit = uses is not None
    wanted = frozenset(CatalogUse) if uses is None else frozenset(CatalogUse(u) for u in uses)
    bands = {}
    if CatalogUse.zeropoint in wanted:
        mags, errs = dict(mapping.get("mag", ())), dict(mapping.get("err", ()))
        for filt in filters:
            key, mag_col, err_col = _band_columns(table, filt, mags, errs)
            if mag_col is None:
                if explicit:
                    raise UserCatalogError(
                        f"catalog.file {name}: no magnitude column for filter {filt!r} (tried "
                        f"{', '.join(_spellings(_MAG_NAMES, key))}; map one with "
                        f"+catalog.columns.mag.{key}=COLUMN)"
                    )
                continue
            _add_band(stars, table, name, filt, key, mag_col, err_col, magsys)
            bands[filt] = key
        # Other mapped bands are loaded too: they give the colour of a colour term (g-r for g).
        for mapped in mags:
            key, mag_col, err_col = _band_columns(table, mapped, mags, errs)
            if f"{key}_mag" not in stars.colnames:
                _add_band(stars, table, name, mapped, key, mag_col, err_col, magsys)
    return UserCatalog(name, stars, wanted, epoch, bands)


def _add_band(
    stars: Table,
    table: Table,
    name: str,
    filt: str,
    key: str,
    mag_col: str,
    err_col: str | None,
    magsys: str,
) -> None:
    """Add ``<key>_mag``/``<key>_err`` (AB) of ``filt`` to ``stars`` from the file's columns."""
    mag = _numeric(table, mag_col, name)
    if magsys == MagSys.Vega.value:
        mag = mag + _vega_offset(name, filt, key)
    err = _numeric(table, err_col, name) if err_col else np.full(len(table), DEFAULT_ERR_MAG)
    stars[f"{key}_mag"], stars[f"{key}_err"] = mag, err


def band_key(filter_name: str) -> str:
    """The band a filter's magnitudes are looked up under: the survey band (``r_G0303`` -> r,
    ``Ks`` -> K), else the filter name's first token (``V_Bessell`` -> V)."""
    band = band_of(filter_name)
    if band is not None:
        return band
    tokens = re.split(r"[_\-\s]", str(filter_name).strip())
    return tokens[0] if tokens and tokens[0] else str(filter_name)


def _band_columns(
    table: Table, filt: str, mags: dict[str, str], errs: dict[str, str]
) -> tuple[str, str | None, str | None]:
    """(band key, magnitude column, error column) of ``filt``: the mapping by filter name, then by
    band key, then the common spellings of the band key."""
    key = band_key(filt)
    mag_col = mags.get(filt) or mags.get(key)
    if mag_col is not None and mag_col not in table.colnames:
        raise UserCatalogError(
            f"catalog.columns.mag.{filt if filt in mags else key}={mag_col}: no such column "
            f"(columns: {', '.join(table.colnames)})"
        )
    mag_col = mag_col or _find(table, None, _spellings(_MAG_NAMES, key))
    err_col = errs.get(filt) or errs.get(key)
    if err_col is not None and err_col not in table.colnames:
        raise UserCatalogError(
            f"catalog.columns.err.{filt if filt in errs else key}={err_col}: no such column "
            f"(columns: {', '.join(table.colnames)})"
        )
    if err_col is None and mag_col is not None:
        err_col = _find(
            table, None, (*_spellings(_ERR_NAMES, key), f"e_{mag_col}", f"{mag_col}_err")
        )
    return key, mag_col, err_col


def _vega_offset(name: str, filt: str, key: str) -> float:
    token = re.split(r"[_\-\s]", str(filt).strip())[0]
    for band in (token, key):
        if band in VEGA_TO_AB:
            return VEGA_TO_AB[band]
    raise UserCatalogError(
        f"catalog.file {name}: catalog.magsys=Vega but no Vega-to-AB offset is known for filter "
        f"{filt!r} (known: {', '.join(VEGA_TO_AB)}); give AB magnitudes (catalog.magsys=AB)"
    )


def _column(table: Table, name: str, what: str, mapped: str | None, names: tuple) -> str:
    found = _find(table, mapped, names)
    if found is None:
        if mapped is not None:
            raise UserCatalogError(
                f"catalog.columns.{what}={mapped}: no such column in {name} "
                f"(columns: {', '.join(table.colnames)})"
            )
        raise UserCatalogError(
            f"catalog.file {name}: no {what} column (tried {', '.join(names)}; map one with "
            f"catalog.columns.{what}=COLUMN)"
        )
    return found


def _find(table: Table, mapped: str | None, names: tuple) -> str | None:
    if mapped is not None:
        return mapped if mapped in table.colnames else None
    return next((n for n in names if n in table.colnames), None)


def _spellings(patterns: tuple[str, ...], key: str) -> tuple[str, ...]:
    return tuple(dict.fromkeys(p.format(b=key) for p in patterns))


def _numeric(table: Table, column: str, name: str) -> np.ndarray:
    """The column as floats (masked and empty cells NaN); one line naming the first bad value."""
    data = np.ma.asarray(table[column])
    if data.dtype.kind in "biuf":
        return np.ma.filled(data.astype(float), np.nan)
    values = np.full(len(data), np.nan)
    for i, cell in enumerate(data):
        if cell is np.ma.masked or str(cell).strip() in ("", "--", "nan", "NaN"):
            continue
        try:
            values[i] = float(cell)
        except ValueError:
            raise UserCatalogError(
                f"catalog.file {name}: column {column} row {i + 1}: {str(cell)!r} is not a number"
            ) from None
    return values


def _mtime(path: Path) -> int:
    try:
        return path.stat().st_mtime_ns
    except OSError:
        return 0


def _value(value: Any) -> Any:
    return value.value if isinstance(value, enum.Enum) else value


def _plain(columns: Any) -> tuple:
    """``catalog.columns`` as a hashable tuple (the loader is cached per file and settings)."""
    items = []
    for key in columns:
        value = columns[key]
        if key in ("mag", "err"):
            items.append((key, tuple(sorted((str(k), str(v)) for k, v in dict(value).items()))))
        elif value is not None:
            items.append((key, str(value)))
    return tuple(items)

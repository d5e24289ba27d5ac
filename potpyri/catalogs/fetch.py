"""Filling the catalog cache for a night before reducing it (``potpyri catalogs fetch``,
:mod:`potpyri.catalog_command`).

The raw headers are read once each and classified as ingest does; every science field's cone is
worked out with :func:`potpyri.catalogs.cones.image_cone` (the function the steps call) from the
headers' sky footprint, widened by the largest margin a step adds, so that every cone the run
asks for lies inside it. The catalogs are those the recipe needs: the astrometric reference of
``astrometry``/``align``/``stack_wcs`` (Gaia) and, per filter, the catalog the ``zeropoint``
step's choice picks. A cone already in the cache is not asked for again.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from astropy.io import fits
from astropy.table import Table
from omegaconf import DictConfig, OmegaConf

from potpyri.astrometry.wcsio import expected_scale, header_wcs
from potpyri.catalogs.cache import CatalogCache, CatalogUnavailable, Cone
from potpyri.catalogs.choice import band_of, no_band_reason
from potpyri.catalogs.cones import enclosing_cone, image_cone
from potpyri.catalogs.query import CATALOGS, query
from potpyri.catalogs.user_file import CatalogUse, legacy_settings, user_catalog
from potpyri.instruments.base import image_hdus, image_shape
from potpyri.instruments.pointing import NoPointing, has_celestial_wcs, pointing_wcs
from potpyri.instruments.science_frames import science_frames, unreadable_note
from potpyri.photometry.calibrate import CatalogChoice, catalog_candidates, configured_choice

__all__ = ["FetchRow", "Field", "fetch", "night_fields", "wanted_cones"]

#: A field's cone radius over its frames' enclosing circle: the stack's grid is the north-up
#: rectangle around the frames, whose corners (stack_wcs and zeropoint ask for the cone reaching
#: them) lie up to sqrt(2) times farther out; the QA asks 5 % more than the corners.
GRID_FACTOR = math.sqrt(2.0) * 1.05


@dataclass
class Field:
    """One science target of the night: its frames' footprint and the filters it was seen in."""

    name: str
    footprints: list[Cone]  #: one cone per science frame (no margin)
    filters: list[str]
    margin_arcsec: float  #: pointing uncertainty of the frames without a raw WCS

    def cone(self, margin_arcsec: float) -> Cone:
        """The cone containing every frame's cone and the stack's, widened by ``margin_arcsec``
        (the margin a step adds to the image's own cone)."""
        frames = enclosing_cone(self.footprints)
        return Cone(frames.ra, frames.dec, frames.radius * GRID_FACTOR + margin_arcsec / 3600.0)


@dataclass
class FetchRow:
    """One catalog cone: where it came from, or why it could not be had."""

    catalog: str
    field: str
    cone: Cone
    rows: int | None
    status: str  #: cached, fetched, failed or skipped
    file: str  #: the cache file, or the reason


def night_fields(cfg: DictConfig, reader: Any) -> tuple[list[Field], list[str]]:
    """The science fields of ``cfg.data_path``'s raw files (read with the instrument's raw-file
    ``reader``), and one note per frame left out."""
    fields: dict[str, Field] = {}
    notes: list[str] = []
    for frame in science_frames(cfg, reader, notes):
        meta = frame.meta
        try:
            footprint, uncertainty = _footprint(frame.hdul, frame.header, meta, cfg.instrument)
        except NoPointing as exc:
            notes.append(f"{frame.path.name}: {exc}; left out")
            continue
        except Exception as exc:  # an unreadable file is ingest's to reject, not ours to crash on
            notes.append(unreadable_note(frame.path, exc))
            continue
        field = fields.setdefault(meta["target"], Field(meta["target"], [], [], 0.0))
        field.footprints.append(footprint)
        field.margin_arcsec = max(field.margin_arcsec, uncertainty)
        if meta["filter"] not in field.filters:
            field.filters.append(meta["filter"])
    return list(fields.values()), notes


def _footprint(
    hdul: fits.HDUList, header: fits.Header, meta: dict, instrument: Any
) -> tuple[Cone, float]:
    """The cone holding every image HDU of a raw file (from its WCS, else from the pointing
    keywords as the reader builds it), and the pointing uncertainty (0 with a raw WCS)."""
    cones, uncertainty = [], 0.0
    for hdu in image_hdus(hdul):
        nx, ny = image_shape(hdu.header)
        wcs = header_wcs(hdu.header) if has_celestial_wcs(hdu.header) else None
        if wcs is None or not instrument.pointing.use_header_wcs:
            xbin = int(meta["binning"][0]) if meta["binning"] else 1
            cards = pointing_wcs(
                header, instrument.pointing, (ny, nx), float(instrument.pixscale) * xbin
            )
            wcs, uncertainty = header_wcs(cards), float(instrument.pointing.uncertainty_arcsec)
        scale = expected_scale(getattr(instrument, "pixscale", None), meta["binning"], wcs)
        cones.append(image_cone(wcs, (ny, nx), scale_arcsec=scale))
    if not cones:
        raise ValueError("no image HDU")
    return enclosing_cone(cones), uncertainty


def wanted_cones(
    cfg: DictConfig, fields: list[Field], steps: set[str]
) -> list[tuple[str, Field, Cone | str]]:
    """(catalog, field, cone) for every catalog the enabled ``steps`` of ``cfg`` will ask for; a
    reason in place of the cone where the zero point has no catalog for a filter."""
    wanted: list[tuple[str, Field, Cone | str]] = []
    astrometric: dict[str, float] = {}  # catalog -> margin, arcsec
    filters = sorted({f for field in fields for f in field.filters})
    user = user_catalog(
        legacy_settings(cfg.catalog, OmegaConf.select(cfg, "zeropoint.catalog_file")), filters
    )
    if user is not None and CatalogUse.astrometry in user.uses:
        steps = steps - {"astrometry", "align", "stack_wcs"}  # the file's positions serve them
    if "astrometry" in steps:
        astrometric["gaia"] = float(cfg.astrometry.search_radius_arcsec)
    for name in ("align", "stack_wcs"):
        if name in steps:
            catalog = str(cfg[name].catalog).lower()
            margin = 2 * float(cfg[name].match_radius_arcsec)
            astrometric[catalog] = max(astrometric.get(catalog, 0.0), margin)
    for field in fields:
        for catalog, margin in astrometric.items():
            wanted.append((catalog, field, field.cone(max(margin, field.margin_arcsec))))
        if "zeropoint" not in steps:
            continue
        cone = field.cone(0.0)
        choice = CatalogChoice(getattr(cfg.zeropoint.catalog, "value", cfg.zeropoint.catalog))
        preference = str(OmegaConf.select(cfg, "instrument.catalog_zp", default="PS1"))
        aliases = OmegaConf.select(cfg, "instrument.filter_bands", default=None)
        for filt in field.filters:
            if user is not None and user.band_for(filt) is not None:
                continue  # the user's file calibrates this filter
            band = band_of(filt, aliases)
            try:
                if band is None:  # the zeropoint step leaves such a stack uncalibrated
                    raise ValueError(no_band_reason(filt, aliases))
                named = configured_choice(choice, filt, band, cfg.instrument)
                # the first the step tries (it falls back, offline, only to what is cached)
                catalogs = catalog_candidates(named, band, cone.dec, preference)[:1]
            except ValueError as exc:
                wanted.append((f"zeropoint {filt}", field, str(exc)))
                continue
            for catalog in catalogs:
                if not any(w[0] == catalog and w[1] is field for w in wanted):
                    wanted.append((catalog, field, cone))
    return wanted


def fetch(
    wanted: list[tuple[str, Field, Cone | str]], cache_dir: Path, *, offline: bool
) -> list[FetchRow]:
    """Fill ``cache_dir`` with the ``wanted`` cones (:func:`wanted_cones`) not in it yet (with
    ``offline``, only look); one row per cone."""
    cache = CatalogCache(cache_dir)
    rows = []
    for catalog, field, cone in wanted:
        if isinstance(cone, str):
            rows.append(FetchRow(catalog, field.name, Cone(0, 0, 0), None, "skipped", cone))
            continue
        spec = CATALOGS[catalog]
        path = cache.locate(spec.name, cone)
        if path is not None:
            rows.append(FetchRow(catalog, field.name, cone, _rows(path), "cached", str(path)))
            continue
        if offline:
            reason = "not in the cache and catalog.offline=true"
            rows.append(FetchRow(catalog, field.name, cone, None, "failed", reason))
            continue
        try:
            query(spec.name, cone.ra, cone.dec, cone.radius, cache_dir=cache_dir)
        except CatalogUnavailable as exc:
            rows.append(FetchRow(catalog, field.name, cone, None, "failed", str(exc)))
            continue
        path = cache.locate(spec.name, cone)
        rows.append(FetchRow(catalog, field.name, cone, _rows(path), "fetched", str(path)))
    return rows


def _rows(path: Path | None) -> int | None:
    return None if path is None else len(Table.read(path, format="ascii.ecsv"))

"""zeropoint: flux calibration of each photometered stack against a reference catalog.

Writes the zero point, its uncertainty and the limiting magnitudes in the primary header
(``ZPTMAG``, ``ZPTMUCER``, ``M<n>SIGMA``...: docs/keywords.yaml), calibrated ``mag``/``mag_err``
in ``APPPHOT`` and ``PSFPHOT`` (``mag_err`` excludes ``ZPTMUCER``), the calibration stars in
``ZPSTARS`` and ``<stem>.zp.png``. Aperture photometry alone (``PHOTMETH = 'APERTURE'``): its
fluxes are calibrated. A filter no catalog has (narrow bands): passed through, with ``ZPTWHY``.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import ClassVar

import numpy as np
from astropy.table import Table

from potpyri.astrometry.epoch import mjd_epoch
from potpyri.astrometry.wcsio import header_wcs
from potpyri.catalogs.choice import no_band_reason
from potpyri.framework.step import (
    Item,
    Output,
    PassedThrough,
    Product,
    Scope,
    Step,
    StepConfig,
    StepFailed,
    Task,
    register_step,
)
from potpyri.photometry.calibrate import (
    CatalogChoice,
    FluxKind,
    calibrate,
    calibration_band,
    calibration_flux,
    configured_reference_stars,
    field_cone,
    with_magnitudes,
    write_uncalibrated_header,
    write_zeropoint_header,
)
from potpyri.photometry.outputs import table_hdu
from potpyri.photometry.plots import zp_png
from potpyri.stepkit.frame_io import read_product
from potpyri.stepkit.stacks import republished, select_stacks, stack_stem

__all__ = ["Zeropoint"]


@register_step("zeropoint")
class Zeropoint(Step):
    """Cross-match, sigma-clipped zero point, limiting magnitudes and calibrated catalogs."""

    @dataclass
    class Config(StepConfig):
        renamed: ClassVar[dict[str, str]] = {  # old -> new
            "match_radius": "match_radius_arcsec",
            "search_radius": "search_radius_arcsec",
            "max_catalog_err": "max_catalog_err_mag",
        }
        catalog: CatalogChoice = CatalogChoice.auto  #: auto (reference rule) or a catalog
        catalog_file: str | None = None  #: deprecated: use catalog.file (read as its alias)
        flux: FluxKind = FluxKind.psf  #: PSFPHOT's total fluxes or APPPHOT's aperture-corrected
        match_radius_arcsec: float = 1.0  #: cross-match radius, arcsec
        search_radius_arcsec: float = 20.0  #: search radius of the WCS-catalog offset, arcsec
        min_snr: float = 10.0  #: calibration stars' measured S/N at least
        max_catalog_err_mag: float = 0.1  #: catalog magnitude error at most, mag
        min_catalog_stars: int = 10  #: auto: a catalog with fewer good stars gives way to the next
        sigma: float = 3.0  #: clipping threshold
        color_term: bool = True  #: fit a linear colour term where the catalog has the colour

    version = "8"
    scope = Scope.target
    depends_on = ("catalog", "instrument.catalog_zp", "instrument.filter_bands",
                  "instrument.zp_catalogs")  # another cache may hold other answers  # fmt: skip
    depends_on_files = ("catalog.file", "zeropoint.catalog_file")  # their content, too

    def select(self, items: list[Item]) -> list[Item]:
        """The photometered stacks still in the run."""
        return [i for i in select_stacks(items) if "apphot" in i.files]

    def run(self, task: Task) -> list[Output]:
        item = task.inputs[0]
        path = item.path("stack")
        cfg = self.config
        hdus = read_product(path, drop=("ZPSTARS",))
        header = hdus[0].header
        filt = item.meta.get("filter") or header.get("FILTER", "")
        aliases = self.context.instrument.get("filter_bands")
        try:  # the user's catalog file, else a catalog band
            band, user = calibration_band(filt, self.context.cfg.catalog, cfg.catalog_file, aliases)
        except ValueError as exc:
            raise StepFailed(f"{path.name}: {exc}") from None
        if band is None:  # a narrow band: a good stack without a zero point
            write_uncalibrated_header(header, why := no_band_reason(filt, aliases))
            msg = f"{path.name}: {why}; stack left uncalibrated (no ZPTMAG)"
            raise PassedThrough(msg, [republished(item, hdus)])
        wcs = header_wcs(hdus["SCI"].header)
        if wcs is None:
            raise StepFailed(f"{path.name}: no celestial WCS; cannot cross-match")
        cone = field_cone(wcs, hdus["SCI"].data.shape)
        try:
            catalog, cat = configured_reference_stars(
                band, filt, cone, cfg, self.context.cfg.catalog, self.context.instrument,
                user=user, epoch=mjd_epoch(item.meta.get("time")), label=item.id,
            )  # fmt: skip
        except ValueError as exc:
            raise StepFailed(str(exc)) from None
        flux = calibration_flux(header, cfg.flux)
        try:
            cal = calibrate(
                Table(hdus[flux.table].data),
                Table(hdus["APPPHOT"].data),
                cat,
                wcs,
                band,
                flux,
                min_snr=cfg.min_snr,
                max_catalog_err_mag=cfg.max_catalog_err_mag,
                match_radius_arcsec=cfg.match_radius_arcsec,
                search_radius_arcsec=cfg.search_radius_arcsec,
                sigma=cfg.sigma,
                color_term=cfg.color_term,
                skysig=float(header.get("SKYSIG", np.nan)),
                noise_area=float(header.get("NOISAREA", np.nan)),
                catalog=catalog,
                cone=cone,
            )
        except ValueError as exc:
            raise StepFailed(f"{path.name}: {exc}") from None
        fit = cal.fit
        self.log.info("%s: %s", path.name, cal.summary(catalog, band))
        write_zeropoint_header(header, fit, catalog, band, cal.limits)
        tables = {}
        for name in ("APPPHOT", "PSFPHOT"):
            if name in hdus:
                tables[name] = with_magnitudes(Table(hdus[name].data), fit.zp)
                hdus[hdus.index_of(name)] = table_hdu(tables[name], name)
        hdus.append(table_hdu(cal.zpstars, "ZPSTARS"))
        stem = stack_stem(path.name)
        meta = dict(item.meta)
        meta.pop("flagged", None)  # the photometry step's fallback was counted there
        meta.update(
            zp=fit.zp,
            zp_err=fit.error,
            zp_nstars=fit.n_used,
            zp_catalog=catalog,
            m5sigma=cal.limits[5],
            warnings=list(item.meta.get("warnings", [])) + cal.warnings,
        )
        plot = zp_png(cal.zpstars, fit, f"{catalog} {band}", path.name)
        products = {
            "stack": Product(path.name, hdus, "."),
            "zpstars": Product(f"{stem}.zpstars.ecsv", cal.zpstars, "."),
            "zp_plot": Product(f"{stem}.zp.png", plot, "."),
        }
        for name, table in tables.items():  # APPPHOT, and PSFPHOT unless aperture photometry only
            products[name.lower()] = Product(f"{stem}.{name.lower()}.ecsv", table, ".")
        for role in ("regions", "epsf_plot"):
            if role in item.files:  # already published by photometry; keep them on the item
                products[role] = Product(
                    Path(item.files[role]).name, Path(item.files[role]).read_bytes(), "."
                )
        return [Output(item.id, "target", meta, products)]

"""zeropoint: flux calibration of each photometered stack against a reference catalog.

Primary-header keywords: ``ZPTMAG`` (AB zero point of the SCI image in e-/s: mag = -2.5 log10(flux)
+ ZPTMAG), ``ZPTMUCER`` (its uncertainty), ``ZPTNSTAR`` (stars used), ``ZPTSCAT`` (star-to-star
scatter), ``ZPTCAT``/``ZPTBAND`` (catalog and band), ``ZPCOLTRM`` (colour term, 0 unless
``zeropoint.color_term``), ``M3SIGMA``/``M5SIGMA``/``M10SIGMA`` (point-source limiting magnitudes
from ``SKYSIG`` and the PSF noise area ``NOISAREA``). ``APPPHOT`` and ``PSFPHOT`` gain calibrated
``mag``/``mag_err`` columns (``mag_err`` excludes ``ZPTMUCER``); ``ZPSTARS`` lists the calibration
stars; ``<stem>.zp.png`` plots catalog minus instrumental magnitude.
"""

from __future__ import annotations

import io
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from astropy.io import fits
from astropy.table import Table
from astropy.time import Time
from omegaconf import OmegaConf
from potpyri.steps.photometry import _celestial, select_stacks, stack_stem, table_hdu

from potpyri.catalogs import CatalogUnavailable, query
from potpyri.catalogs.cache import Cone
from potpyri.catalogs.choice import band_of, choose_catalog, read_user_catalog
from potpyri.framework.step import (
    Item,
    Output,
    Product,
    Scope,
    Step,
    StepConfig,
    StepFailed,
    Task,
    register_step,
)
from potpyri.photometry.measure import FLAG_FLATTOP, FLAG_MASKED, FLAG_NEIGHBOUR, FLAG_PARTIAL
from potpyri.photometry.zeropoint import crossmatch, fit_zeropoint, limiting_magnitude
from potpyri.stepkit.frame_io import read_product

__all__ = ["Zeropoint"]

#: APPPHOT flags that keep a star out of the zero point (the image edge alone does not).
_UNUSABLE = FLAG_MASKED | FLAG_NEIGHBOUR | FLAG_FLATTOP | FLAG_PARTIAL
#: Second band for the optional colour term, per calibrated band.
_COLOR_PARTNER = {
    "u": "g",
    "g": "r",
    "r": "i",
    "i": "r",
    "z": "i",
    "y": "z",
    "J": "K",
    "H": "K",
    "K": "J",
}


@register_step("zeropoint")
class Zeropoint(Step):
    """Cross-match, sigma-clipped zero point, limiting magnitudes and calibrated catalogs."""

    @dataclass
    class Config(StepConfig):
        catalog: str = "auto"  #: auto (reference rule), ps1, sdss, skymapper or 2mass
        catalog_file: str | None = None  #: a user's catalog (ra, dec, <band>_mag[, <band>_err], AB)
        flux: str = "psf"  #: psf (PSFPHOT, total flux) or aperture (APPPHOT, aperture-corrected)
        match_radius: float = 1.0  #: arcsec
        search_radius: float = 20.0  #: arcsec, for the WCS-catalog offset
        min_snr: float = 10.0  #: calibration stars' measured S/N at least
        max_catalog_err: float = 0.1  #: mag
        sigma: float = 3.0  #: clipping threshold
        color_term: bool = False  #: fit a linear colour term (the reference fits none)

    version = (
        "4"  # 3: ZPTMUCER is the weighted-mean error times the Birge ratio; 4: no FLAG_PARTIAL star
    )
    scope = Scope.target
    depends_on = ("catalog", "instrument.catalog_zp")  # another cache may hold other answers

    def select(self, items: list[Item]) -> list[Item]:
        """The photometered stacks still in the run."""
        return [i for i in select_stacks(items) if "psfphot" in i.files]

    def run(self, task: Task) -> list[Output]:
        item = task.inputs[0]
        path = item.path("stack")
        cfg = self.config
        hdus = read_product(path, drop=("ZPSTARS",))
        header = hdus[0].header
        filt = item.meta.get("filter") or header.get("FILTER", "")
        band = band_of(filt)
        if band is None:
            raise StepFailed(
                f"{path.name}: filter {filt!r} has no survey band to calibrate against"
            )
        wcs = _celestial(hdus["SCI"].header)
        if wcs is None:
            raise StepFailed(f"{path.name}: no celestial WCS; cannot cross-match")
        ny, nx = hdus["SCI"].data.shape
        (ra_c, dec_c), corner = wcs.all_pix2world([[(nx - 1) / 2, (ny - 1) / 2], [0, 0]], 0)
        radius = float(np.hypot((corner[0] - ra_c) * np.cos(np.deg2rad(dec_c)), corner[1] - dec_c))
        cone = Cone(float(ra_c), float(dec_c), radius)
        catalog, cat = self._catalog(band, cone, item)
        table_name = "PSFPHOT" if cfg.flux == "psf" else "APPPHOT"
        sources = Table(hdus[table_name].data)
        apphot = Table(hdus["APPPHOT"].data)
        x_col = "x_fit" if cfg.flux == "psf" else "x_centroid"
        ok = np.isfinite(sources["mag_inst"]) & (sources["snr"] >= cfg.min_snr)
        ap_flags = dict(zip(np.asarray(apphot["id"]), np.asarray(apphot["flags"]), strict=True))
        bad_flags = np.array([ap_flags.get(i, 0) & _UNUSABLE for i in sources["id"]])
        ok &= bad_flags == 0
        if cfg.flux == "psf":
            ok &= np.asarray(sources["flags"]) == 0
        cand = np.flatnonzero(ok)
        mag_col, err_col = f"{band}_mag", f"{band}_err"
        good_cat = np.isfinite(cat[mag_col]) & (
            np.nan_to_num(cat[err_col], nan=0.0) <= cfg.max_catalog_err
        )
        cat = cat[good_cat]
        ra, dec = wcs.all_pix2world(
            np.asarray(sources[x_col])[cand],
            np.asarray(sources[x_col.replace("x", "y", 1)])[cand],
            0,
        )
        i, j, shift = crossmatch(
            ra, dec, cat["ra"], cat["dec"], radius=cfg.match_radius, search=cfg.search_radius
        )
        if len(i) == 0:
            raise StepFailed(f"{path.name}: no {catalog} star matches a measured source in {cone}")
        src = sources[cand[i]]
        color = None
        partner = _COLOR_PARTNER.get(band)
        if cfg.color_term and partner and f"{partner}_mag" in cat.colnames:
            color = np.asarray(cat[mag_col][j]) - np.asarray(cat[f"{partner}_mag"][j])
        try:
            fit = fit_zeropoint(
                src["mag_inst"],
                src["mag_inst_err"],
                cat[mag_col][j],
                cat[err_col][j],
                sigma=cfg.sigma,
                color=color,
                fit_color=cfg.color_term,
            )
        except ValueError as exc:
            raise StepFailed(f"{path.name}: {exc}") from None
        skysig = float(header.get("SKYSIG", np.nan))
        area = float(header.get("NOISAREA", np.nan))
        limits = {n: limiting_magnitude(fit.zp, skysig, area, n) for n in (3, 5, 10)}
        warnings = []
        if fit.n_used < 10:
            warnings.append(f"zero point from {fit.n_used} stars (< 10)")
        if fit.error > 0.05:
            warnings.append(f"zero-point uncertainty {fit.error:.3f} mag (> 0.05)")
        self.log.info(
            '%s: ZP %.4f ± %.4f (%s %s, %d stars, scatter %.3f, WCS offset %.1f" %.1f"), '
            "M5SIGMA %.2f",
            path.name,
            fit.zp,
            fit.error,
            catalog,
            band,
            fit.n_used,
            fit.scatter,
            *shift,
            limits[5],
        )
        _write_header(header, fit, catalog, band, limits)
        tables = {}
        for name in ("APPPHOT", "PSFPHOT"):
            table = Table(hdus[name].data)
            table["mag"] = table["mag_inst"] + fit.zp
            table["mag_err"] = table["mag_inst_err"]
            tables[name] = table
            hdus[hdus.index_of(name)] = table_hdu(table, name)
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
                "used": fit.used,
            }
        )
        hdus.append(table_hdu(zpstars, "ZPSTARS"))
        stem = stack_stem(path.name)
        meta = dict(item.meta)
        meta.update(
            {
                "zp": fit.zp,
                "zp_err": fit.error,
                "zp_nstars": fit.n_used,
                "zp_catalog": catalog,
                "m5sigma": limits[5],
                "warnings": list(item.meta.get("warnings", [])) + warnings,
            }
        )
        products = {
            "stack": Product(path.name, hdus, "."),
            "apphot": Product(f"{stem}.apphot.ecsv", tables["APPPHOT"], "."),
            "psfphot": Product(f"{stem}.psfphot.ecsv", tables["PSFPHOT"], "."),
            "zpstars": Product(f"{stem}.zpstars.ecsv", zpstars, "."),
            "zp_plot": Product(
                f"{stem}.zp.png", _zp_png(zpstars, fit, f"{catalog} {band}", path.name), "."
            ),
        }
        for role in ("regions", "epsf_plot"):
            if role in item.files:  # already published by photometry; keep them on the item
                products[role] = Product(
                    Path(item.files[role]).name, Path(item.files[role]).read_bytes(), "."
                )
        return [Output(item.id, "target", meta, products)]

    def _catalog(self, band: str, cone: Cone, item: Item) -> tuple[str, Table]:
        cfg = self.config
        if cfg.catalog_file:
            try:
                return f"file:{Path(cfg.catalog_file).name}", read_user_catalog(
                    cfg.catalog_file, band, cone
                )
            except (OSError, ValueError) as exc:
                raise StepFailed(f"zeropoint.catalog_file: {exc}") from None
        try:
            name = (
                choose_catalog(
                    band, cone.dec, str(self.context.instrument.get("catalog_zp", "PS1"))
                )
                if cfg.catalog == "auto"
                else cfg.catalog.lower()
            )
        except ValueError as exc:
            raise StepFailed(f"{item.id}: {exc}") from None
        settings = self.context.cfg.catalog
        cache_dir = OmegaConf.select(settings, "cache_dir")
        epoch = _epoch(item.meta.get("time"))
        try:
            table = query(
                name,
                cone.ra,
                cone.dec,
                cone.radius,
                epoch=epoch,
                cache_dir=cache_dir,
                offline=bool(settings.offline),
            )
        except CatalogUnavailable as exc:
            raise StepFailed(str(exc)) from None
        if f"{band}_mag" not in table.colnames:
            raise StepFailed(f"{name} has no {band} band (cone {cone})")
        return name, table


def _epoch(mjd) -> float | None:
    try:
        return float(Time(float(mjd), format="mjd").decimalyear)
    except (TypeError, ValueError):
        return None


def _write_header(header: fits.Header, fit, catalog: str, band: str, limits: dict) -> None:
    header["ZPTMAG"] = (round(fit.zp, 5), "AB zero point: m = -2.5 log10(e-/s) + ZPTMAG")
    header["ZPTMUCER"] = (round(fit.error, 5), "zero-point uncertainty, mag")
    header["ZPTNSTAR"] = (fit.n_used, "stars used for the zero point")
    header["ZPTSCAT"] = (round(fit.scatter, 5), "star-to-star scatter of the zero point, mag")
    header["ZPTCAT"] = (catalog[:60], "zero-point catalog")
    header["ZPTBAND"] = (band, "catalog band")
    header["ZPCOLTRM"] = (round(fit.color_term, 5), "colour-term coefficient (0: none fitted)")
    for n, value in limits.items():
        header[f"M{n}SIGMA"] = (
            round(value, 4) if np.isfinite(value) else -99.0,
            f"{n}-sigma point-source limiting magnitude",
        )


def _zp_png(zpstars: Table, fit, label: str, name: str) -> bytes:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(5, 3.6))
    delta = zpstars["catalog_mag"] - zpstars["mag_inst"]
    used = np.asarray(zpstars["used"], bool)
    ax.errorbar(
        zpstars["catalog_mag"][used],
        delta[used],
        yerr=zpstars["mag_inst_err"][used],
        fmt="o",
        ms=3,
        label=f"used ({used.sum()})",
    )
    ax.plot(zpstars["catalog_mag"][~used], delta[~used], "x", color="grey", label="clipped")
    ax.axhline(fit.zp, color="k")
    ax.axhspan(fit.zp - fit.scatter, fit.zp + fit.scatter, color="k", alpha=0.1)
    ax.set_xlabel(f"{label} (AB)")
    ax.set_ylabel("catalog - instrumental")
    ax.set_title(f"{name}: ZP {fit.zp:.3f} ± {fit.error:.3f}", fontsize=8)
    ax.legend(fontsize=7)
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=90)
    plt.close(fig)
    return buffer.getvalue()

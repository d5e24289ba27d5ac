"""qa: per-stack figures and QC flags for the report (``red/qa/<stack>.<plot>.png``).

For each stack: a preview with catalog stars and detected sources, the PSF and its Moffat profile,
the astrometric residuals against Gaia, and the zero-point fit when the photometry steps wrote it.
The values the figures show and the QC flags go into the item's meta; the command line assembles
``red/qa/index.html`` from them after the run. The step never sets a stack aside: what it cannot
measure is reported as not available, with the reason.
"""

from __future__ import annotations

import contextlib
import logging
from dataclasses import dataclass
from typing import Any

import numpy as np
from astropy.io import fits
from astropy.table import Table
from astropy.wcs import WCS
from astropy.wcs.utils import proj_plane_pixel_scales

from potpyri.framework.step import (
    Item,
    Output,
    Product,
    Scope,
    Step,
    StepConfig,
    Task,
    register_step,
)
from potpyri.qa.measure import (
    detect_sources,
    fit_moffat_profile,
    match_catalog,
    median_star_stamp,
    stamp_sigmas,
)
from potpyri.qa.plots import (
    astrometry_png,
    frames_astrometry_png,
    preview_png,
    psf_png,
    zeropoint_png,
)

__all__ = ["Qa", "HEADER_VALUES"]

#: Stack header values the report shows next to its figures (when present).
HEADER_VALUES = (
    "NCOMBINE",
    "EXPTIME",
    "FWHM",
    "SKYSIG",
    "NSOURCES",
    "NPSFSTAR",
    "PSFSIGX",
    "PSFSIGY",
    "ZPTMAG",
    "ZPTMUCER",
    "ZPTNSTAR",
    "ZPTCAT",
    "ZPTBAND",
    "M3SIGMA",
    "M5SIGMA",
    "M10SIGMA",
    "RADISP",
    "DEDISP",
    "NASTRO",
    "ASTROMET",
    "STKMETH",
    "PPRCPSHA",
)

log = logging.getLogger("potpyri.steps.qa")


@register_step("qa")
class Qa(Step):
    """QA figures and flags per stack; the run's report is written from them after the run."""

    @dataclass
    class Config(StepConfig):
        catalog: str = "gaia"  #: astrometric reference catalog overlaid and matched
        online: bool = False  #: ask the catalog service when no cached answer covers the stack (the astrometry step fills the cache)
        match_radius: float = 1.5  #: matching radius of detections to catalog stars, arcsec
        detect_nsigma: float = 5.0  #: detection threshold for the QA source list, sky sigmas
        min_psf_stars: int = 5  #: flag a PSF built from fewer stars
        max_psf_asymmetry: float = 0.2  #: flag a PSF whose x and y widths differ by more (fraction)
        max_dispersion: float | None = (
            None  #: flag RADISP/DEDISP (stack and input frames) above this, pixels; null: align.max_dispersion_px (1 px without an align step)
        )
        min_zp_stars: int = 10  #: flag a zero point from fewer stars
        max_zp_uncertainty: float = 0.05  #: flag ZPTMUCER above, mag
        min_sources: int = 20  #: flag a stack with fewer detected sources
        min_match_fraction: float = 0.3  #: flag a stack where a smaller fraction of the catalog stars inside it match a detection (its WCS is off)

    version = "4"
    scope = Scope.target
    depends_on = ("catalog.cache_dir", "catalog.offline", "align.max_dispersion_px")

    def select(self, items):
        return [i for i in items if i.ok and i.kind == "target" and "stack" in i.files]

    def group_key(self, item: Item) -> str:
        return item.id

    def references(self, task: Task, items: list[Item]) -> list[Item]:
        """The stack's input frames, for their seeing and astrometric residuals."""
        inputs = set(task.inputs[0].meta.get("inputs", []))
        return [i for i in items if i.kind == "frame" and i.id in inputs and "image" in i.files]

    def run(self, task: Task) -> list[Output]:
        """Measure and draw one stack; an error here never sets the stack aside (it is reported)."""
        try:
            return self._measure(task)
        except Exception as exc:  # QA of a good stack must not cost the user that stack
            item = task.inputs[0]
            why = f"QA measurements failed ({type(exc).__name__}: {exc})"
            self.log.error("[qa] %s: %s", item.id, why)
            meta = {
                "stack": item.path("stack").name,
                "target": item.meta.get("target"),
                "filter": item.meta.get("filter"),
                "inputs": item.meta.get("inputs", []),
                "header": {},
                "measured": {},
                "plots": {},
                "frames": {},
                "missing": dict.fromkeys(
                    ("preview", "psf", "astrometry", "frames", "zeropoint", "limits"), why
                ),
                "warnings": [f"{item.id}: {why}"],
            }
            return [Output(item.id, "qa", meta, {})]

    def _measure(self, task: Task) -> list[Output]:
        item = task.inputs[0]
        path = item.path("stack")
        stem = path.name.removesuffix(".fits").removesuffix(".stk")
        with fits.open(path) as hdul:
            header = hdul[0].header
            sci = np.asarray(hdul["SCI"].data, float)
            mask = np.asarray(hdul["MASK"].data) if "MASK" in hdul else None
            wcs = WCS(hdul["SCI"].header)
            values = {k: header[k] for k in HEADER_VALUES if k in header}
            psf_hdu = hdul["PSF"].copy() if "PSF" in hdul else None
            psfstars = len(hdul["PSFSTARS"].data) if "PSFSTARS" in hdul else None
            zp_table = _zeropoint_table(hdul)
        cfg = self.config
        meta: dict[str, Any] = {
            "stack": path.name,
            "target": item.meta.get("target"),
            "filter": item.meta.get("filter"),
            "inputs": item.meta.get("inputs", []),
            "header": values,
            "plots": {},
            "missing": {},
            "measured": {},
        }
        pixscale = (
            float(np.mean(proj_plane_pixel_scales(wcs.celestial))) * 3600
            if wcs.has_celestial
            else None
        )
        meta["measured"]["pixscale"] = pixscale
        fwhm_guess = float(values.get("FWHM") or 4.0)
        sources = detect_sources(sci, mask, fwhm=fwhm_guess, nsigma=cfg.detect_nsigma)
        meta["measured"]["n_sources"] = len(sources)
        products: dict[str, Product] = {}

        catalog, why = self._catalog(wcs, sci.shape, item)
        cat_xy = None
        match = None
        if catalog is not None:
            x, y = wcs.world_to_pixel_values(
                np.asarray(catalog["ra"], float), np.asarray(catalog["dec"], float)
            )
            cat_xy = np.column_stack([x, y])
            ny, nx = sci.shape
            inside = (x > -0.5) & (x < nx - 0.5) & (y > -0.5) & (y < ny - 0.5)
            meta["measured"]["n_catalog_inside"] = int(inside.sum())
            match = match_catalog(sources, wcs, catalog["ra"], catalog["dec"], cfg.match_radius)
            rra, rdec = match.rms()
            meta["measured"].update(
                n_catalog=len(catalog),
                n_matched=match.n,
                rms_ra=rra,
                rms_dec=rdec,
                median_dra=float(np.median(match.dra)) if match.n else None,
                median_ddec=float(np.median(match.ddec)) if match.n else None,
            )
            products["astrometry"] = Product(
                f"{stem}.astrometry.png",
                astrometry_png(match, sci.shape, f"{stem}: stack vs {cfg.catalog}"),
                "qa",
            )
        else:
            meta["missing"]["astrometry"] = why
        det_xy = np.column_stack([sources["x"], sources["y"]]) if len(sources) else None
        products["preview"] = Product(
            f"{stem}.preview.png", preview_png(sci, mask, cat_xy, det_xy, stem), "qa"
        )

        stamp, oversampling, n_psf, source = self._psf(psf_hdu, psfstars, sci, mask, sources, match)
        meta["measured"]["psf_source"] = source
        meta["measured"]["n_psf_stars"] = n_psf
        if n_psf:
            fit = fit_moffat_profile(stamp, oversampling)
            sx, sy = stamp_sigmas(stamp)
            asym = abs(sx - sy) / max(sx, sy) if np.isfinite(sx) and max(sx, sy) > 0 else None
            meta["measured"].update(
                psf_sigma_x=sx / oversampling,
                psf_sigma_y=sy / oversampling,
                psf_asymmetry=asym,
                moffat_fwhm=fit.fwhm if fit else None,
                moffat_alpha=fit.alpha if fit else None,
            )
            products["psf"] = Product(
                f"{stem}.psf.png", psf_png(stamp, fit, f"{stem}: {source}", pixscale), "qa"
            )
        else:
            meta["missing"]["psf"] = "no isolated unsaturated star to build a PSF stamp from"

        if zp_table is not None:
            cat_mag, inst_mag, colour, used, ids = zp_table
            colour_label = "catalog colour"
            zp_catalog = str(values.get("ZPTCAT", ""))
            if colour is None and ids is not None and zp_catalog in COLOURS:
                colour, colour_label = self._catalog_colour(zp_catalog, ids, wcs, sci.shape, item)
            zp = float(values.get("ZPTMAG", np.median((cat_mag - inst_mag)[used])))
            zperr = float(values.get("ZPTMUCER", np.nan))
            meta["measured"]["n_zp_stars"] = int(used.sum())
            products["zeropoint"] = Product(
                f"{stem}.zeropoint.png",
                zeropoint_png(
                    cat_mag, inst_mag, colour, used, zp, zperr, f"{stem}: zero point", colour_label
                ),
                "qa",
            )
        else:
            meta["missing"]["zeropoint"] = "not available (step zeropoint did not run)"
        if "M5SIGMA" not in values:
            meta["missing"]["limits"] = "not available (step zeropoint did not run)"

        frames, frame_matches = self._frames(task.refs, catalog)
        meta["frames"] = frames
        if frame_matches:
            products["frames"] = Product(
                f"{stem}.frames_astrometry.png",
                frames_astrometry_png(
                    frame_matches, f"{stem}: residuals vs {cfg.catalog} per input frame"
                ),
                "qa",
            )
        else:
            meta["missing"]["frames"] = why or "not available (no input frame could be measured)"
        meta["plots"] = {role: p.filename for role, p in products.items()}
        cut = self._dispersion_cut()
        meta["measured"]["dispersion_cut_px"] = cut
        meta["warnings"] = qc_flags(values, meta["measured"], psfstars, cfg, stem, cut)
        for name, row in frames.items():  # frames kept beyond the cut (align.keep_all_astro)
            for key in ("radisp", "dedisp"):
                value, scale = row.get(key), row.get("pixscale")
                if value is not None and scale and value / scale > cut:
                    meta["warnings"].append(
                        f'{name}: {key.upper()}={value:.3f}" = {value / scale:.2f} px '
                        f"(> {cut} px) in {stem}"
                    )
        for warning in meta["warnings"]:
            self.log.warning("[qa] %s", warning)
        return [Output(item.id, "qa", meta, products)]

    # -- helpers ---------------------------------------------------------------------------------

    def _catalog_colour(self, name: str, ids: np.ndarray, wcs: WCS, shape, item: Item):
        """Colours of the zero-point stars from the zero-point catalog (None if unavailable)."""
        blue, red = COLOURS[name]
        table, _ = self._catalog(wcs, shape, item, name)
        if (
            table is None
            or f"{blue}_mag" not in table.colnames
            or f"{red}_mag" not in table.colnames
        ):
            return None, "catalog colour"
        colours = dict(
            zip(
                np.asarray(table["source_id"]).astype(str),
                np.asarray(table[f"{blue}_mag"], float) - np.asarray(table[f"{red}_mag"], float),
                strict=True,
            )
        )
        values = np.array([colours.get(i, np.nan) for i in ids], float)
        return (values if np.isfinite(values).any() else None), f"{name} {blue}−{red}"

    def _dispersion_cut(self) -> float:
        """The dispersion cut in pixels: this step's, else the align step's, else 1 px."""
        if self.config.max_dispersion is not None:
            return float(self.config.max_dispersion)
        from omegaconf import OmegaConf

        value = OmegaConf.select(self.context.cfg, "align.max_dispersion_px", default=None)
        return float(value) if value is not None else 1.0

    def _frames(self, refs: list[Item], catalog: Table | None) -> tuple[dict, list]:
        """Per input frame: seeing (Moffat FWHM of a median star stamp) and residuals vs catalog."""
        out: dict[str, dict[str, Any]] = {}
        matches = []
        for frame in sorted(refs, key=lambda i: i.id):
            with fits.open(frame.path("image")) as hdul:
                sci = np.asarray(hdul["SCI"].data, float)
                mask = np.asarray(hdul["MASK"].data) if "MASK" in hdul else None
                wcs = WCS(hdul["SCI"].header)
                disp = {
                    k.lower(): float(hdul[0].header[k])
                    for k in ("RADISP", "DEDISP")
                    if k in hdul[0].header
                }
            sources = detect_sources(sci, mask, nsigma=self.config.detect_nsigma, limit=300)
            stamp, n = median_star_stamp(sci, mask, sources)
            fit = fit_moffat_profile(stamp) if n else None
            row: dict[str, Any] = {
                "n_sources": len(sources),
                "fwhm": fit.fwhm if fit else None,
                "n_stars_fwhm": n,
                **disp,
                "pixscale": float(np.mean(proj_plane_pixel_scales(wcs.celestial))) * 3600
                if wcs.has_celestial
                else None,
            }
            if catalog is not None and wcs.has_celestial:
                match = match_catalog(
                    sources, wcs, catalog["ra"], catalog["dec"], self.config.match_radius
                )
                rra, rdec = match.rms()
                row.update(
                    n_matched=match.n,
                    rms_ra=rra if match.n > 1 else None,
                    rms_dec=rdec if match.n > 1 else None,
                )
                matches.append((frame.id, match, sci.shape))
            out[frame.id] = row
        return out, matches

    def _catalog(
        self, wcs: WCS, shape: tuple[int, int], item: Item, name: str | None = None
    ) -> tuple[Table | None, str]:
        from potpyri.catalogs import CatalogUnavailable, query

        if not wcs.has_celestial:
            return None, "not available (the stack has no celestial WCS)"
        ny, nx = shape
        ra, dec = wcs.pixel_to_world_values((nx - 1) / 2, (ny - 1) / 2)
        corner = wcs.pixel_to_world_values(0, 0)
        radius = float(np.hypot((corner[0] - ra) * np.cos(np.deg2rad(dec)), corner[1] - dec)) * 1.05
        epoch = None
        with contextlib.suppress(TypeError, ValueError):
            epoch = 2000.0 + (float(item.meta.get("time")) - 51544.5) / 365.25
        cat = self.context.cfg.catalog
        try:
            table = query(
                name or self.config.catalog,
                float(ra),
                float(dec),
                radius,
                epoch=epoch,
                cache_dir=cat.cache_dir,
                offline=bool(cat.offline) or not self.config.online,
            )
        except (CatalogUnavailable, ValueError, OSError) as exc:
            return None, f"not available ({name or self.config.catalog} catalog: {exc})"
        return table, ""

    def _psf(self, psf_hdu, psfstars, sci, mask, sources, match):
        if psf_hdu is not None and psf_hdu.data is not None:
            over = int(psf_hdu.header.get("OVERSAMP", psf_hdu.header.get("PSFOVER", 1)) or 1)
            return (
                np.asarray(psf_hdu.data, float),
                over,
                psfstars or 0,
                f"PSF extension ({psfstars} stars)",
            )
        # No PSF extension yet: a median stamp of bright isolated stars, for a look at the seeing.
        stars = sources
        if match is not None and match.n:  # prefer detections that are catalog stars
            keep = np.isin(np.round(np.asarray(sources["x"]), 3), np.round(match.x, 3))
            stars = sources[keep]
        stamp, n = median_star_stamp(sci, mask, stars)
        return (
            stamp,
            1,
            n,
            f"median of {n} bright stars (no PSF extension: step photometry did not run)",
        )


def _zeropoint_table(hdul: fits.HDUList):
    """Catalog and instrumental magnitudes of the zero-point stars, if a stack extension has them.

    Looks for a table with a catalog-magnitude column (``cat_mag``/``mag_cat``/``catalog_mag``),
    an instrumental one (``mag_inst``/``inst_mag``), optionally a colour and a used/clipped flag.
    """
    for hdu in hdul[1:]:
        if not isinstance(hdu, fits.BinTableHDU) or hdu.data is None or len(hdu.data) == 0:
            continue
        names = {n.lower(): n for n in hdu.columns.names}
        cat = next(
            (names[n] for n in ("cat_mag", "mag_cat", "catalog_mag", "ref_mag") if n in names), None
        )
        inst = next((names[n] for n in ("mag_inst", "inst_mag") if n in names), None)
        if cat is None or inst is None:
            continue
        data = hdu.data
        colour = next(
            (
                np.asarray(data[names[n]], float)
                for n in ("colour", "color", "cat_color", "cat_colour")
                if n in names
            ),
            None,
        )
        if "used" in names:
            used = np.asarray(data[names["used"]], bool)
        elif "clipped" in names:
            used = ~np.asarray(data[names["clipped"]], bool)
        else:
            used = np.ones(len(data), bool)
        ids = np.asarray(data[names["catalog_id"]]).astype(str) if "catalog_id" in names else None
        return np.asarray(data[cat], float), np.asarray(data[inst], float), colour, used, ids
    return None


#: Colour shown against the zero-point residuals, per catalog: (blue band, red band).
COLOURS = {
    "ps1": ("g", "i"),
    "sdss": ("g", "i"),
    "skymapper": ("g", "i"),
    "gaia": ("BP", "RP"),
    "2mass": ("J", "K"),
}


def qc_flags(
    values: dict,
    measured: dict,
    psfstars: int | None,
    cfg: Qa.Config,
    stem: str,
    cut_px: float = 1.0,
) -> list[str]:
    """The reference's QC advice as flags: one readable line per problem found (no "; " inside a
    flag: the runner joins an item's warnings with it).

    ``cut_px`` is the astrometric dispersion cut in pixels; the stack's pixel scale (arcsec) is
    ``measured["pixscale"]``.
    """
    flags = []
    # The photometry step's header values win over the QA's own quick measurements.
    n_psf = int(values["NPSFSTAR"]) if "NPSFSTAR" in values else psfstars
    if n_psf is not None and n_psf < cfg.min_psf_stars:
        flags.append(f"{stem}: PSF from {n_psf} star(s) (< qa.min_psf_stars={cfg.min_psf_stars})")
    if "PSFSIGX" in values and "PSFSIGY" in values:
        sx, sy = float(values["PSFSIGX"]), float(values["PSFSIGY"])
        asym = abs(sx - sy) / max(sx, sy) if max(sx, sy) > 0 else None
    else:
        asym = measured.get("psf_asymmetry")
    if asym is not None and asym > cfg.max_psf_asymmetry:
        flags.append(
            f"{stem}: PSF x/y widths differ by {asym:.0%} (> qa.max_psf_asymmetry={cfg.max_psf_asymmetry:.0%})"
        )
    scale = measured.get("pixscale") or None
    for key in ("RADISP", "DEDISP"):
        if key in values and scale and float(values[key]) / scale > cut_px:
            flags.append(
                f'{stem}: {key}={float(values[key]):.3f}" = {float(values[key]) / scale:.2f} px '
                f"(> dispersion cut {cut_px} px)"
            )
    for name, key in (("RA", "rms_ra"), ("Dec", "rms_dec")):
        value = measured.get(key)
        if value is not None and scale and np.isfinite(value) and value / scale > cut_px:
            flags.append(
                f'{stem}: stack residual scatter in {name} {value:.3f}" against the catalog '
                f"(> dispersion cut {cut_px} px)"
            )
    n_inside, n_matched = measured.get("n_catalog_inside"), measured.get("n_matched")
    if n_inside and n_matched is not None and n_matched < cfg.min_match_fraction * n_inside:
        flags.append(
            f"{stem}: only {n_matched} of the {n_inside} catalog stars inside the stack match a "
            f'detection within qa.match_radius={cfg.match_radius}" (< qa.min_match_fraction='
            f"{cfg.min_match_fraction}: the WCS may be off)"
        )
    n_zp = int(values["ZPTNSTAR"]) if "ZPTNSTAR" in values else measured.get("n_zp_stars")
    if n_zp is not None and n_zp < cfg.min_zp_stars:
        flags.append(
            f"{stem}: zero point from {n_zp} star(s) (< qa.min_zp_stars={cfg.min_zp_stars})"
        )
    if "ZPTMUCER" in values and float(values["ZPTMUCER"]) > cfg.max_zp_uncertainty:
        flags.append(
            f"{stem}: ZPTMUCER={float(values['ZPTMUCER']):.3f} mag (> qa.max_zp_uncertainty={cfg.max_zp_uncertainty})"
        )
    n_sources = int(values["NSOURCES"]) if "NSOURCES" in values else measured.get("n_sources", 0)
    if n_sources < cfg.min_sources:
        flags.append(f"{stem}: {n_sources} source(s) detected (< qa.min_sources={cfg.min_sources})")
    return flags

"""One stack's QA: its measurements, its figures (PNG bytes) and its QC flags.

What it cannot measure is reported as not available, with the reason, in ``meta["missing"]``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

import numpy as np
from astropy.io import fits
from astropy.table import Table
from astropy.wcs import WCS
from astropy.wcs.utils import proj_plane_pixel_scales

from potpyri.qa.catalog import COLOURS, CatalogAccess, catalog_colour, stack_catalog
from potpyri.qa.flags import QcLimits, frame_dispersion_flags, qc_flags
from potpyri.qa.measure import (
    Match,
    MoffatFit,
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
from potpyri.qa.stack_file import StackFile

__all__ = ["FIGURES", "StackReview", "ReviewSettings", "failed_review", "review_stack"]

#: The figures of a stack's review, by role.
FIGURES = ("preview", "psf", "astrometry", "frames", "zeropoint")


class ReviewSettings(QcLimits, Protocol):
    """The measurement settings and QC limits of a review (the ``qa`` step's config)."""

    catalog: Any  #: astrometric reference catalog (a name, or a str enum of one)
    detect_nsigma: float


@dataclass
class StackReview:
    """A stack's QA: the item metadata the report reads, and the figures by role."""

    meta: dict[str, Any]
    figures: dict[str, tuple[str, bytes]] = field(default_factory=dict)  #: role -> (file, PNG)


def failed_review(identity: dict[str, Any], stack_name: str, stack_id: str, why: str) -> dict:
    """The metadata of a stack whose QA failed: every figure missing, with the reason."""
    return {
        "stack": stack_name,
        **identity,
        "header": {},
        "measured": {},
        "plots": {},
        "frames": {},
        "missing": dict.fromkeys((*FIGURES, "limits"), why),
        "warnings": [f"{stack_id}: {why}"],
    }


def _pixscale_arcsec(wcs: WCS) -> float | None:
    if not wcs.has_celestial:
        return None
    return float(np.mean(proj_plane_pixel_scales(wcs.celestial))) * 3600


def review_stack(
    path: Path,
    stack: StackFile,
    identity: dict[str, Any],
    frames: list[tuple[str, Path]],
    settings: ReviewSettings,
    access: CatalogAccess,
    cut_px: float,
) -> StackReview:
    """Measure, draw and flag the stack at ``path``.

    Parameters
    ----------
    path : Path
        The stack product.
    stack : StackFile
        What :func:`~potpyri.qa.stack_file.read_stack` read from it.
    identity : dict
        ``target``, ``filter`` and ``inputs`` of the stack, copied into the metadata.
    frames : list of (str, Path)
        The stack's input frames (id, resampled image), for their seeing and residuals.
    settings : ReviewSettings
        Catalog, detection threshold, match radius and QC limits.
    access : CatalogAccess
        Where catalog answers come from.
    cut_px : float
        The astrometric dispersion cut, pixels.
    """
    stem = path.name.removesuffix(".fits").removesuffix(".stk")
    sci, mask, wcs, values = stack.sci, stack.mask, stack.wcs, stack.values
    catalog_name = getattr(settings.catalog, "value", settings.catalog)
    meta: dict[str, Any] = {
        "stack": path.name,
        **identity,
        "header": values,
        "plots": {},
        "missing": {},
        "measured": {},
    }
    measured = meta["measured"]
    pixscale = _pixscale_arcsec(wcs)
    measured["pixscale"] = pixscale
    fwhm_guess = float(values.get("FWHM") or 4.0)
    sources = detect_sources(sci, mask, fwhm=fwhm_guess, nsigma=settings.detect_nsigma)
    measured["n_sources"] = len(sources)
    figures: dict[str, tuple[str, bytes]] = {}

    catalog, why = stack_catalog(catalog_name, wcs, sci.shape, access)
    cat_xy = None
    match = None
    if catalog is not None:
        cat_xy, match = _match_stack(stack, sources, catalog, settings, measured)
        figures["astrometry"] = (
            f"{stem}.astrometry.png",
            astrometry_png(match, sci.shape, f"{stem}: stack vs {catalog_name}"),
        )
    else:
        meta["missing"]["astrometry"] = why
    det_xy = np.column_stack([sources["x"], sources["y"]]) if len(sources) else None
    figures["preview"] = (
        f"{stem}.preview.png",
        preview_png(sci, mask, cat_xy, det_xy, stem, wcs, catalog_name),
    )

    stamp, oversampling, n_psf, source = _psf_stamp(
        stack.psf_hdu, stack.psfstars, sci, mask, sources, match
    )
    measured["psf_source"] = source
    measured["n_psf_stars"] = n_psf
    if n_psf:
        fit = _psf_shape(stamp, oversampling, measured)
        figures["psf"] = (f"{stem}.psf.png", psf_png(stamp, fit, f"{stem}: {source}", pixscale))
    else:
        meta["missing"]["psf"] = "no isolated unsaturated star to build a PSF stamp from"

    if stack.zp_stars is not None:
        png = _zeropoint_figure(stack, access, f"{stem}: zero point", measured)
        figures["zeropoint"] = (f"{stem}.zeropoint.png", png)
    else:
        meta["missing"]["zeropoint"] = "not available (step zeropoint did not run)"
    if "M5SIGMA" not in values:
        meta["missing"]["limits"] = "not available (step zeropoint did not run)"

    meta["frames"], frame_matches = review_frames(frames, catalog, settings)
    if frame_matches:
        title = f"{stem}: residuals vs {catalog_name} per input frame"
        figures["frames"] = (
            f"{stem}.frames_astrometry.png",
            frames_astrometry_png(frame_matches, title),
        )
    else:
        meta["missing"]["frames"] = why or "not available (no input frame could be measured)"
    meta["plots"] = {role: filename for role, (filename, _) in figures.items()}
    measured["dispersion_cut_px"] = cut_px
    meta["warnings"] = qc_flags(values, measured, stack.psfstars, settings, stem, cut_px)
    meta["warnings"] += frame_dispersion_flags(meta["frames"], cut_px, stem)
    return StackReview(meta, figures)


def _match_stack(
    stack: StackFile,
    sources: Table,
    catalog: Table,
    settings: ReviewSettings,
    measured: dict[str, Any],
) -> tuple[np.ndarray, Match]:
    """Catalog positions on the stack and the detections matched to them (adds to ``measured``)."""
    wcs = stack.wcs
    x, y = wcs.world_to_pixel_values(
        np.asarray(catalog["ra"], float), np.asarray(catalog["dec"], float)
    )
    cat_xy = np.column_stack([x, y])
    ny, nx = stack.sci.shape
    inside = (x > -0.5) & (x < nx - 0.5) & (y > -0.5) & (y < ny - 0.5)
    measured["n_catalog_inside"] = int(inside.sum())
    match = match_catalog(sources, wcs, catalog["ra"], catalog["dec"], settings.match_radius_arcsec)
    rra, rdec = match.rms()
    measured.update(
        n_catalog=len(catalog),
        n_matched=match.n,
        rms_ra=rra,
        rms_dec=rdec,
        median_dra=float(np.median(match.dra)) if match.n else None,
        median_ddec=float(np.median(match.ddec)) if match.n else None,
    )
    return cat_xy, match


def _psf_shape(stamp: np.ndarray, oversampling: int, measured: dict[str, Any]) -> MoffatFit | None:
    """Moffat fit and second-moment widths of a PSF stamp (adds them to ``measured``)."""
    fit = fit_moffat_profile(stamp, oversampling)
    sx, sy = stamp_sigmas(stamp)
    asym = abs(sx - sy) / max(sx, sy) if np.isfinite(sx) and max(sx, sy) > 0 else None
    measured.update(
        psf_sigma_x=sx / oversampling,
        psf_sigma_y=sy / oversampling,
        psf_asymmetry=asym,
        moffat_fwhm=fit.fwhm if fit else None,
        moffat_alpha=fit.alpha if fit else None,
    )
    return fit


def _zeropoint_figure(
    stack: StackFile, access: CatalogAccess, title: str, measured: dict[str, Any]
) -> bytes:
    """The zero-point figure of the stack's zero-point stars (adds their count to ``measured``);
    colours from the zero-point catalog when the table has none."""
    values = stack.values
    cat_mag, inst_mag, colour, used, ids = stack.zp_stars
    colour_label = "catalog colour"
    zp_catalog = str(values.get("ZPTCAT", ""))
    term, term_colour = float(values.get("ZPCOLTRM", 0.0)), str(values.get("ZPCOLOR", "none"))
    if colour is not None and term_colour != "none":  # the colour of the zero point's colour term
        colour_label = f"{zp_catalog} {term_colour}"
    else:
        term = 0.0
    if colour is None and ids is not None and zp_catalog in COLOURS:
        colour, colour_label = catalog_colour(zp_catalog, ids, stack.wcs, stack.sci.shape, access)
    zp = float(values.get("ZPTMAG", np.median((cat_mag - inst_mag)[used])))
    zperr = float(values.get("ZPTMUCER", np.nan))
    measured["n_zp_stars"] = int(used.sum())
    return zeropoint_png(cat_mag, inst_mag, colour, used, zp, zperr, title, colour_label, term)


def review_frames(
    frames: list[tuple[str, Path]], catalog: Table | None, settings: ReviewSettings
) -> tuple[dict[str, dict[str, Any]], list[tuple[str, Match, tuple[int, int]]]]:
    """Per input frame: seeing (Moffat FWHM of a median star stamp) and residuals vs catalog."""
    out: dict[str, dict[str, Any]] = {}
    matches = []
    for frame_id, path in sorted(frames):
        with fits.open(path) as hdul:
            sci = np.asarray(hdul["SCI"].data, float)
            mask = np.asarray(hdul["MASK"].data) if "MASK" in hdul else None
            wcs = WCS(hdul["SCI"].header)
            disp = {
                k.lower(): float(hdul[0].header[k])
                for k in ("RADISP", "DEDISP")
                if k in hdul[0].header
            }
        sources = detect_sources(sci, mask, nsigma=settings.detect_nsigma, limit=300)
        stamp, n = median_star_stamp(sci, mask, sources)
        fit = fit_moffat_profile(stamp) if n else None
        row: dict[str, Any] = {
            "n_sources": len(sources),
            "fwhm": fit.fwhm if fit else None,
            "n_stars_fwhm": n,
            **disp,
            "pixscale": _pixscale_arcsec(wcs),
        }
        if catalog is not None and wcs.has_celestial:
            match = match_catalog(
                sources, wcs, catalog["ra"], catalog["dec"], settings.match_radius_arcsec
            )
            rra, rdec = match.rms()
            row.update(
                n_matched=match.n,
                rms_ra=rra if match.n > 1 else None,
                rms_dec=rdec if match.n > 1 else None,
            )
            matches.append((frame_id, match, sci.shape))
        out[frame_id] = row
    return out, matches


def _psf_stamp(psf_hdu, psfstars, sci, mask, sources, match):
    """The PSF to show: the photometry step's extension, else a median stamp of bright stars."""
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
        f"median of {n} bright stars (no PSF extension: no photometry, or aperture only)",
    )

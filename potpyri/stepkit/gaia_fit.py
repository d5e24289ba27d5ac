"""What the align and stack_wcs steps share: the settings of a WCS fit to Gaia stars, running
the fit on a product, and the fit's numbers in an item's metadata."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, ClassVar

from astropy.io import fits
from astropy.wcs import WCS

from potpyri.astrometry.errors import AstrometryFailed
from potpyri.astrometry.fine_align import align_image, dispersion_px
from potpyri.astrometry.reference import astrometric_file
from potpyri.framework.step import StepConfig, StepFailed

__all__ = ["GaiaFitConfig", "fit_to_gaia", "fit_meta"]


@dataclass
class GaiaFitConfig(StepConfig):
    """Fields every step fitting a WCS to reference stars has."""

    renamed: ClassVar[dict[str, str]] = {
        "threshold": "detect_nsigma",
        "match_radius": "match_radius_arcsec",
        "max_dispersion": "max_dispersion_px",
    }

    catalog: str = "gaia"  #: reference catalog (reference --fine-align-catalog)
    detect_nsigma: float = 5.0  #: source detection threshold, background sigmas
    fwhm_arcsec: float = 1.0  #: expected seeing FWHM, arcsec (detection kernel, centroid window)
    match_radius_arcsec: float = 2.0  #: initial source-star match radius (after astrometry)
    sip_degree: int = 3  #: full SIP degree tried when there are ≥ 4 stars per coefficient
    clip_sigma: float = 3.0  #: residual clipping, in robust sigmas
    min_stars: int = 6  #: fewer matched stars than this fails the fit
    max_dispersion_px: float = 1.0  #: RADISP/DEDISP limit: align drops a frame, stack_wcs warns


def fit_to_gaia(
    hdul: fits.HDUList,
    wcs: WCS,
    cfg: GaiaFitConfig,
    catalog_settings: Any,
    *,
    match_radius_arcsec: float,
    epoch: float | None,
    name: str,
) -> float:
    """Refine ``wcs`` on ``hdul`` and write it (:func:`~potpyri.astrometry.fine_align.align_image`);
    the fit's dispersion in pixels.

    ``catalog_settings`` is the run's ``catalog`` group (``cache_dir``, ``offline``, and a user's
    ``file`` that replaces ``cfg.catalog`` when it serves the astrometry). Raises StepFailed with
    one line naming ``name``.
    """
    try:
        align_image(
            hdul,
            wcs,
            epoch=epoch,
            catalog=cfg.catalog,
            user=astrometric_file(catalog_settings),
            cache_dir=catalog_settings.cache_dir,
            offline=bool(catalog_settings.offline),
            detect_nsigma=cfg.detect_nsigma,
            fwhm_arcsec=cfg.fwhm_arcsec,
            match_radius_arcsec=match_radius_arcsec,
            sip_degree=cfg.sip_degree,
            clip_sigma=cfg.clip_sigma,
            min_stars=cfg.min_stars,
        )
    except AstrometryFailed as exc:
        raise StepFailed(f"{name}: Gaia alignment failed: {exc}") from None
    return dispersion_px(hdul)


def fit_meta(meta: dict, header: fits.Header, warnings: list[str]) -> dict:
    """``meta`` with the fit's RADISP, DEDISP and NASTRO from ``header``, and ``warnings``
    appended to its own."""
    out = {
        **meta,
        "radisp": header["RADISP"],
        "dedisp": header["DEDISP"],
        "nastro": header["NASTRO"],
    }
    if warnings:
        out["warnings"] = [*meta.get("warnings", []), *warnings]
    return out

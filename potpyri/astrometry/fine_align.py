"""Fine alignment of a frame or a stack: its sources matched to reference stars at the frame's
epoch, a TAN (+ distortion) WCS fitted, and the fit's quality written to the primary header."""

from __future__ import annotations

import os

from astropy.io import fits
from astropy.table import Table
from astropy.wcs import WCS

from potpyri.astrometry.detect import detect_sources, detection_mask
from potpyri.astrometry.errors import AstrometryFailed
from potpyri.astrometry.reference import gaia_reference
from potpyri.astrometry.refine import RefineResult, refine_wcs
from potpyri.astrometry.wcsio import (
    header_wcs,
    pixel_scale,
    replace_wcs,
)
from potpyri.catalogs.cones import image_cone
from potpyri.catalogs.user_file import UserCatalog

__all__ = ["align_image", "dispersion_px", "fine_align"]


def fine_align(
    sources: Table,
    shape: tuple[int, int],
    wcs: WCS,
    reference: Table,
    *,
    match_radius_arcsec: float = 2.0,
    sip_degree: int = 3,
    clip_sigma: float = 3.0,
    min_stars: int = 6,
) -> RefineResult:
    """Refine a WCS good to about an arcsecond against reference stars (see :func:`refine_wcs`).

    Raises
    ------
    AstrometryFailed
        When too few stars match.
    """
    scale = pixel_scale(wcs)
    try:
        return refine_wcs(
            sources["x"],
            sources["y"],
            reference["ra"],
            reference["dec"],
            wcs,
            shape,
            match_radius_px=max(match_radius_arcsec / scale, 1.5),
            sip_degree=sip_degree,
            clip_sigma=clip_sigma,
            min_stars=min_stars,
        )
    except ValueError as exc:
        raise AstrometryFailed(str(exc)) from None


def align_image(
    hdul: fits.HDUList,
    wcs: WCS,
    *,
    epoch: float | None,
    catalog: str = "gaia",
    user: UserCatalog | None = None,
    cache_dir: str | os.PathLike | None = None,
    offline: bool = False,
    detect_nsigma: float = 5.0,
    fwhm_arcsec: float = 1.0,
    match_radius_arcsec: float = 2.0,
    sip_degree: int = 3,
    clip_sigma: float = 3.0,
    min_stars: int = 6,
) -> RefineResult:
    """Refine ``wcs`` on the SCI image of ``hdul`` and write it into every header, with the fit's
    NASTRO, RADISP, DEDISP, ASTRRMS, ASTRDIST, ASTRCAT (and ASTREPOC) in the primary header.

    Parameters
    ----------
    hdul : astropy.io.fits.HDUList
        A frame or stack with ``SCI`` and ``MASK`` extensions; changed in place.
    wcs : astropy.wcs.WCS
        The starting WCS, good to a fraction of ``match_radius_arcsec``.
    epoch : float or None
        Decimal year the reference positions are propagated to.
    catalog, cache_dir, offline
        Which reference catalog, where its answers are cached, and whether to stay offline.
    user : UserCatalog, optional
        A user's catalog file used instead of ``catalog`` (see
        :func:`~potpyri.astrometry.reference.astrometric_file`).
    detect_nsigma, fwhm_arcsec
        Source detection threshold (background sigmas) and expected seeing FWHM (arcsec).
    match_radius_arcsec, sip_degree, clip_sigma, min_stars
        See :func:`fine_align`.

    Raises
    ------
    AstrometryFailed
        With a one-line reason.
    """
    sci, mask = hdul["SCI"].data, hdul["MASK"].data
    scale = pixel_scale(wcs)
    sources = detect_sources(
        sci,
        detection_mask(mask),
        fwhm=fwhm_arcsec / scale,
        threshold=detect_nsigma,
        max_sources=1000,
    )
    cone = image_cone(wcs, sci.shape, scale_arcsec=scale, margin_arcsec=2 * match_radius_arcsec)
    reference = gaia_reference(
        cone.ra,
        cone.dec,
        cone.radius,
        epoch=epoch,
        cache_dir=cache_dir,
        offline=offline,
        catalog=catalog,
        user=user,
    )
    result = fine_align(
        sources,
        sci.shape,
        wcs,
        reference,
        match_radius_arcsec=match_radius_arcsec,
        sip_degree=sip_degree,
        clip_sigma=clip_sigma,
        min_stars=min_stars,
    )
    replace_wcs(hdul, result.wcs)
    hdr = hdul[0].header
    hdr["NASTRO"] = (result.nstars, "reference stars in the WCS fit")
    hdr["RADISP"] = (round(result.radisp, 5), "Dispersion in R.A. of WCS [Arcsec]")
    hdr["DEDISP"] = (round(result.dedisp, 5), "Dispersion in Decl. of WCS [Arcsec]")
    hdr["ASTRRMS"] = (round(result.rms_px, 4), "RMS of the WCS fit residuals, pixels")
    hdr["ASTRDIST"] = (result.sip_degree, "distortion order fitted (0: TAN only)")
    hdr["ASTRCAT"] = (user.label[:60] if user else catalog, "astrometric reference catalog")
    if epoch is not None:
        hdr["ASTREPOC"] = (round(epoch, 4), "epoch of the reference positions, yr")
    return result


def dispersion_px(hdul: fits.HDUList) -> float:
    """The larger of the header's RADISP and DEDISP (as written, arcsec) in pixels of the SCI
    WCS."""
    hdr = hdul[0].header
    return max(hdr["RADISP"], hdr["DEDISP"]) / pixel_scale(header_wcs(hdul["SCI"].header))

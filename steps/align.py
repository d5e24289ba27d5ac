"""align: refine each frame's WCS against Gaia DR3 (the reference's fine alignment).

Gaia positions are propagated with their proper motions to the frame's epoch; detected sources
(Gaussian-windowed centroids) are matched to them and a TAN WCS is fitted, with distortion terms
where the residuals call for them. The header records ``NASTRO`` (stars in the fit) and ``RADISP``
/ ``DEDISP``: the robust scatter of the residuals in R.A. and Dec., arcsec. A frame whose
dispersion exceeds ``max_dispersion`` pixels is set aside unless ``keep_all_astro``.
"""

from __future__ import annotations

from dataclasses import dataclass

from astropy.io import fits

from potpyri.astrometry.solve import (
    AstrometryFailed,
    detect_sources,
    detection_mask,
    field_radius_deg,
    fine_align,
    frame_epoch,
    gaia_reference,
    header_wcs,
    pixel_scale,
    pointing,
    replace_wcs,
)
from potpyri.framework.step import (
    Output,
    Product,
    Scope,
    Step,
    StepConfig,
    StepFailed,
    Task,
    register_step,
)
from potpyri.stepkit.frame_io import read_product

__all__ = ["Align", "write_solution"]


@register_step("align")
class Align(Step):
    """Fine WCS against Gaia DR3 (TAN + distortion), with RADISP/DEDISP/NASTRO in the header."""

    @dataclass
    class Config(StepConfig):
        catalog: str = "gaia"  #: reference catalog (reference --fine-align-catalog)
        threshold: float = 5.0  #: source detection threshold, background sigmas
        fwhm_arcsec: float = (
            1.0  #: expected seeing FWHM, arcsec (detection kernel, centroid window)
        )
        match_radius: float = 2.0  #: initial source-star match radius, arcsec (after astrometry)
        sip_degree: int = 3  #: full SIP degree tried when there are ≥ 4 stars per coefficient
        clip_sigma: float = 3.0  #: residual clipping, in robust sigmas
        min_stars: int = 6  #: fewer matched stars than this fails the frame
        max_dispersion: float = (
            1.0  #: frames with RADISP or DEDISP above this many pixels are dropped
        )
        keep_all_astro: bool = (
            False  #: keep frames beyond max_dispersion (reference --keep-all-astro)
        )

    version = "4"
    scope = Scope.frame
    depends_on = ("catalog",)

    def run(self, task: Task) -> list[Output]:
        item = task.inputs[0]
        path = item.path("image")
        frame = read_product(path)
        cfg = self.config
        wcs = header_wcs(frame["SCI"].header) or header_wcs(frame[0].header)
        if wcs is None:
            raise StepFailed(f"{path.name}: no WCS to refine")
        radius = cfg.match_radius
        if "ASTROMET" not in frame[0].header:
            radius = max(radius, 10.0)  # only the telescope's pointing to start from
            self.log.warning(
                '%s: no coarse astrometry; matching Gaia from the header WCS within %.0f"',
                item.id,
                radius,
            )
        warnings = write_solution(
            frame,
            wcs,
            self.context.cfg.catalog,
            cfg,
            radius,
            frame_epoch(frame[0].header, item.meta.get("time")),
            path.name,
        )
        dispersion_px = max(frame[0].header["RADISP"], frame[0].header["DEDISP"]) / pixel_scale(
            header_wcs(frame["SCI"].header)
        )
        if dispersion_px > cfg.max_dispersion:
            reason = (
                f"{path.name}: astrometric dispersion {dispersion_px:.2f} px exceeds "
                f"align.max_dispersion={cfg.max_dispersion}"
            )
            if not cfg.keep_all_astro:
                raise StepFailed(reason)
            warnings.append(reason + " (kept: keep_all_astro)")
        meta = {
            **item.meta,
            "radisp": frame[0].header["RADISP"],
            "dedisp": frame[0].header["DEDISP"],
            "nastro": frame[0].header["NASTRO"],
        }
        if warnings:
            meta["warnings"] = [*item.meta.get("warnings", []), *warnings]
        return [Output(item.id, "frame", meta, {"image": Product(path.name, frame, "workspace")})]


def write_solution(
    frame: fits.HDUList, wcs, catalog_cfg, cfg, match_radius: float, epoch: float | None, name: str
) -> list[str]:
    """Refine ``wcs`` on the SCI image of ``frame`` and write it, with NASTRO/RADISP/DEDISP.

    Shared by ``align`` (frames) and ``stack_wcs`` (stacks). Raises StepFailed with one line.
    """
    sci, mask = frame["SCI"].data, frame["MASK"].data
    scale = pixel_scale(wcs)
    sources = detect_sources(
        sci,
        detection_mask(mask),
        fwhm=cfg.fwhm_arcsec / scale,
        threshold=cfg.threshold,
        max_sources=1000,
    )
    ra, dec = pointing(wcs, sci.shape)
    try:
        reference = gaia_reference(
            ra,
            dec,
            field_radius_deg(sci.shape, scale) + 2 * match_radius / 3600.0,
            epoch=epoch,
            cache_dir=catalog_cfg.cache_dir,
            offline=bool(catalog_cfg.offline),
            catalog=cfg.catalog,
        )
        result = fine_align(
            sources,
            sci.shape,
            wcs,
            reference,
            match_radius_arcsec=match_radius,
            sip_degree=cfg.sip_degree,
            clip_sigma=cfg.clip_sigma,
            min_stars=cfg.min_stars,
        )
    except AstrometryFailed as exc:
        raise StepFailed(f"{name}: Gaia alignment failed: {exc}") from None
    replace_wcs(frame, result.wcs)
    hdr = frame[0].header
    hdr["NASTRO"] = (result.nstars, "reference stars in the WCS fit")
    hdr["RADISP"] = (round(result.radisp, 5), "Dispersion in R.A. of WCS [Arcsec]")
    hdr["DEDISP"] = (round(result.dedisp, 5), "Dispersion in Decl. of WCS [Arcsec]")
    hdr["ASTRRMS"] = (round(result.rms_px, 4), "RMS of the WCS fit residuals, pixels")
    hdr["ASTRDIST"] = (result.sip_degree, "distortion order fitted (0: TAN only)")
    hdr["ASTRCAT"] = (cfg.catalog, "astrometric reference catalog")
    if epoch is not None:
        hdr["ASTREPOC"] = (round(epoch, 4), "epoch of the reference positions, yr")
    return []

"""align: refine each frame's WCS against Gaia DR3 (the reference's fine alignment).

Gaia positions are propagated with their proper motions to the frame's epoch; detected sources
(Gaussian-windowed centroids) are matched to them and a TAN WCS is fitted, with distortion terms
where the residuals call for them. The header records ``NASTRO`` (stars in the fit) and ``RADISP``
/ ``DEDISP``: the robust scatter of the residuals in R.A. and Dec., arcsec. A frame whose
dispersion exceeds ``max_dispersion_px`` pixels is set aside unless ``keep_all_astro``.
"""

from __future__ import annotations

from dataclasses import dataclass

from potpyri.astrometry.epoch import frame_epoch
from potpyri.astrometry.wcsio import frame_wcs
from potpyri.framework.step import Output, Product, Scope, Step, StepFailed, Task, register_step
from potpyri.stepkit.frame_io import read_product
from potpyri.stepkit.gaia_fit import GaiaFitConfig, fit_meta, fit_to_gaia

__all__ = ["Align"]

#: Match radius when no coarse solution ran: only the telescope's pointing to start from, arcsec.
POINTING_MATCH_RADIUS_ARCSEC = 10.0


@register_step("align")
class Align(Step):
    """Fine WCS against Gaia DR3 (TAN + distortion), with RADISP/DEDISP/NASTRO in the header."""

    @dataclass
    class Config(GaiaFitConfig):
        keep_all_astro: bool = False  #: keep frames beyond max_dispersion_px (--keep-all-astro)

    version = "4"
    scope = Scope.frame
    depends_on = ("catalog",)
    depends_on_files = ("catalog.file", "zeropoint.catalog_file")  # their content, too

    def run(self, task: Task) -> list[Output]:
        item = task.inputs[0]
        path = item.path("image")
        frame = read_product(path)
        cfg = self.config
        wcs = frame_wcs(frame)
        if wcs is None:
            raise StepFailed(f"{path.name}: no WCS to refine")
        radius = cfg.match_radius_arcsec
        if "ASTROMET" not in frame[0].header:
            radius = max(radius, POINTING_MATCH_RADIUS_ARCSEC)
            self.log.warning(
                '%s: no coarse astrometry; matching Gaia from the header WCS within %.0f"',
                item.id,
                radius,
            )
        epoch = frame_epoch(frame[0].header, item.meta.get("time"))
        dispersion_px = fit_to_gaia(
            frame,
            wcs,
            cfg,
            self.context.cfg.catalog,
            match_radius_arcsec=radius,
            epoch=epoch,
            name=path.name,
        )
        warnings = []
        if dispersion_px > cfg.max_dispersion_px:
            reason = (
                f"{path.name}: astrometric dispersion {dispersion_px:.2f} px exceeds "
                f"align.max_dispersion_px={cfg.max_dispersion_px}"
            )
            if not cfg.keep_all_astro:
                raise StepFailed(reason)
            warnings.append(reason + " (kept: keep_all_astro)")
        meta = fit_meta(item.meta, frame[0].header, warnings)
        return [Output(item.id, "frame", meta, {"image": Product(path.name, frame, "workspace")})]

"""stack_wcs: the final WCS check on each stack (reference: "an automatic WCS solution on the
final stack"), refined against Gaia with the same functions as ``align``.

The stack is re-emitted under its own name with the refined WCS in every header and ``NASTRO``,
``RADISP``, ``DEDISP`` in its primary header, so users check one file. A stack whose dispersion
exceeds ``max_dispersion_px`` pixels gets a warning.
"""

from __future__ import annotations

from dataclasses import dataclass

from potpyri.astrometry.epoch import frame_epoch
from potpyri.astrometry.wcsio import frame_wcs
from potpyri.framework.step import (
    Item,
    Output,
    Product,
    Scope,
    Step,
    StepFailed,
    Task,
    register_step,
)
from potpyri.stepkit.frame_io import read_product
from potpyri.stepkit.gaia_fit import GaiaFitConfig, fit_meta, fit_to_gaia

__all__ = ["StackWcs"]


@register_step("stack_wcs")
class StackWcs(Step):
    """Refine the stack's WCS against Gaia; record NASTRO, RADISP and DEDISP."""

    @dataclass
    class Config(GaiaFitConfig):
        pass

    version = "3"
    scope = Scope.target
    depends_on = ("catalog",)
    depends_on_files = ("catalog.file", "zeropoint.catalog_file")  # their content, too

    def select(self, items) -> list[Item]:
        return [i for i in items if i.ok and i.kind == "target" and "stack" in i.files]

    def group_key(self, item: Item) -> str:
        return item.id

    def run(self, task: Task) -> list[Output]:
        item = task.inputs[0]
        path = item.path("stack")
        stack = read_product(path)
        wcs = frame_wcs(stack)
        if wcs is None:
            raise StepFailed(f"{path.name}: the stack has no WCS to check")
        cfg = self.config
        dispersion_px = fit_to_gaia(
            stack,
            wcs,
            cfg,
            self.context.cfg.catalog,
            match_radius_arcsec=cfg.match_radius_arcsec,
            epoch=frame_epoch(stack[0].header, item.meta.get("time")),
            name=path.name,
        )
        warnings = []
        if dispersion_px > cfg.max_dispersion_px:
            warnings.append(
                f"{path.name}: stack astrometric dispersion {dispersion_px:.2f} px "
                f"above {cfg.max_dispersion_px} px"
            )
        hdr = stack[0].header
        self.log.info(
            '%s: stack WCS refined on %d Gaia stars, RADISP %.3f" DEDISP %.3f"',
            item.id,
            hdr["NASTRO"],
            hdr["RADISP"],
            hdr["DEDISP"],
        )
        meta = fit_meta(item.meta, hdr, warnings)
        return [Output(item.id, item.kind, meta, {"stack": Product(path.name, stack, ".")})]

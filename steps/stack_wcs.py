"""stack_wcs: the final WCS check on each stack (reference: "an automatic WCS solution on the
final stack"), refined against Gaia with the same functions as ``align``.

The stack is re-emitted under its own name with the refined WCS in every header and ``NASTRO``,
``RADISP``, ``DEDISP`` in its primary header, so users check one file.
"""

from __future__ import annotations

from dataclasses import dataclass

from potpyri.steps.align import write_solution

from potpyri.astrometry.solve import header_wcs, pixel_scale
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
from potpyri.stepkit.frame_io import read_product

__all__ = ["StackWcs"]


@register_step("stack_wcs")
class StackWcs(Step):
    """Refine the stack's WCS against Gaia; record NASTRO, RADISP and DEDISP."""

    @dataclass
    class Config(StepConfig):
        catalog: str = "gaia"  #: reference catalog
        threshold: float = 5.0  #: source detection threshold, background sigmas
        fwhm_arcsec: float = 1.0  #: expected seeing FWHM, arcsec
        match_radius: float = 2.0  #: source-star match radius, arcsec
        sip_degree: int = 3  #: full SIP degree tried when there are ≥ 4 stars per coefficient
        clip_sigma: float = 3.0  #: residual clipping, in robust sigmas
        min_stars: int = 6  #: fewer matched stars than this fails the check
        max_dispersion: float = 1.0  #: a stack above this many pixels of dispersion gets a warning

    version = "3"
    scope = Scope.target
    depends_on = ("catalog",)

    def select(self, items) -> list[Item]:
        return [i for i in items if i.ok and i.kind == "target" and "stack" in i.files]

    def group_key(self, item: Item) -> str:
        return item.id

    def run(self, task: Task) -> list[Output]:
        from potpyri.astrometry.solve import frame_epoch

        item = task.inputs[0]
        path = item.path("stack")
        stack = read_product(path)
        wcs = header_wcs(stack["SCI"].header) or header_wcs(stack[0].header)
        if wcs is None:
            raise StepFailed(f"{path.name}: the stack has no WCS to check")
        cfg = self.config
        warnings = write_solution(
            stack,
            wcs,
            self.context.cfg.catalog,
            cfg,
            cfg.match_radius,
            frame_epoch(stack[0].header, item.meta.get("time")),
            path.name,
        )
        hdr = stack[0].header
        dispersion_px = max(hdr["RADISP"], hdr["DEDISP"]) / pixel_scale(
            header_wcs(stack["SCI"].header)
        )
        if dispersion_px > cfg.max_dispersion:
            warnings.append(
                f"{path.name}: stack astrometric dispersion {dispersion_px:.2f} px "
                f"above {cfg.max_dispersion} px"
            )
        self.log.info(
            '%s: stack WCS refined on %d Gaia stars, RADISP %.3f" DEDISP %.3f"',
            item.id,
            hdr["NASTRO"],
            hdr["RADISP"],
            hdr["DEDISP"],
        )
        meta = {
            **item.meta,
            "radisp": hdr["RADISP"],
            "dedisp": hdr["DEDISP"],
            "nastro": hdr["NASTRO"],
        }
        if warnings:
            meta["warnings"] = [*item.meta.get("warnings", []), *warnings]
        return [Output(item.id, item.kind, meta, {"stack": Product(path.name, stack, ".")})]

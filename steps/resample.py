"""resample_grid and resample: every frame of a target onto one common grid (``*_reproj.fits``).

Two steps because the grid depends on all of a target's frames, the resampling of a frame on that
frame and the grid only: ``resample_grid`` (target scope, WCS corners only) writes a small
``grid`` item per target; ``resample`` (frame scope) resamples each frame onto it in parallel,
cached on its own, and sets aside a frame that cannot be resampled alone. One file,
``*_reproj.fits``, holds SCI, MASK and UNCERT on the grid (the reference's ``*_reproj.fits`` and
``*_data.fits``). The user-facing options ``fieldcenter_deg`` and ``out_size_px`` (reference
``--fieldcenter``, ``--out-size``) live on ``resample``; ``resample_grid`` reads them.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

from astropy.io import fits
from omegaconf import OmegaConf

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
from potpyri.stacking.frame_files import CannotResample, read_geometry, resample_file
from potpyri.stacking.grid_choice import dispersion_outliers, grid_pixel_scale
from potpyri.stacking.resample import Grid, grid_for_frames
from potpyri.stepkit.frame_io import make_frame
from potpyri.stepkit.naming import stack_filename

__all__ = ["Resample", "ResampleGrid"]


@register_step("resample_grid")
class ResampleGrid(Step):
    """The common output grid of each target: TAN, north up, the instrument's binned pixel scale."""

    @dataclass
    class Config(StepConfig):
        renamed: ClassVar[dict[str, str]] = {
            "max_offset": "max_offset_diagonals",
            "dispersion_floor": "dispersion_floor_px",
        }
        max_offset_diagonals: float = 1.0  #: leave out frames this far (× diagonal) from the rest
        dispersion_nsigma: float = 5.0  #: drop frames this many sigmas above the median dispersion
        dispersion_floor_px: float = 0.1  #: ... when that dispersion also exceeds this many pixels

    version = "2"
    scope = Scope.target
    depends_on = (
        "resample.fieldcenter_deg",
        "resample.out_size_px",
        "instrument.pixscale",
        "align.keep_all_astro",
    )

    def run(self, task: Task) -> list[Output]:
        frames = task.inputs
        try:
            geometry = [read_geometry(frame.path("image")) for frame in frames]
        except CannotResample as exc:
            raise StepFailed(str(exc)) from None
        binning = str(frames[0].meta.get("binning", ""))
        wcses = [g.wcs for g in geometry]
        scale, how = grid_pixel_scale(binning, self.context.instrument.pixscale, wcses)
        dispersions = {f.id: g.dispersion for f, g in zip(frames, geometry, strict=True)}
        rejected = self._dispersion_cut(
            {k: v for k, v in dispersions.items() if v is not None}, scale
        )
        kept = [n for n, frame in enumerate(frames) if frame.id not in rejected]
        frames, geometry = [frames[n] for n in kept], [geometry[n] for n in kept]
        options = self.context.cfg.resample
        center = options.fieldcenter_deg
        center = tuple(map(float, OmegaConf.to_object(center))) if center is not None else None
        size = int(options.out_size_px) if options.out_size_px is not None else None
        grid, outliers = grid_for_frames(
            [g.wcs for g in geometry],
            [g.shape for g in geometry],
            scale,
            center=center,
            size=size,
            max_offset=self.config.max_offset_diagonals,
        )
        far = ": far from the target's other frames, left out of the grid"
        warnings = [frames[i].id + far for i in outliers] + list(rejected.values())
        header = grid.header()
        header["PIXSCALE"] = (scale, f"[arcsec] {how}")
        header["NFRAMES"] = (len(frames), "frames the grid was built for")
        ny, nx = grid.shape
        where = '%s: grid %d x %d at %.4f"/px centred on %.6f %+.6f'
        self.log.info(where, task.id, nx, ny, scale, *grid.wcs.wcs.crval)
        keys = ("target", "filter", "amp", "binning", "time", "targtype")
        meta = {k: frames[0].meta.get(k) for k in keys}
        meta.update(
            frames=[f.id for f in frames], shape=[ny, nx], warnings=warnings, rejected=rejected
        )
        name = stack_filename(meta).removesuffix(".stk.fits") + ".grid.fits"
        product = Product(name, fits.HDUList([fits.PrimaryHDU(header=header)]), None)
        return [Output(task.id, "grid", meta, {"grid": product})]

    def _dispersion_cut(
        self, values: dict[str, tuple[float, float]], scale: float
    ) -> dict[str, str]:
        """The reference's astrometric cut (id -> reason); with ``align.keep_all_astro`` the
        frames are kept (warnings only)."""
        cfg = self.config
        found = dispersion_outliers(values, scale, cfg.dispersion_nsigma, cfg.dispersion_floor_px)
        if self.context.cfg.align.keep_all_astro:
            for frame_id in found:
                self.log.warning("%s (kept: align.keep_all_astro)", found[frame_id])
            return {}
        for reason in found.values():
            self.log.warning("%s; dropped", reason)
        return found


@register_step("resample")
class Resample(Step):
    """One frame, its mask and its uncertainty onto its target's grid (cubic spline by default)."""

    @dataclass
    class Config(StepConfig):
        renamed: ClassVar[dict[str, str]] = {
            "fieldcenter": "fieldcenter_deg",
            "out_size": "out_size_px",
            "map_step": "map_step_px",
        }
        order: int = 3  #: SCI interpolation: 3 cubic spline, 1 bilinear (as reproject_interp)
        fieldcenter_deg: list[float] | None = None  #: grid centre [ra, dec] (--fieldcenter)
        out_size_px: int | None = None  #: grid of N × N pixels (reference --out-size)
        map_step_px: int = 16  #: spacing of the exact pixel mapping, interpolated in between

    version = "2"
    scope = Scope.frame

    def references(self, task: Task, items: list[Item]) -> list[Item]:
        """The grid of the frame's target (from ``resample_grid``)."""
        targtype = task.inputs[0].meta.get("targtype")
        return [i for i in items if i.kind == "grid" and i.id == targtype and i.ok]

    def run(self, task: Task) -> list[Output]:
        item = task.inputs[0]
        if self.config.order not in (1, 3):
            raise StepFailed(
                f"resample.order={self.config.order}: use 1 (bilinear) or 3 (cubic spline)"
            )
        if not task.refs:
            raise StepFailed(
                f"{item.id}: no grid for target {item.meta.get('targtype')!r}; "
                "run resample_grid before resample"
            )
        rejected = task.refs[0].meta.get("rejected", {})
        if item.id in rejected:
            raise StepFailed(rejected[item.id])
        grid = Grid.from_header(fits.getheader(task.refs[0].path("grid")))
        source = item.path("image")
        try:
            header, sci, mask, err, bkg_var = resample_file(
                source, grid, self.config.order, self.config.map_step_px
            )
        except CannotResample as exc:
            raise StepFailed(str(exc)) from None
        product = make_frame(sci, mask, err, header, wcs_header=grid.header())
        name = source.name.removesuffix(".fits") + "_reproj.fits"
        meta = {**item.meta, "grid": task.refs[0].id, "bkg_var": bkg_var}
        return [Output(item.id, "frame", meta, {"image": Product(name, product, "workspace")})]

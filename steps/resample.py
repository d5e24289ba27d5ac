"""resample_grid and resample: every frame of a target onto one common grid (``*_reproj.fits``).

Design (why two steps): the grid depends on all of a target's frames, the resampling of a frame on
that frame and the grid only. ``resample_grid`` is target-scoped and cheap (WCS corners only): it
returns a small ``grid`` item (a header) per target. ``resample`` is frame-scoped: its
:meth:`Resample.references` hands each frame its target's grid, so every frame is resampled by
the executor in parallel, written as soon as it is done (memory of one frame per worker), cached
on its own (a changed frame re-runs only itself and the grid, not the others' resampling unless
the grid moved), and a frame that cannot be resampled is set aside alone.

The reference writes ``*_reproj.fits`` (the resampled SCI only) and ``*_data.fits`` (the same
SCI with MASK and UNCERT, derived from it). Here one file, ``*_reproj.fits``, holds all three
(SCI, MASK, UNCERT on the grid): the same pixels are not written twice.

The user-facing options live on ``resample``: ``resample.fieldcenter_deg=[ra,dec]`` and
``resample.out_size_px=N`` (reference ``--fieldcenter`` and ``--out-size``); ``resample_grid``
reads them (declared in its ``depends_on``).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

import numpy as np
from astropy.io import fits
from omegaconf import OmegaConf

from potpyri.framework.naming import stack_filename
from potpyri.framework.products import make_frame
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
from potpyri.stacking.combine import background_variance
from potpyri.stacking.grid_choice import dispersion_outliers, grid_pixel_scale
from potpyri.stacking.resample import Grid, grid_for_frames, quiet_wcs, resample_frame

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
        wcses, shapes, dispersions = [], [], {}
        for frame in frames:
            with fits.open(frame.path("image")) as hdul:
                primary, header = hdul[0].header, hdul["SCI"].header
                if "RADISP" in primary and "DEDISP" in primary:  # written by align
                    dispersions[frame.id] = (float(primary["RADISP"]), float(primary["DEDISP"]))
                wcs = quiet_wcs(header)
                if not wcs.has_celestial:
                    raise StepFailed(
                        f"{frame.path('image').name}: no celestial WCS in the SCI header"
                    )
                wcses.append(wcs.celestial)
                shapes.append((int(header["NAXIS2"]), int(header["NAXIS1"])))
        scale, how = grid_pixel_scale(
            str(frames[0].meta.get("binning", "")), self.context.instrument.pixscale, wcses
        )
        rejected = self._dispersion_cut(dispersions, scale)
        kept = [n for n, frame in enumerate(frames) if frame.id not in rejected]
        frames, wcses, shapes = (
            [frames[n] for n in kept],
            [wcses[n] for n in kept],
            [shapes[n] for n in kept],
        )
        resample_cfg = self.context.cfg.resample
        center = resample_cfg.fieldcenter_deg
        center = (
            tuple(float(v) for v in OmegaConf.to_object(center)) if center is not None else None
        )
        size = int(resample_cfg.out_size_px) if resample_cfg.out_size_px is not None else None
        grid, outliers = grid_for_frames(
            wcses,
            shapes,
            scale,
            center=center,
            size=size,
            max_offset=self.config.max_offset_diagonals,
        )
        warnings = [
            f"{frames[i].id}: far from the target's other frames, left out of the grid"
            for i in outliers
        ]
        warnings += list(rejected.values())
        header = grid.header()
        header["PIXSCALE"] = (scale, f"[arcsec] {how}")
        header["NFRAMES"] = (len(frames), "frames the grid was built for")
        ny, nx = grid.shape
        self.log.info(
            '%s: grid %d x %d at %.4f"/px centred on %.6f %+.6f',
            task.id,
            nx,
            ny,
            scale,
            *grid.wcs.wcs.crval,
        )
        meta = {
            k: frames[0].meta.get(k)
            for k in ("target", "filter", "amp", "binning", "time", "targtype")
        }
        meta.update(
            {
                "frames": [f.id for f in frames],
                "shape": [ny, nx],
                "warnings": warnings,
                "rejected": rejected,
            }
        )
        name = stack_filename(meta).removesuffix(".stk.fits") + ".grid.fits"
        return [
            Output(
                task.id,
                "grid",
                meta,
                {"grid": Product(name, fits.HDUList([fits.PrimaryHDU(header=header)]), None)},
            )
        ]

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
        with fits.open(source) as hdul:
            header = hdul[0].header.copy()
            wcs = quiet_wcs(hdul["SCI"].header)
            if not wcs.has_celestial:
                raise StepFailed(f"{source.name}: no celestial WCS in the SCI header")
            err_name = "UNCERT" if "UNCERT" in hdul else "ERR"
            sci, mask, err = resample_frame(
                hdul["SCI"].data,
                hdul["MASK"].data,
                hdul[err_name].data,
                wcs.celestial,
                grid,
                order=self.config.order,
                step=self.config.map_step_px,
            )
        covered = float((mask & 1 == 0).mean())
        if covered == 0:
            raise StepFailed(f"{source.name}: does not overlap its target's grid")
        header["RESAMPLE"] = (
            "cubic spline" if self.config.order == 3 else "bilinear",
            "interpolation of SCI",
        )
        header["RESCOVER"] = (round(covered, 4), "fraction of the grid this frame covers")
        bkg_var = background_variance(err, mask == 0)
        # No positive uncertainty anywhere (NaN): the stack measures it per block.
        if np.isfinite(bkg_var):
            header["BKGVAR"] = (
                float(f"{bkg_var:.6g}"),
                "median variance of the resampled pixels, e-^2",
            )
        product = make_frame(sci, mask, err, header, wcs_header=grid.header())
        name = source.name.removesuffix(".fits") + "_reproj.fits"
        meta = {**item.meta, "grid": task.refs[0].id, "bkg_var": bkg_var}
        return [Output(item.id, "frame", meta, {"image": Product(name, product, "workspace")})]

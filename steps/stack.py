"""stack: combine a target's aligned frames into ``{object}.{filter}.{date}.{amp}.{bin}.stk.fits``.

Inputs are the target's resampled frames (``*_reproj.fits``, all on one grid); the combination
(exposure-time scaling, masks, frame weights, SATURATED and COVERAGE) is
:func:`potpyri.stacking.stack.stack_frames`, in row blocks of bounded memory. The default is
``sigclip``, not the reference's ``median``: a median of frames of different seeing is not a
linear combination (bright stars take the pixel-wise median profile, faint ones nearly the
mean), so PSF photometry on it drifts with S/N.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from astropy.io import fits

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
from potpyri.stacking.combine import CombineMethod
from potpyri.stacking.stack import (
    FrameShapeMismatch,
    grid_mismatch,
    saturation_level,
    stack_frames,
    stack_header,
)
from potpyri.stepkit.frame_io import make_frame
from potpyri.stepkit.naming import stack_filename

__all__ = ["Stack"]


@register_step("stack")
class Stack(Step):
    """Exposure-time scaled, masked combination in row blocks (bounded memory)."""

    @dataclass
    class Config(StepConfig):
        #: sigclip (default), mean (both weighted by frame) or median (the reference's)
        method: CombineMethod = CombineMethod.sigclip
        sigma: float = 3.0  #: sigclip rejection threshold, in uncertainties
        maxiters: int = 5  #: sigclip iterations
        memory_mb: float = 64.0  #: working memory of the row blocks (all frames), MB
        min_frames: int = 1  #: targets with fewer usable frames are not stacked
        clip_frac: float = 0.3  #: sigclip: also tolerate this fraction of the median (PSFs)

    version = "6"
    scope = Scope.target

    def run(self, task: Task) -> list[Output]:
        frames, cfg = task.inputs, self.config
        if len(frames) < cfg.min_frames:
            raise StepFailed(
                f"{task.id}: {len(frames)} frame(s), fewer than stack.min_frames={cfg.min_frames}"
            )
        paths = [f.path("image") for f in frames]
        exptimes = np.array([float(f.meta.get("exp") or 1.0) for f in frames], dtype=np.float32)
        bkg_var = np.array([float(f.meta.get("bkg_var") or np.nan) for f in frames])
        try:
            pixels = stack_frames(
                paths,
                exptimes,
                bkg_var,
                cfg.method.value,
                cfg.sigma,
                cfg.maxiters,
                cfg.clip_frac,
                cfg.memory_mb,
            )
        except FrameShapeMismatch as exc:
            raise StepFailed(f"{task.id}: {exc}") from None
        names = [path.name for path in paths]
        header, wcs_header = stack_header(paths[0], exptimes, cfg.method.value, cfg.sigma, names)
        if (level := saturation_level(paths, exptimes)) is not None:
            header["SATLEVEL"] = (
                float(f"{level:.6g}"),
                "e-/s above sky: shallowest frame saturates",
            )
        np.nan_to_num(pixels.sci, copy=False)
        np.nan_to_num(pixels.err, copy=False, nan=np.inf)
        product = make_frame(
            pixels.sci, pixels.mask, pixels.err, header, err_name="ERR", wcs_header=wcs_header
        )
        product.append(
            fits.ImageHDU(pixels.coverage, product["SCI"].header.copy(), name="COVERAGE")
        )
        product["COVERAGE"].header["BUNIT"] = ("", "frames whose data cover each pixel")
        ny, nx = pixels.sci.shape
        del pixels  # make_frame holds its own copies
        meta = {
            k: frames[0].meta.get(k)
            for k in ("target", "filter", "amp", "binning", "time", "targtype")
        }
        meta["inputs"] = [f.id for f in frames]
        meta["warnings"] = grid_mismatch([(f.id, f.path("image")) for f in frames], ny, nx)
        return [
            Output(task.id, "target", meta, {"stack": Product(stack_filename(meta), product, ".")})
        ]

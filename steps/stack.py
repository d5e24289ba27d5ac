"""stack: combine a target's aligned frames into ``{object}.{filter}.{date}.{amp}.{bin}.stk.fits``."""

from __future__ import annotations

import enum
from contextlib import ExitStack
from dataclasses import dataclass

import numpy as np
from astropy.io import fits

from potpyri.combine import combine_block
from potpyri.masks import BAD
from potpyri.naming import stack_filename
from potpyri.products import make_frame
from potpyri.step import Output, Product, Scope, Step, StepConfig, StepFailed, Task, register_step

__all__ = ["Stack", "StackMethod"]


class StackMethod(str, enum.Enum):
    """How pixels are combined."""

    median = "median"
    mean = "mean"
    sigclip = "sigclip"


@register_step("stack")
class Stack(Step):
    """Exposure-time scaled, masked combination in row blocks (bounded memory)."""

    @dataclass
    class Config(StepConfig):
        method: StackMethod = StackMethod.median  #: median, mean (inverse-variance) or sigclip
        sigma: float = 3.0  #: sigclip rejection threshold, in uncertainties
        maxiters: int = 5  #: sigclip iterations
        memory_mb: float = 256.0  #: budget for the input row blocks, MB
        min_frames: int = 1  #: targets with fewer usable frames are not stacked

    version = "1"
    scope = Scope.target

    def run(self, task: Task) -> list[Output]:
        frames = task.inputs
        if len(frames) < self.config.min_frames:
            raise StepFailed(f"{task.id}: {len(frames)} frame(s), fewer than stack.min_frames={self.config.min_frames}")
        with ExitStack() as stack:
            hduls = [stack.enter_context(fits.open(f.path("image"), memmap=True)) for f in frames]
            shapes = {h["SCI"].data.shape for h in hduls}
            if len(shapes) != 1:
                raise StepFailed(f"{task.id}: frames differ in shape {sorted(shapes)}; resample them first")
            ny, nx = shapes.pop()
            exptimes = np.array([float(f.meta.get("exp") or 1.0) for f in frames], dtype=np.float32)
            sci = np.empty((ny, nx), np.float32)
            err = np.empty((ny, nx), np.float32)
            mask = np.zeros((ny, nx), np.uint8)
            for rows in _row_blocks(ny, nx, len(frames), self.config.memory_mb):
                block = [(h["SCI"].data[rows], h["UNCERT"].data[rows], h["MASK"].data[rows]) for h in hduls]
                data = np.stack([b[0] for b in block]) / exptimes[:, None, None]
                error = np.stack([b[1] for b in block]) / exptimes[:, None, None]
                valid = np.stack([b[2] for b in block]) == 0
                value, uncertainty, n_used = combine_block(
                    data, error, valid, self.config.method.value, self.config.sigma, self.config.maxiters
                )
                sci[rows], err[rows] = value, uncertainty
                mask[rows] = np.where(n_used == 0, BAD, 0)
            header = hduls[0][0].header.copy()
            wcs_header = hduls[0]["SCI"].header.copy()
        for key in ("EXPTIME", "NCOMBINE", "BUNIT"):
            header.remove(key, ignore_missing=True)
        header["EXPTIME"] = (float(exptimes.sum()), "total exposure time of the inputs, s")
        header["NCOMBINE"] = (len(frames), "frames combined")
        header["STKMETH"] = (self.config.method.value, "stack method")
        header["STKSIGMA"] = (self.config.sigma, "sigclip rejection threshold")
        header["BUNIT"] = ("electron/s", "pixel unit")
        for n, frame in enumerate(frames, start=1):
            header[f"IMCMB{n:03d}"] = frame.path("image").name[:68]  # no comment: names can fill the card
        product = make_frame(np.nan_to_num(sci), mask, np.nan_to_num(err, nan=np.inf), header,
                             err_name="ERR", wcs_header=wcs_header)
        meta = {k: frames[0].meta.get(k) for k in ("target", "filter", "amp", "binning", "time", "targtype")}
        meta["inputs"] = [f.id for f in frames]
        return [Output(task.id, "target", meta, {"stack": Product(stack_filename(meta), product, ".")})]


def _row_blocks(ny: int, nx: int, n_frames: int, memory_mb: float):
    """Row slices whose input block (3 arrays × a few temporaries) fits the memory budget."""
    bytes_per_row = n_frames * nx * 4 * 3 * 4
    rows = max(1, min(ny, int(memory_mb * 1e6 // bytes_per_row)))
    for start in range(0, ny, rows):
        yield slice(start, min(ny, start + rows))

"""stack: combine a target's aligned frames into ``{object}.{filter}.{date}.{amp}.{bin}.stk.fits``.

Inputs are the target's resampled frames (``*_reproj.fits``, all on one grid). Each is scaled to
electrons per second by its exposure time; masked pixels are left out; ``mean`` and ``sigclip``
weight each frame by its background inverse variance (``BKGVAR`` of the resampled frame, scaled
to e-/s), not each pixel by its own: a pixel's uncertainty includes its star's photon noise, and
weighting by it mixes the frames' different star profiles unevenly (bright stars lost 0.2-1.6%
on a simulated MMIRS K night, 9% for a 2e6 e- star on a dark sky in tests/stacking).
A stack pixel where any input was saturated keeps the SATURATED bit: it combines only the frames
that were not, which for a star core are the ones of worse seeing, so such a star's profile and
flux are biased (on a simulated MMIRS K night, 7 stars saturated in 1-2 of 5 frames came out 4-8%
faint and moved the zero point by -0.009 mag); photometry flags it and the zero point leaves it
out. COVERAGE (int16) counts the frames whose data cover each pixel (not BAD: off the frame, chip
gap, bad pixel; cosmic rays and sigclip rejections do not count): where dithers or gaps leave
fewer, the stack's PSF is another (the median or mean of other seeings), which photometry flags.
The default is ``sigclip``, not the reference's ``median``: a median of frames of different seeing
is not a linear combination (bright stars take the pixel-wise median profile, faint ones nearly
the mean), so PSF photometry on it drifts with S/N; on 5 simulated GMOS-N frames (seeing 1.9-2.9
px) its PSF magnitudes of full-coverage stars erred by -0.035, -0.003, +0.007, -0.009 mag at S/N
5-20, 20-50, 50-200, > 200 (LRIS-blue: up to +0.030) with error pulls 1.13/1.27/1.31, against
+0.002, -0.018, -0.015, -0.014 (a constant the zero point absorbs) and 0.98/0.92/1.08 for sigclip.
Memory: the output (SCI, MASK, ERR) is
held whole, the inputs only as row blocks read with ``pread`` (no memory maps, whose pages would
count against the process), so peak memory is one output set, its copy in the product, and
``stack.memory_mb`` of blocks, whatever the number of frames (measured with
``benchmarks/compare_stack.py``: 30 frames of 2048² peak at 229 MB RSS, 132 MB of it imports).
"""

from __future__ import annotations

import enum
from contextlib import ExitStack
from dataclasses import dataclass

import numpy as np
from astropy.io import fits

from potpyri.calibration.masks import BAD, SATURATED
from potpyri.framework.naming import stack_filename
from potpyri.framework.products import make_frame
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
from potpyri.stacking.combine import RowReader, background_variance, combine_block, row_blocks

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
        #: sigclip (default), mean (both weighted by frame) or median (the reference's: see below)
        method: StackMethod = StackMethod.sigclip
        sigma: float = 3.0  #: sigclip rejection threshold, in uncertainties
        maxiters: int = 5  #: sigclip iterations
        memory_mb: float = (
            64.0  #: working memory of the row blocks (all frames), MB; at most one output set
        )
        min_frames: int = 1  #: targets with fewer usable frames are not stacked
        clip_frac: float = (
            0.3  #: sigclip: also tolerate this fraction of the median (PSF differences)
        )

    # 3: SATURATED where any input was saturated; 4: mean/sigclip weight by frame; 5: COVERAGE
    version = "5"
    scope = Scope.target

    def run(self, task: Task) -> list[Output]:
        frames = task.inputs
        if len(frames) < self.config.min_frames:
            raise StepFailed(
                f"{task.id}: {len(frames)} frame(s), fewer than stack.min_frames={self.config.min_frames}"
            )
        with ExitStack() as stack:
            readers = []
            for f in frames:
                with fits.open(f.path("image"), lazy_load_hdus=True) as hdul:
                    err_name = "UNCERT" if "UNCERT" in hdul else "ERR"
                readers.append(
                    stack.enter_context(RowReader(f.path("image"), ("SCI", err_name, "MASK")))
                )
            shapes = {r.shape for r in readers}
            if len(shapes) != 1:
                raise StepFailed(
                    f"{task.id}: frames differ in shape {sorted(shapes)}; resample them first"
                )
            ny, nx = shapes.pop()
            exptimes = np.array([float(f.meta.get("exp") or 1.0) for f in frames], dtype=np.float32)
            scale = (1.0 / exptimes)[:, None, None]
            # mean/sigclip weights: each frame's background inverse variance in e-/s (resample
            # measured it on the whole frame); frames that were not resampled get it per block.
            bkg_var = np.array([float(f.meta.get("bkg_var") or np.nan) for f in frames])
            frame_weight = exptimes.astype(np.float64) ** 2 / bkg_var
            sci = np.empty((ny, nx), np.float32)
            err = np.empty((ny, nx), np.float32)
            mask = np.zeros((ny, nx), np.uint8)
            coverage = np.zeros((ny, nx), np.int16)
            # Blocks never take more than one output set (SCI+MASK+ERR, 9 bytes a pixel) either, so
            # small stacks stay small: peak ≈ 3 output sets + the interpreter, at most memory_mb of blocks.
            budget_mb = min(self.config.memory_mb, max(4.0, 9 * ny * nx / 1e6))
            for rows in row_blocks(ny, nx, len(frames), budget_mb):
                height = rows.stop - rows.start
                data = np.empty((len(frames), height, nx), np.float32)
                error = np.empty_like(data)
                valid = np.empty(data.shape, bool)
                saturated = np.zeros((height, nx), bool)
                for n, reader in enumerate(readers):
                    data[n] = reader.read(0, rows)
                    error[n] = reader.read(1, rows)
                    bits = reader.read(2, rows)
                    valid[n] = bits == 0
                    saturated |= (bits & SATURATED) != 0
                    # Frames whose data cover the pixel (off-grid, gaps and bad pixels are BAD),
                    # whatever their cosmic-ray or saturation bits: their PSFs make the stack's.
                    coverage[rows] += (bits & BAD) == 0
                    del bits
                data *= scale
                error *= scale
                weight = None
                if self.config.method != StackMethod.median:
                    weight = frame_weight.copy()
                    for n in np.flatnonzero(~(weight > 0)):
                        weight[n] = 1.0 / background_variance(error[n], valid[n])
                    weight = np.nan_to_num(weight, nan=0.0)
                value, uncertainty, n_used = combine_block(
                    data,
                    error,
                    valid,
                    self.config.method.value,
                    self.config.sigma,
                    self.config.maxiters,
                    self.config.clip_frac,
                    weight,
                )
                del data, error, valid
                sci[rows], err[rows] = value, uncertainty
                mask[rows] = np.where(n_used == 0, BAD, 0) | np.where(saturated, SATURATED, 0)
        with fits.open(frames[0].path("image"), lazy_load_hdus=True) as first:
            header = first[0].header.copy()
            wcs_header = first["SCI"].header.copy()
        for key in ("EXPTIME", "NCOMBINE", "BUNIT"):
            header.remove(key, ignore_missing=True)
        header["EXPTIME"] = (float(exptimes.sum()), "total exposure time of the inputs, s")
        header["NCOMBINE"] = (len(frames), "frames combined")
        header["STKMETH"] = (self.config.method.value, "stack method")
        header["STKSIGMA"] = (self.config.sigma, "sigclip rejection threshold")
        header["BUNIT"] = ("electron/s", "pixel unit")
        for n, frame in enumerate(frames, start=1):
            header[f"IMCMB{n:03d}"] = frame.path("image").name[
                :68
            ]  # no comment: names can fill the card
        np.nan_to_num(sci, copy=False)
        np.nan_to_num(err, copy=False, nan=np.inf)
        product = make_frame(sci, mask, err, header, err_name="ERR", wcs_header=wcs_header)
        product.append(fits.ImageHDU(coverage, product["SCI"].header.copy(), name="COVERAGE"))
        product["COVERAGE"].header["BUNIT"] = ("", "frames whose data cover each pixel")
        del sci, err, mask, coverage  # make_frame holds its own copies
        meta = {
            k: frames[0].meta.get(k)
            for k in ("target", "filter", "amp", "binning", "time", "targtype")
        }
        meta["inputs"] = [f.id for f in frames]
        meta["warnings"] = _grid_mismatch(frames, ny, nx)
        return [
            Output(task.id, "target", meta, {"stack": Product(stack_filename(meta), product, ".")})
        ]


def _grid_mismatch(frames, ny: int, nx: int, tolerance_px: float = 0.01) -> list[str]:
    """A warning when the frames' WCSs disagree (e.g. resample disabled on dithered frames): pixels
    of the same index would then not be the same sky, and the stack would blur or double stars."""
    import warnings as _warnings

    from astropy.wcs import WCS, FITSFixedWarning

    corners = np.array(
        [[0, 0], [nx - 1, 0], [0, ny - 1], [nx - 1, ny - 1], [(nx - 1) / 2, (ny - 1) / 2]], float
    )
    reference = None
    worst, name = 0.0, ""
    for frame in frames:
        try:
            with _warnings.catch_warnings():
                _warnings.simplefilter("ignore", FITSFixedWarning)
                wcs = WCS(fits.getheader(frame.path("image"), "SCI")).celestial
        except Exception:  # no readable WCS: nothing to compare
            return []
        if not wcs.has_celestial:
            return []
        if reference is None:
            reference = wcs
            continue
        x, y = reference.all_world2pix(wcs.all_pix2world(corners, 0), 0).T
        offset = float(np.hypot(x - corners[:, 0], y - corners[:, 1]).max())
        if offset > worst:
            worst, name = offset, frame.id
    if worst <= tolerance_px:
        return []
    return [
        f"frames are not on one pixel grid ({name} is off by up to {worst:.2f} px from "
        f"{frames[0].id}): resample them first (resample.enabled=true)"
    ]

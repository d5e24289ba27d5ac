"""The stack step against ``ccdproc.combine`` on the same frames: wall time and peak memory.

Each method runs in a fresh Python subprocess, so that peak RSS (``VmHWM`` of
``/proc/self/status``, Linux) is its own; the RSS after the imports (before any pixel is read) is
reported too, and the difference is what the combination costs. Both read the frames from disk
and write their result to disk.

* potpyri: the ``stack`` step itself (row blocks, pread), methods ``median`` and ``sigclip``.
* ccdproc: ``combine(method="median", sigma_clip=True, 3σ low/high, scale=1/EXPTIME)`` on
  ``CCDData`` read with their MASK and UNCERT, as the reference pipeline does; default
  ``mem_limit``.

Run as a script on synthetic resampled frames (``--frames 30 --size 2048``) or import
:func:`compare_stack` and give it frame files (SCI, MASK, UNCERT/ERR extensions, same shape).
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
from pathlib import Path

import numpy as np
from astropy.io import fits

__all__ = ["compare_stack", "make_frames", "stack_memory"]

#: What both measured scripts (run after it) share: this process's peak RSS and the JSON line
#: they print.
_MEASURE = r"""
import json, sys, time
def hwm():  # this process's peak RSS (ru_maxrss would inherit the parent's at fork)
    with open("/proc/self/status") as status:
        line = next(line for line in status if line.startswith("VmHWM"))
    return int(line.split()[1]) / 1024
def report(start, cpu, base):
    print(json.dumps({"seconds": time.perf_counter() - start,
                      "cpu_seconds": time.process_time() - cpu,
                      "peak_rss_mb": hwm(), "base_rss_mb": base}))
"""

_OURS = r"""
import logging
from pathlib import Path
from astropy.io import fits
from potpyri.files import write_content
from potpyri.framework.step import Item, StepContext, Task
from potpyri.stacking.combine import CombineMethod
from potpyri.steps.stack import Stack
paths, method, out, memory_mb = json.loads(sys.argv[1])
base = hwm()
meta = {"target": "bench", "filter": "r", "amp": "1", "binning": "11", "time": "60480.0"}
items = [Item(Path(p).name, "frame", {"exp": float(fits.getval(p, "EXPTIME")), **meta},
              {"image": p}) for p in paths]
ctx = StepContext(cfg=None, instrument=None, data_path=Path("."), log=logging.getLogger("bench"))
start, cpu = time.perf_counter(), time.process_time()
step = Stack(Stack.Config(method=CombineMethod(method), memory_mb=memory_mb), ctx)
(output,) = step.run(Task("bench", items))
write_content(output.products["stack"].content, Path(out))
report(start, cpu, base)
"""

_CCDPROC = r"""
import warnings
import numpy as np
from astropy.io import fits
from astropy.nddata import CCDData
from astropy.stats import mad_std
from ccdproc import combine
paths, out = json.loads(sys.argv[1])
base = hwm()
start, cpu = time.perf_counter(), time.process_time()
with warnings.catch_warnings():
    warnings.simplefilter("ignore")
    frames = []
    for p in paths:
        with fits.open(p) as h:
            err = "UNCERT" if "UNCERT" in h else "ERR"
        frames.append(CCDData.read(p, hdu="SCI", hdu_mask="MASK", hdu_uncertainty=err,
                                   unit="electron", hdu_flags=None))
    scale = [1.0 / float(fits.getval(p, "EXPTIME")) for p in paths]
    result = combine(frames, method="median", scale=scale, sigma_clip=True,
                     sigma_clip_low_thresh=3, sigma_clip_high_thresh=3,
                     sigma_clip_func=np.ma.median, sigma_clip_dev_func=mad_std)
    del frames
    result.write(out, overwrite=True)
report(start, cpu, base)
"""


def _run(code: str, *args) -> dict:
    proc = subprocess.run(
        [sys.executable, "-c", _MEASURE + code, json.dumps(list(args))],
        capture_output=True,
        text=True,
    )
    if proc.returncode != 0:
        raise RuntimeError(
            proc.stderr.strip().splitlines()[-1]
            if proc.stderr.strip()
            else f"exit {proc.returncode}"
        )
    return json.loads(proc.stdout.strip().splitlines()[-1])


def compare_stack(
    frames: list[Path],
    *,
    methods: tuple[str, ...] = ("median", "sigclip"),
    memory_mb: float = 64.0,
    ccdproc: bool = True,
) -> dict:
    """Time and peak memory of the stack step and of ``ccdproc.combine`` on ``frames``.

    Parameters
    ----------
    frames : list of Path
        Frame files with SCI, MASK and UNCERT (or ERR) extensions of one shape and EXPTIME in
        the primary header (resampled frames).
    methods : tuple of str
        Stack methods of potpyri to time.
    memory_mb : float
        The stack step's ``memory_mb``.
    ccdproc : bool
        Also run ``ccdproc.combine``.

    Returns
    -------
    dict
        ``{"frames", "shape", "output_set_mb", "potpyri_<method>": {...}, "ccdproc": {...},
        "speedup_<method>", "memory_ratio_<method>"}``; each run has ``seconds``,
        ``cpu_seconds``, ``peak_rss_mb`` and ``base_rss_mb`` (RSS after imports).
    """
    frames = [str(Path(f).absolute()) for f in frames]
    with fits.open(frames[0]) as hdul:
        shape = hdul["SCI"].data.shape
    report: dict = {
        "frames": len(frames),
        "shape": list(shape),
        "output_set_mb": round(shape[0] * shape[1] * 9 / 2**20, 1),
    }
    with tempfile.TemporaryDirectory(prefix="potpyri-cmpstack-") as tmp:
        for method in methods:
            report[f"potpyri_{method}"] = _run(
                _OURS, frames, method, f"{tmp}/{method}.fits", memory_mb
            )
        if ccdproc:
            report["ccdproc"] = _run(_CCDPROC, frames, f"{tmp}/ccdproc.fits")
            for method in methods:
                ours, theirs = report[f"potpyri_{method}"], report["ccdproc"]
                report[f"speedup_{method}"] = round(theirs["seconds"] / ours["seconds"], 2)
                report[f"memory_ratio_{method}"] = round(
                    (ours["peak_rss_mb"] - ours["base_rss_mb"])
                    / (theirs["peak_rss_mb"] - theirs["base_rss_mb"]),
                    3,
                )
    return report


def stack_memory(frames: list[Path], method: str = "sigclip", memory_mb: float = 64.0) -> dict:
    """Peak RSS of the stack step alone on ``frames`` (see :func:`compare_stack`)."""
    return compare_stack(frames, methods=(method,), memory_mb=memory_mb, ccdproc=False)[
        f"potpyri_{method}"
    ]


def make_frames(folder: Path, n: int = 30, size: int = 2048, seed: int = 1) -> list[Path]:
    """Synthetic resampled frames: sky noise, a few stars, cosmic rays (flagged), a bad column."""
    rng = np.random.default_rng(seed)
    folder.mkdir(parents=True, exist_ok=True)
    yy, xx = np.mgrid[0:size, 0:size].astype(np.float32)
    stars = np.zeros((size, size), np.float32)
    for x0, y0, flux in rng.uniform([0, 0, 1e3], [size, size, 1e5], (200, 3)):
        box = (slice(max(int(y0) - 8, 0), int(y0) + 9), slice(max(int(x0) - 8, 0), int(x0) + 9))
        stars[box] += (
            flux
            / (2 * np.pi * 1.2**2)
            * np.exp(-((xx[box] - x0) ** 2 + (yy[box] - y0) ** 2) / (2 * 1.2**2))
        )
    del yy, xx
    paths = []
    for k in range(n):
        exptime = 60.0 * (1 + k % 3)
        signal = stars * exptime / 60.0
        sky = 500.0 * exptime / 60.0
        uncert = np.sqrt(sky + signal + 25.0).astype(np.float32)
        sci = (signal + rng.standard_normal((size, size), np.float32) * uncert).astype(np.float32)
        mask = np.zeros((size, size), np.uint8)
        hits = rng.integers(0, size, (500, 2))
        sci[hits[:, 0], hits[:, 1]] += 5000.0
        mask[hits[:, 0], hits[:, 1]] = 2
        mask[:, (37 * k) % size] |= 1
        header = fits.Header({"EXPTIME": exptime})
        path = folder / f"frame{k:03d}_reproj.fits"
        fits.HDUList(
            [
                fits.PrimaryHDU(header=header),
                fits.ImageHDU(sci, name="SCI"),
                fits.ImageHDU(mask, name="MASK"),
                fits.ImageHDU(uncert, name="UNCERT"),
            ]
        ).writeto(path, overwrite=True)
        paths.append(path)
    return paths


def main(argv: list[str] | None = None) -> None:
    """Script entry: make synthetic frames (or take --inputs) and print the comparison as JSON."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--frames", type=int, default=10, help="synthetic frames to make")
    parser.add_argument("--size", type=int, default=2048, help="synthetic frame size, pixels")
    parser.add_argument(
        "--inputs", nargs="*", help="existing frame files instead of synthetic ones"
    )
    parser.add_argument(
        "--no-ccdproc", action="store_true", help="time potpyri only (memory series)"
    )
    parser.add_argument("--memory-mb", type=float, default=64.0)
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="potpyri-frames-") as tmp:
        frames = (
            [Path(p) for p in args.inputs]
            if args.inputs
            else make_frames(Path(tmp), args.frames, args.size)
        )
        report = compare_stack(frames, memory_mb=args.memory_mb, ccdproc=not args.no_ccdproc)
    print(json.dumps(report, indent=1))


if __name__ == "__main__":
    main()

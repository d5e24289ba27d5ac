"""``potpyri-sim INSTRUMENT OUT_DIR``: write a simulated raw night with its truth."""

from __future__ import annotations

import argparse
import sys
import time

__all__ = ["main"]


def main(argv: list[str] | None = None) -> int:
    """Entry point of ``potpyri-sim``."""
    from potpyri.sim.formats.base import FORMATS
    from potpyri.sim.night import simulate_night
    from potpyri.sim.truth import DENSITY_R22, R_FAINT

    parser = argparse.ArgumentParser(prog="potpyri-sim", description=__doc__.splitlines()[0])
    parser.add_argument("instrument", help=f"raw format: {', '.join(sorted(FORMATS))}")
    parser.add_argument("out_dir", help="folder to write raw/, truth/ and catalog_cache/ into")
    parser.add_argument("--seed", type=int, default=0, help="random seed (same seed, same bytes)")
    parser.add_argument("--targets", type=int, default=1, help="number of targets")
    parser.add_argument(
        "--frames", type=int, default=3, help="dithered frames per target and filter"
    )
    parser.add_argument("--filters", default=None, help="comma-separated bands, e.g. r,i or J,K")
    parser.add_argument(
        "--size", choices=("small", "full"), default="small", help="detector read-out size"
    )
    parser.add_argument("--binning", default=None, help="on-chip binning, e.g. 2x2")
    parser.add_argument("--variant", default=None, help="detector generation (GMOS: ham, e2v, eev)")
    parser.add_argument(
        "--no-rejects", action="store_true", help="omit the files the pipeline must reject"
    )
    parser.add_argument(
        "--density",
        type=float,
        default=DENSITY_R22,
        help="stars per arcmin^2 brighter than r=22 (~1 high latitude, several at |b|~20-30 deg)",
    )
    parser.add_argument(
        "--r-faint", type=float, default=R_FAINT, help="faintest simulated r magnitude"
    )
    parser.add_argument(
        "--psf",
        choices=("physical", "moffat"),
        default="physical",
        help="stars' PSF: atmosphere and optics varying over the field (default), or the "
        "circular, field-constant Moffat beta=3",
    )
    parser.add_argument(
        "--nonlinear", action="store_true", help="NIR arrays lose linearity near full well"
    )
    args = parser.parse_args(argv)
    if args.instrument.lower() not in FORMATS:
        parser.error(
            f"unknown instrument {args.instrument!r}; choose from {', '.join(sorted(FORMATS))}"
        )
    binning = tuple(int(v) for v in args.binning.lower().split("x")) if args.binning else None
    start = time.perf_counter()
    result = simulate_night(
        args.instrument.lower(),
        args.out_dir,
        seed=args.seed,
        targets=args.targets,
        frames=args.frames,
        bands=args.filters.split(",") if args.filters else None,
        size=args.size,
        binning=binning,
        variant=args.variant,
        rejects=not args.no_rejects,
        density_r22=args.density,
        r_faint=args.r_faint,
        psf=args.psf,
        nonlinear=args.nonlinear,
    )
    print(
        f"potpyri-sim: {len(result.raw_files)} raw files in {result.out_dir / 'raw'} "
        f"({time.perf_counter() - start:.1f} s); truth in {result.truth_dir}",
        file=sys.stderr,
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())

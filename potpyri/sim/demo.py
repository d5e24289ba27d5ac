"""``potpyri-demo [DIR]`` (or ``potpyri demo [DIR]``): simulate a small GMOS-N night to reduce.

The night (one target, r and i, three dithered frames each, biases, twilight flats, and the
files a reduction must reject) is written to ``DIR/raw`` with its truth in ``DIR/truth`` and its
reference catalogs in ``DIR/catalog_cache`` (a run's catalog cache by default); then the command
line (:func:`potpyri.cli.demo`) runs ``potpyri instrument=gmos data_path=DIR`` with the default
recipe. Extra ``key=value`` arguments
are passed on to ``potpyri``.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from potpyri.sim.night import simulate_night

__all__ = ["prepare_demo"]


def prepare_demo(argv: list[str]) -> list[str]:
    """Simulate the night unless ``DIR/raw`` exists; return the ``potpyri`` overrides to run."""
    parser = argparse.ArgumentParser(
        prog="potpyri-demo", description="Simulate a small GMOS-N night in DIR and reduce it."
    )
    parser.add_argument(
        "folder",
        nargs="?",
        default="potpyri_demo",
        help="where the night goes (default ./potpyri_demo)",
    )
    parser.add_argument("--seed", type=int, default=2024, help="simulation seed")
    args, overrides = parser.parse_known_args(argv)
    folder = Path(args.folder).absolute()
    if not (folder / "raw").is_dir():
        print(f"potpyri-demo: simulating a small GMOS-N night in {folder} ...", file=sys.stderr)
        simulate_night("gmos-n", folder, seed=args.seed, targets=1, frames=3, bands=["r", "i"])
    else:
        print(f"potpyri-demo: reusing the night in {folder / 'raw'}", file=sys.stderr)
    # The night's catalog_cache/ is the run's cache by default (potpyri.catalogs.run_cache_dir),
    # so a later plain `potpyri ... data_path=DIR` (a sweep) finds the same catalogs.
    return ["instrument=gmos", f"data_path={folder}", *overrides]

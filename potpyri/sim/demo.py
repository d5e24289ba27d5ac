"""``potpyri-demo [DIR]`` (or ``potpyri demo [DIR]``): simulate a small GMOS-N night and reduce it.

The night (one target, r and i, three dithered frames each, biases, twilight flats, and the
files a reduction must reject) is written to ``DIR/raw`` with its truth in ``DIR/truth`` and its
reference catalogs in ``DIR/catalog_cache``; then ``potpyri instrument=gmos data_path=DIR`` runs
with the default recipe. Extra ``key=value`` arguments are passed on to ``potpyri``.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

__all__ = ["main"]


def main(argv: list[str] | None = None) -> None:
    """Entry point of ``potpyri-demo``."""
    parser = argparse.ArgumentParser(prog="potpyri-demo", description=__doc__.splitlines()[0])
    parser.add_argument(
        "folder",
        nargs="?",
        default="potpyri_demo",
        help="where the night goes (default ./potpyri_demo)",
    )
    parser.add_argument("--seed", type=int, default=2024, help="simulation seed")
    args, overrides = parser.parse_known_args(sys.argv[1:] if argv is None else argv)
    folder = Path(args.folder).absolute()
    if not (folder / "raw").is_dir():
        from potpyri.sim.night import simulate_night

        print(f"potpyri-demo: simulating a small GMOS-N night in {folder} ...", file=sys.stderr)
        simulate_night("gmos-n", folder, seed=args.seed, targets=1, frames=3, bands=["r", "i"])
    else:
        print(f"potpyri-demo: reusing the night in {folder / 'raw'}", file=sys.stderr)
    from potpyri.cli import main as potpyri_main

    potpyri_main(
        [
            "instrument=gmos",
            f"data_path={folder}",
            f"catalog.cache_dir={folder / 'catalog_cache'}",
            *overrides,
        ]
    )

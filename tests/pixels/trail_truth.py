"""Satellite trails found by the pipeline, compared with the simulator's truth (frames.ecsv).

Shared by every test whose simulated night passes the ``satellites`` step: each simulated trail
must be found with its mask covering its true footprint, and no trail reported on the frames
without one.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
from astropy.io import fits
from astropy.table import Table

from potpyri.calibration.masks import BAD
from potpyri.sim.night import expected_image

#: The true footprint: where the trail adds at least this many sky noise levels per pixel (a
#: tenth: what still shows in a stack of a few frames).
FOOTPRINT_SIGMA = 0.1


@dataclass(frozen=True)
class TrailCheck:
    """One science frame: its simulated trail (if any) against what the satellites step found."""

    file: str  #: raw file name
    simulated: bool  #: the simulator drew a trail on this frame
    found: int  #: NTRAILS of the satellites step's product
    footprint_px: int  #: pixels of the true footprint (0 without a trail)
    covered: float  #: fraction of the footprint (with data) flagged BAD by the step (nan if none)
    masked: float  #: fraction of the whole frame flagged BAD

    @property
    def right(self) -> bool:
        """Trail found (one) and >= 90% of its footprint masked; or none simulated, none found."""
        if not self.simulated:
            return self.found == 0
        return self.found == 1 and self.covered >= 0.9


def step_products(red: str | Path, step: str) -> dict[str, Path]:
    """Raw file stem -> a frame step's product, from the run's cache."""
    products = sorted(Path(red).glob(f"cache/{step}/*/*.fits"))
    return {p.name.rsplit(".", 2)[-2]: p for p in products}


def check_trails(truth_dir: str | Path, red: str | Path) -> list[TrailCheck]:
    """Every science frame of the night that reached the satellites step, against truth."""
    truth_dir = Path(truth_dir)
    frames = Table.read(truth_dir / "frames.ecsv")
    products, inputs = step_products(red, "satellites"), step_products(red, "cosmic_rays")
    checks = []
    for row in frames[frames["kind"] == "science"]:
        stem = str(row["file"]).split(".fits")[0]
        if stem not in products:
            continue  # set aside before the step (the test says whether that is expected)
        with fits.open(products[stem]) as hdul:
            bad, found = (hdul["MASK"].data & BAD) > 0, int(hdul[0].header["NTRAILS"])
        simulated = str(row["trail"]) not in ("none", "", "--")
        footprint = np.zeros(bad.shape, bool)
        if simulated:
            light = expected_image(truth_dir, str(row["file"]), ("trail",))
            footprint = light > FOOTPRINT_SIGMA * np.sqrt(row["sky_e_s"] * row["exptime"])
            if stem in inputs:  # pixels without data before the step (chip gaps) do not count
                footprint &= (fits.getdata(inputs[stem], "MASK") & BAD) == 0
        checks.append(
            TrailCheck(
                str(row["file"]),
                simulated,
                found,
                int(footprint.sum()),
                float(bad[footprint].mean()) if footprint.any() else float("nan"),
                float(bad.mean()),
            )
        )
    return checks

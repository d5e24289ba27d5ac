"""A simulated Johnson B/V night (LRIS blue) whose only calibration catalog for B and V is the
Gaia synthetic photometry the simulator wrote into the night's cache, with one frame in the
narrow band NB4170 (no catalog has it); reused by the zero-point acceptance tests (GSPC from the
cache, and the same field handed in as a catalog file).

``bv_night(folder)`` simulates it; ``reduce_bv_night(night)`` runs the pipeline through the zero
point offline; ``write_field_catalog(night, path)`` writes the truth-derived field catalog (what a
user brings: ``ra``, ``dec``, ``B_mag``, ``B_err``, ``V_mag``, ``V_err``, AB) as CSV or ECSV.
Run by hand: ``python -m tests.catalogs.bv_night /tmp/bv``.
"""

from __future__ import annotations

import sys
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from astropy.io import fits
from astropy.table import Table

from potpyri.catalogs.query import GSPC_G_LIMIT
from potpyri.sim.night import NightResult
from tests.photometry.zp_cases import STEPS, reduce, simulate, truth_zeropoint

FORMAT = "lris-blue"
BANDS = ["B", "V"]
NARROW = "NB4170"  #: the narrow band of the night (its stack stays uncalibrated)
SEED = 1
#: Stars per arcmin² brighter than r = 22 (|b| ~ 10 deg): GSPC lists only G < 17.65, a tenth of
#: them, and the small read-out covers 16 arcmin².
DENSITY_R22 = 20.0
#: Science exposure, s (LRIS's min_exptime is 15): stars to G ~ 14.5 stay unsaturated.
EXPTIME_S = 20.0


@dataclass
class BVNight:
    """A simulated B/V night and its truth zero points per band."""

    night: NightResult
    folder: Path
    truth_zp: dict[str, float]


def bv_night(folder: Path) -> BVNight:
    """Simulate the B/V night into ``folder`` (one frame per band and one in NB4170, no reject
    files)."""
    bands = [*BANDS, NARROW]
    night = simulate(
        FORMAT, bands, SEED, DENSITY_R22, "small", folder, frames=1, exptime_s=EXPTIME_S
    )
    return BVNight(night, folder, {b: truth_zeropoint(night, b) for b in BANDS})


def reduce_bv_night(night: BVNight, *overrides: str):
    """Run the pipeline through zeropoint on the night, offline on its own catalog cache."""
    return reduce(FORMAT, night.folder, *overrides, steps=STEPS)


def stack_header(folder: Path, band: str) -> fits.Header:
    """Primary header of the band's published stack (``<target>.<filter>.<date>...stk.fits``)."""
    for stack in sorted((folder / "red").glob(f"*.{band}.*.stk.fits")):
        return fits.getheader(stack)
    raise AssertionError(f"no {band} stack in {folder / 'red'}")


def write_field_catalog(night: BVNight, path: Path, g_limit: float = GSPC_G_LIMIT) -> Path:
    """The field's truth stars brighter than ``g_limit`` (Gaia G) as a user's catalog file:
    ``ra``, ``dec`` (deg, at the night's epoch), ``B_mag``, ``B_err``, ``V_mag``, ``V_err`` (AB,
    truth plus a 0.01 mag error drawn once); CSV or ECSV by the suffix of ``path``."""
    stars = night.night.stars
    keep = ~np.asarray(stars["is_galaxy"]) & (np.asarray(stars["mag_G"]) < g_limit)
    rng = np.random.default_rng(2020)
    table = Table({"source_id": stars["id"][keep], "ra": stars["ra"][keep]})
    table["dec"] = stars["dec"][keep]
    for band in BANDS:
        table[f"{band}_mag"] = np.asarray(stars[f"mag_{band}"][keep]) + rng.normal(
            0, 0.01, keep.sum()
        )
        table[f"{band}_err"] = np.full(keep.sum(), 0.01)
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    table.write(
        path, format="ascii.ecsv" if path.suffix == ".ecsv" else "ascii.csv", overwrite=True
    )
    return path


if __name__ == "__main__":
    out = Path(sys.argv[1])
    bv = bv_night(out)
    result = reduce_bv_night(bv, *sys.argv[2:])
    print(result.by_status("zeropoint"))
    for b in BANDS:
        h = stack_header(out, b)
        print(
            b,
            h.get("ZPTMAG"),
            h.get("ZPTMUCER"),
            h.get("ZPTCAT"),
            h.get("ZPTNSTAR"),
            "truth",
            round(bv.truth_zp[b], 4),
            "diff",
            h.get("ZPTMAG", np.nan) - bv.truth_zp[b],
        )

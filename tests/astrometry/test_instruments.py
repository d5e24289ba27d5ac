"""Astrometry on small simulated nights of every instrument against the truth: every science frame
solved and refined to a median WCS error ≤ 0.05 px, and each stack's WCS within 0.05 px RMS of
isolated truth stars centred by a 2-D Gaussian fit (:func:`potpyri.sim.compare.stack_astrometry`,
an estimator the pipeline does not use).

In CI: instruments no other test solved (DEIMOS, F2, LRIS-blue; MMIRS and FourStar as strict
xfails with their measured values), one band of three frames on the small read-outs. Slow (run
with ``-m slow``): GMOS-S, LRIS-red, BINOSPEC and MOSFIRE (two bands), IMACS (134 s, a strict
xfail). GMOS-N is ``test_astrometry.py``.

``density_r22`` (stars per arcmin² brighter than r = 22; ~1 at high galactic latitude) is raised
where the small read-out would hold too few Gaia stars to solve (a field at lower latitude): an
IMACS chip window covers ~5 arcmin², the NIR windows 7-12 arcmin², LRIS-blue's 16.
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np
import pytest
from astropy.io import fits
from astropy.table import Table
from astropy.wcs import WCS

from potpyri.sim.compare import stack_astrometry
from tests.astrometry.conftest import grid_residual_px, reduce_night, truth_wcs


class Case(NamedTuple):
    fmt: str
    bands: list[str] | None  #: the format's two default bands when None
    density_r22: float | None  #: the simulator's default when None


#: Seed 3, small read-outs, 1-2 minutes each on 2 cores. The known failures are strict xfails (a
#: fix makes them fail as XPASS); what each case measured: docs/verification.rst, "Last measured".
CI_CASES = {
    "deimos": Case("deimos", ["r"], None),
    "f2": pytest.param(
        Case("f2", ["J"], 10.0),
        marks=pytest.mark.xfail(
            strict=True,
            reason="physical PSF: frame medians reach 0.05-0.06 px",
        ),
    ),
    "lris-blue": Case("lris-blue", ["g"], 5.0),
    "mmirs": pytest.param(
        Case("mmirs", ["J"], 10.0),
        marks=pytest.mark.xfail(
            strict=True,
            reason="physical PSF: frame medians over 0.05 px",
        ),
    ),
    "fourstar": pytest.param(
        Case("fourstar", ["J"], 10.0),
        marks=pytest.mark.xfail(strict=True, reason="physical PSF: frame medians 0.09-0.13 px"),
    ),
}
SLOW_CASES = {
    "gmos-s": Case("gmos-s", None, None),
    "lris-red": Case("lris-red", None, None),
    "binospec": Case("binospec", None, None),
    "mosfire": Case("mosfire", None, None),
    # Chip c2 is now compared on its own plane (conftest.truth_wcs shifts by the file's region);
    # the case is not re-measured since (docs/verification.rst, Gaps).
    "imacs": pytest.param(
        Case("imacs", ["r"], 20.0),
        marks=pytest.mark.xfail(
            strict=True, reason="chip c3 0.10 px median; chip c2 compared on the mosaic plane"
        ),
    ),
}


@pytest.mark.parametrize("case", list(CI_CASES.values()), ids=list(CI_CASES))
def test_small_night_frames_and_stacks_match_the_truth(case, tmp_path, measured):
    _check(case, tmp_path, measured)


@pytest.mark.slow
@pytest.mark.parametrize("case", list(SLOW_CASES.values()), ids=list(SLOW_CASES))
def test_instrument_night_astrometry(case, tmp_path, measured):
    _check(case, tmp_path, measured)


def _check(case: Case, tmp_path, measured) -> None:
    fmt = case.fmt
    night, result, _ = reduce_night(
        fmt, tmp_path, frames=3, bands=case.bands, density_r22=case.density_r22
    )
    science = [r["file"] for r in night.frames if r["kind"] == "science"]
    assert result.by_status("astrometry") == {"ran": len(science)}, result.by_status("astrometry")
    assert result.by_status("align") == {"ran": len(science)}, result.by_status("align")
    medians = []
    for path in sorted((tmp_path / "red" / "cache" / "align").glob("*/*[0-9].fits")):
        raw = next(s for s in science if s.replace(".", "_").startswith(path.name.split(".")[-2]))
        with fits.open(path) as hdul:
            wcs, shape = WCS(hdul["SCI"].header), hdul["SCI"].data.shape
            header = hdul[0].header
        residual = grid_residual_px(wcs, truth_wcs(night.out_dir, raw), shape)
        medians.append(np.median(residual))
        measured(
            f"{fmt} {raw}: {header['ASTROMET']} NASTRO={header['NASTRO']} "
            f"median={np.median(residual):.4f} px p95={np.percentile(residual, 95):.4f} px"
        )
    assert len(medians) == len(science)
    assert max(medians) <= 0.05, medians
    frames = Table.read(night.truth_dir / "frames.ecsv")
    stars = Table.read(night.truth_dir / "stars.ecsv")
    stacks = [i for i in result.items if i.kind == "target" and i.ok and "stack" in i.files]
    assert stacks and result.by_status("stack_wcs") == {"ran": len(stacks)}
    for stack in stacks:
        inputs = frames[np.isin(frames["file"], list(stack.meta.get("inputs", [])))]
        fwhm = float(np.median(inputs["seeing_fwhm_px"])) if len(inputs) else 3.0
        check = stack_astrometry(stack.path("stack"), stars, fwhm=fwhm)
        measured(
            f"{fmt} stack {stack.id}: {check.n} stars, RMS {check.rms:.4f} px, "
            f"mean ({np.mean(check.dx):+.4f}, {np.mean(check.dy):+.4f}) px"
        )
        assert check.n >= 8, (stack.id, check.n)
        assert check.rms <= 0.05, (stack.id, check.rms)

"""Zero points across instruments and catalog paths against the truth (LRIS g on PS1 runs in CI;
the others are slow: run with -m slow).

Issue #6 acceptance: |ZPTMAG - truth| <= 0.01 mag for GMOS r and i (PS1), LRIS g (PS1 and SDSS),
MOSFIRE J and K (one frame) and MMIRS K (five dithered frames through the whole NIR reduction) on
2MASS (Vega converted to AB by the catalog layer), and a southern GMOS-S field on SkyMapper. The
truth is the exposure's zero point plus 2.5 log10(median true flat response) (the pipeline's flats
are normalised to median 1).

A 0.01 mag test needs a zero point whose statistical error is well below 0.01 (asserted:
ZPTMUCER <= 0.006): the catalogs' own errors (0.02-0.05 mag per star near their limits, worse for
2MASS and SkyMapper) set the number of stars needed, so each case simulates a field as dense as a
real one at lower galactic latitude (``density_r22``: stars per arcmin² brighter than r = 22; ~1
at high latitude) and reads the detector the way such a calibration would:
  * 8 (GMOS-N, 32 arcmin²) and 12 (LRIS-blue): |b| ~ 10-15 deg. LRIS g on SDSS reads the whole
    blue mosaic: SDSS g is 0.8 mag shallower than PS1, and the small read-out (16 arcmin²) held
    only 40 usable stars (ZPTMUCER 0.0062);
  * 20 (GMOS-S on SkyMapper) at GMOS's usual 2x2 binning: SkyMapper is usable only to r ~ 20.2
    and the 4x4-binned small read-out saturates at r ~ 18.5 (65 stars, ZPTMUCER 0.0088 there);
  * 80 (MOSFIRE J, 38 arcmin²), 160 (MOSFIRE K) and 80 (MMIRS K, full 47 arcmin² read-out):
    2MASS is complete only to J ~ 17, K ~ 16 (AB), so ~100 stars need a field at |b| ~ 1-5 deg
    (MOSFIRE K at density 80 gave 52 stars, ZPTMUCER 0.0099; MMIRS K at density 40, 61 stars
    and ZPTMUCER 0.0064: a fifth of its 5-dither stack is not covered by every frame).
Seed 1 everywhere (for GMOS-S it puts the field at dec -33.7, south of the PS1 limit); the
set-ups above were changed, after the first runs, only where the precision precondition failed,
and the same cases on seeds 2 and 3 are in the issue report.
"""

from __future__ import annotations

from typing import NamedTuple

import pytest

from tests.photometry.zp_cases import (
    NIR_STEPS,
    STEPS,
    line,
    measured,
    reduce,
    simulate,
    truth_zeropoint,
)


class Case(NamedTuple):
    fmt: str
    bands: list[str]
    seed: int
    density: float  #: density_r22
    size: str
    frames: int
    checks: list[tuple[str, str, tuple[str, ...]]]  #: (band, expected catalog, config overrides)
    binning: tuple[int, int] | None = None  #: the format's default when None


CASES = {
    "gmos-n-ri-ps1": Case(
        "gmos-n", ["r", "i"], 1, 8.0, "small", 1, [("r", "ps1", ()), ("i", "ps1", ())]
    ),
    "lris-g-ps1": Case("lris-blue", ["g"], 1, 12.0, "small", 1, [("g", "ps1", ())]),
    "lris-g-sdss": Case(
        "lris-blue", ["g"], 1, 12.0, "full", 1, [("g", "sdss", ("zeropoint.catalog=sdss",))]
    ),
    "mosfire-J-2mass": Case("mosfire", ["J"], 1, 80.0, "small", 1, [("J", "2mass", ())]),
    "mosfire-K-2mass": Case("mosfire", ["K"], 1, 160.0, "small", 1, [("K", "2mass", ())]),
    "mmirs-K-2mass": Case("mmirs", ["K"], 1, 80.0, "full", 5, [("K", "2mass", ())]),
    "gmos-s-r-skymapper": Case(
        "gmos-s", ["r"], 1, 20.0, "full", 1, [("r", "skymapper", ())], (2, 2)
    ),
}


#: The one case fast enough for CI (~15-25 s): LRIS-blue g on PS1.
CI_CASE = "lris-g-ps1"


def test_lris_g_ps1_zeropoint_within_0p01_of_truth(tmp_path):
    _check(CI_CASE, tmp_path)


@pytest.mark.slow
@pytest.mark.parametrize("case", [c for c in CASES if c != CI_CASE])
def test_zeropoint_within_0p01_of_truth(case, tmp_path):
    _check(case, tmp_path)


def _check(case, tmp_path):
    fmt, bands, seed, density, size, frames, checks, binning = CASES[case]
    night = simulate(fmt, bands, seed, density, size, tmp_path, frames, binning)
    failures = []
    done = None
    for band, catalog, overrides in checks:
        if overrides != done:  # one run per configuration (both GMOS-N bands come from one run)
            result = reduce(fmt, tmp_path, *overrides, steps=STEPS if frames == 1 else NIR_STEPS)
            assert result.by_status("zeropoint") == {"ran": len(bands)}, result.records
            done = overrides
        header = measured(tmp_path, band)
        truth = truth_zeropoint(night, band)
        print(line(fmt, band, seed, header, truth))
        assert header["ZPTCAT"] == catalog
        assert header["ZPTMUCER"] <= 0.006, (
            "the field holds too few calibration stars for a 0.01 test"
        )
        if abs(header["ZPTMAG"] - truth) > 0.01:
            failures.append(line(fmt, band, seed, header, truth))
    assert not failures, failures

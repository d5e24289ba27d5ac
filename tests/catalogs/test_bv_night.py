"""Issue 20 acceptance: a simulated Johnson B/V night calibrates on Gaia synthetic photometry
(the simulator's GSPC answers in the night's cache, read by the pipeline's own parser) to within
0.02 mag of the truth in B and V; the night's narrow band (NB4170) leaves an uncalibrated stack,
one clear line, and a run that does not fail.

The truth zero point is the simulator's own bookkeeping (exposure zero point plus the true flat's
normalisation, :func:`potpyri.sim.compare.truth_zeropoint`); the truth B and V come from the
truth g, r, i by Lupton's (2005) transformations.
"""

from __future__ import annotations

import pytest

from potpyri.framework.outcome import ExitCode, run_outcome
from tests.catalogs.bv_night import (
    BANDS,
    NARROW,
    reduce_bv_night,
    stack_header,
    write_field_catalog,
)


@pytest.fixture(scope="module")
def reduced(bv_night_sim):
    return bv_night_sim, reduce_bv_night(bv_night_sim)


@pytest.mark.parametrize("band", BANDS)
def test_johnson_band_calibrates_on_gspc_within_0p02_of_truth(reduced, band, measured):
    night, result = reduced
    assert result.by_status("zeropoint") == {"ran": len(BANDS), "passed": 1}, result.records
    header = stack_header(night.folder, band)
    assert header["ZPTCAT"] == "gspc" and header["ZPTBAND"] == band
    assert header["ZPTMSYS"] == "AB" and header["ZPTCSYS"] == "Vega"
    assert header["ZPTNSTAR"] >= 10
    diff = header["ZPTMAG"] - night.truth_zp[band]
    measured(f"{band}: ZP {header['ZPTMAG']:.4f} +- {header['ZPTMUCER']:.4f}, diff {diff:+.4f}")
    assert abs(header["ZPTMAG"] - night.truth_zp[band]) <= 0.02, (
        band,
        header["ZPTMAG"],
        night.truth_zp[band],
    )


def test_narrow_band_is_passed_through_uncalibrated_and_the_run_succeeds(reduced):
    night, result = reduced
    note = next(r.note for r in result.records if r.step == "zeropoint" and r.status == "passed")
    assert f"filter '{NARROW}': a narrow/intermediate band" in note
    assert "left uncalibrated" in note and "\n" not in note
    header = stack_header(night.folder, NARROW)
    assert "ZPTMAG" not in header and "M5SIGMA" not in header
    assert header["ZPTWHY"].startswith(f"filter '{NARROW}'")
    assert run_outcome(result).code == ExitCode.success


def test_same_field_as_a_user_catalog_file_calibrates_within_0p02(reduced, tmp_path):
    """The field's catalog (truth B, V of the stars GSPC lists, 0.01 mag errors, AB) handed in
    as a CSV file: the zero point alone is redone, from the file."""
    night, _ = reduced
    path = write_field_catalog(night, tmp_path / "field_BV.csv")
    result = reduce_bv_night(night, f"catalog.file={path}")  # serves the bands it has
    assert result.by_status("zeropoint") == {"ran": len(BANDS), "passed": 1}, result.records
    for band in BANDS:
        header = stack_header(night.folder, band)
        assert header["ZPTCAT"] == "file:field_BV.csv" and header["ZPTBAND"] == band
        assert abs(header["ZPTMAG"] - night.truth_zp[band]) <= 0.02, (band, header["ZPTMAG"])

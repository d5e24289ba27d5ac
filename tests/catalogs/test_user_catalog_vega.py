"""A user's catalog in Vega magnitudes (catalog.magsys=Vega) gives the AB zero point within
0.02 mag of the truth: a one-frame MMIRS J night (small read-out, density 30) calibrated
against its field's 2MASS answer as VizieR gives it (RAJ2000, DEJ2000, Jmag, e_Jmag: Vega),
handed in as a CSV with no column mapping."""

from __future__ import annotations

from tests.catalogs.user_catalog import cached_catalog, reduce_with_catalog
from tests.photometry.zp_cases import STEPS, line, simulate, stack_header, truth_zeropoint

FMT, BAND, SEED = "mmirs", "J", 1
COLUMNS = {"ra": "RAJ2000", "dec": "DEJ2000", "J_mag": "Jmag", "J_err": "e_Jmag"}


def test_vega_file_gives_the_ab_zeropoint(tmp_path, measured):
    night = simulate(FMT, [BAND], SEED, 30.0, "small", tmp_path)
    table = cached_catalog(tmp_path, "2mass")  # AB (the parser converted 2MASS's Vega)
    result = reduce_with_catalog(
        tmp_path, table, COLUMNS, fmt=FMT, steps=STEPS, vega={"J_mag": "J"}
    )
    assert result.by_status("zeropoint") == {"ran": 1}, result.records
    header = stack_header(tmp_path, BAND)
    truth = truth_zeropoint(night, BAND)
    measured(line(FMT, BAND, SEED, header, truth))
    assert header["ZPTCAT"] == "file:field_catalog.csv"
    assert header["ZPTNSTAR"] >= 10
    assert abs(header["ZPTMAG"] - truth) <= 0.02

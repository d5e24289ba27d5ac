"""The README's first command: simulate the demo GMOS-N night and reduce it (CI's end-to-end
run; the first reduction is the session's shared ``reduced_demo``, tests/demo_night.py)."""

from __future__ import annotations

import hashlib

from astropy.io import fits

from tests.framework.helpers import potpyri, run_dirs, statuses, summary


def test_demo_night_reduces_end_to_end(reduced_demo):
    folder = reduced_demo.folder
    raw_before = {
        p.name: hashlib.sha256(p.read_bytes()).hexdigest() for p in (folder / "raw").iterdir()
    }
    records = summary(reduced_demo.first_run)
    assert statuses(records, "bias") == ["ran"] and statuses(records, "flat") == ["ran", "ran"]
    assert statuses(records, "process") == ["ran"] * 6
    listing = (folder / "file_list.txt").read_text()
    for kind, count in (("BIAS", 5), ("FLAT", 10), ("SCIENCE", 6), ("SPEC", 1), ("UNKNOWN", 1)):
        assert listing.count(f" {kind} ") == count, kind
    assert listing.count(" BAD ") == 2  # flagged RAWGEMQA=FAIL, and one shorter than 1 s
    # The four files the instrument's rules set aside are in the summary, each with its reason.
    excluded = {r["task"]: r["note"] for r in records if r["status"] == "excluded"}
    assert len(excluded) == 4 and all(excluded.values()), excluded
    stacks = sorted(p.name for p in (folder / "red").glob("*.stk.fits"))
    assert stacks == [
        "SIM01_GRB.i_G0302.20240618.3.44.stk.fits",
        "SIM01_GRB.r_G0303.20240618.3.44.stk.fits",
    ]
    with fits.open(folder / "red" / stacks[1]) as hdul:
        assert hdul[0].header["NCOMBINE"] == 3 and "PPRECIPE" in hdul
        ny, nx = hdul["SCI"].data.shape  # the union of the dithered frames (1056 x 1054 each)
        assert 1056 <= ny <= 1056 + 150 and 1054 <= nx <= 1054 + 150
    # Re-running the demo reuses every product and leaves raw/ untouched.
    again = potpyri("demo", str(folder))
    assert again.returncode == 0
    statuses_again = {r["status"] for r in summary(run_dirs(folder)[-1])}
    assert statuses_again - {"empty", "excluded"} == {"cached"}
    assert {
        p.name: hashlib.sha256(p.read_bytes()).hexdigest() for p in (folder / "raw").iterdir()
    } == raw_before

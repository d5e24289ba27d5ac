"""Issue 18, item 5, on real pixels: every Lick Nickel field gets a catalog.

Three of the six real Nickel fields failed photometry with "only 1 PSF star(s) pass the cuts
down to S/N 3" and had no catalog. The chain runs offline to skysub (no reference catalog of these
fields is available offline, so no astrometry and no stack); the photometry science code then
measures each reduced frame as the photometry step measures a stack (SCI, its uncertainty, MASK
and header WCS).
"""

from __future__ import annotations

import numpy as np
import pytest
from astropy.io import fits

from potpyri.astrometry.wcsio import header_wcs
from potpyri.photometry.measure import PhotometryMethod, measure_stack
from tests.nickel_night import RAW

FIELDS = ("d1047.fits", "d1048.fits", "d1052.fits", "d1059.fits", "d1074.fits", "d1083.fits")
pytestmark = [
    pytest.mark.skipif(not RAW.is_dir(), reason=f"shared data not found at {RAW}"),
    pytest.mark.fault("silent failures", item=5),
]


@pytest.fixture(scope="module")
def frames(nickel_night):
    """The reduced science frames of the session's Nickel night (tests/nickel_night.py)."""
    return {
        i.id: i.path("image")
        for i in nickel_night.result.items
        if i.kind == "frame" and i.meta.get("type") == "SCIENCE"
    }


@pytest.mark.parametrize("name", FIELDS)
def test_every_nickel_field_gets_a_catalog(frames, name):
    with fits.open(frames[name]) as hdul:
        sci, mask, err = hdul["SCI"].data, hdul["MASK"].data, hdul["UNCERT"].data
        wcs = header_wcs(hdul["SCI"].header)
    res = measure_stack(sci, err, mask, wcs, sn_min=3)
    if res.method is PhotometryMethod.aperture:  # flagged, with the reason in one line
        assert "PSF star(s) pass the cuts" in res.fallback_reason, res.fallback_reason
    ap = res.apphot
    obvious = ap[ap["snr"] >= 20]  # the field's obvious stars
    assert len(obvious) >= 10
    assert (obvious["flux_aper"] > 0).all() and np.isfinite(obvious["mag_inst"]).all()
    assert {"ra", "dec"} <= set(ap.colnames)
    # The seeing of that night: 5.9-8.1 px FWHM (2x2 binned, 0.37"/px) on all six fields.
    assert 5.0 < res.fwhm < 9.0

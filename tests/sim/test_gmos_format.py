"""Simulated GMOS raw files against the real GMOS raw layouts, keyword for keyword."""

from __future__ import annotations

import numpy as np
import pytest
from astropy.io import fits
from astropy.time import Time

from potpyri.instruments.sections import parse_section
from potpyri.sim.formats.base import FORMATS, FrameMeta, Setup
from tests.conftest import SHARED

LAYOUTS = SHARED / "data" / "gmos_layouts"
# EXTNAME/EXTVER: DRAGONS added them to these files; raw files have none (spec 2.1).
STRUCTURAL = ("DETSEC", "CCDSEC", "CCDSUM", "CCDNAME")
#: (format, detector as the layout files name it, simulator variant, binning)
CASES = [
    (fmt, detector, detector.lower(), binning)
    for fmt, detector, binnings in (
        ("gmos-n", "HAM", (1, 2, 4)),
        ("gmos-s", "HAM", (1, 2, 4)),
        ("gmos-n", "e2v", (1, 2)),
        ("gmos-n", "EEV", (1, 2)),
        ("gmos-s", "EEV", (1, 2)),
    )
    for binning in binnings
]
pytestmark = pytest.mark.skipif(not LAYOUTS.is_dir(), reason=f"shared data not found at {LAYOUTS}")


def _real(fmt, detector, binning):
    amps = {"HAM": 12, "e2v": 6, "EEV": 3}[detector]
    return fits.open(LAYOUTS / f"{fmt}_illum_{detector}_{binning}{binning}_{amps}amp_v1.fits.bz2")


def _simulated(fmt, variant, binning):
    raw_format = FORMATS[fmt]()
    setup = Setup(binning=(binning, binning), size="full", variant=variant)
    meta = FrameMeta(
        "science", 1, "target", "r", 60.0, Time("2024-06-19T06:00:00"), ra=150.0, dec=2.0
    )
    electrons = np.zeros(raw_format.geometry(setup).shape)
    return raw_format.readout(electrons, meta, setup, np.random.default_rng(0))


@pytest.mark.parametrize(("fmt", "detector", "variant", "binning"), CASES)
def test_structure_matches_the_real_layout(fmt, detector, variant, binning):
    with _real(fmt, detector, binning) as real:
        simulated = _simulated(fmt, variant, binning)
        assert len(simulated) == len(real)
        for ours, theirs in zip(simulated[1:], real[1:], strict=True):
            for key in STRUCTURAL:
                assert str(ours.header[key]).strip() == str(theirs.header[key]).strip(), key
            # Same keyword set for the amplifier description and the per-extension WCS.
            for key in (
                "DATASEC",
                "BIASSEC",
                "AMPNAME",
                "GAIN",
                "RDNOISE",
                "CTYPE1",
                "CD1_1",
                "CRPIX1",
                "MJD-OBS",
            ):
                assert key in ours.header and key in theirs.header, key
            # Data section as large as the real one; overscan on the same side of the data.
            rows, cols = parse_section(ours.header["DATASEC"])
            assert (rows.stop - rows.start, cols.stop - cols.start) == theirs.data.shape
            real_right = parse_section(theirs.header["BIASSEC"])[1].start > 0
            ours_right = parse_section(ours.header["BIASSEC"])[1].start > 0
            assert ours_right == real_right
            assert ours.header["AMPNAME"].split(",")[0] == theirs.header["AMPNAME"].split(",")[0]
        primary = simulated[0].header
        assert primary["NCCDS"] == 3 and primary["INSTRUME"] == real[0].header["INSTRUME"]


def test_full_size_mosaic_matches_the_reference_static_masks():
    masks = SHARED / "data" / "potpyri_reference" / "staticmasks"
    for fmt, name in (("gmos-n", "gmos-n.22"), ("gmos-s", "gmos-s.22")):
        with fits.open(masks / f"{name}.staticmask.fits.fz") as mask:
            shape = next(h.data.shape for h in mask if h.data is not None)
        setup = Setup(binning=(2, 2), size="full", variant="ham")
        rows, columns = FORMATS[fmt]().geometry(setup).shape
        # Taller by the CCDs' y offsets (DRAGONS' geometry), which the reference ignores.
        y_offset = max(y for _, y in FORMATS[fmt]().chips(setup).origins(2, 2))
        assert (rows - y_offset, columns) == shape


def test_primary_header_carries_the_reference_classification_keywords():
    header = _simulated("gmos-n", "ham", 2)[0].header
    for key in (
        "OBJECT",
        "OBSTYPE",
        "OBSCLASS",
        "SHUTTER",
        "GRATING",
        "FILTER2",
        "RAWGEMQA",
        "EXPTIME",
        "RA",
        "DEC",
        "DATE-OBS",
        "TIME-OBS",
        "AIRMASS",
        "NCCDS",
        "NAMPS",
        "DETECTOR",
        "TELESCOP",
    ):
        assert key in header, key
    assert (
        header["FILTER2"] == "r_G0303"
        and header["GRATING"] == "MIRROR"
        and header["SHUTTER"] == "OPEN"
    )

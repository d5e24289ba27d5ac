"""DEIMOS on files built from the spec's description of real raw files (real_formats.md §5).

No real DEIMOS file exists in shared data: the files here are written in the test from the spec
(primary with the instrument's own keywords and none the Keck archive adds; one image extension
per video input with DATASEC and DETSEC, reversed for amplifier B; overscan columns after
DATASEC; a slit-mask binary table after the images), read as a window of 40 detector rows.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import yaml
from astropy.io import fits
from astropy.table import Table
from astropy.time import Time

from potpyri.instruments import get_reader
from potpyri.instruments.base import COMMON_FIELDS, ReaderError
from potpyri.instruments.classify import classify
from potpyri.instruments.deimos import kept_rows
from potpyri.instruments.timing import frame_mjd
from potpyri.sim.formats import load_all
from potpyri.sim.formats.base import FORMATS, FrameMeta, Setup
from tests.conftest import compose_config
from tests.instruments import STRUCTURAL_KEYWORDS

ROWS = 40  # a window of detector rows 2001-2040, inside the imaging field
PRE, POST = 12, 80
GAINS = [1.228, 1.178, 1.708, 1.172, 1.164, 1.260, 1.247, 1.213]
KOA_ADDED = {"MJD", "FILTER", "OBSMODE", "KOAIMTYP", "KOAID", "DETSEC01", "UT", "NEXTEN"}

load_all()  # the simulator formats register themselves on import


@pytest.fixture(scope="module")
def instrument():
    return compose_config("instrument=deimos", "data_path=/x").instrument


def _primary(**cards) -> fits.Header:
    """The primary keywords of a telescope DEIMOS file (§5.3), direct-imaging science."""
    header = fits.Header(
        {
            "INSTRUME": "DEIMOS",
            "OBJECT": "GRB240618",
            "TARGNAME": "GRB240618",
            "OBSTYPE": "Object",
            "MOSMODE": "Direct",
            "SLMSKNAM": "None",
            "HATCHPOS": "open",
            "LAMPS": "Off",
            "DWFILNAM": "R",
            "ELAPTIME": 300,
            "EXPTIME": 300.0,
            "DATE-OBS": "2024-06-18",
            "UTC": "09:30:15.50",
            "MJD-OBS": "60479.396012",
            "RA": "14:41:30.00",
            "DEC": "+39:58:47.2",
            "ROTPOSN": 0.0,
            "BINNING": "1,1",
            "AMPMODE": "DUAL:A+B",
            "NVIDINP": 8,
            "PRECOL": PRE,
            "POSTPIX": POST,
        }
    )
    header.update(cards)
    return header


def _raw_file(path, primary=None, binning=1) -> fits.HDUList:
    """8 video inputs: CCD c amp A = left half (DETSEC forward), amp B = right half (DETSEC
    reversed, read from the right edge); data 1000 + 10·k + x/1000 (x = detector column),
    overscan 400 ADU."""
    hdus = [fits.PrimaryHDU(header=primary or _primary(BINNING=f"{binning},{binning}"))]
    width = 1024 // binning
    for k in range(8):
        chip, side = divmod(k, 2)
        x0 = chip * 2048 + side * 1024  # 0-based detector column of the half's left edge
        detector_x = x0 + binning * np.arange(width)
        data = 1000.0 + 10 * k + detector_x / 1000.0
        if side == 1:
            data = data[::-1]  # as read: from the right edge
        raw = np.full((ROWS // binning, PRE // binning + width + POST // binning), 400.0)
        raw[:, PRE // binning : PRE // binning + width] = data
        x1, x2 = x0 + 1, x0 + 1024
        header = fits.Header()
        header["DATASEC"] = f"[{PRE // binning + 1}:{PRE // binning + width},1:{ROWS // binning}]"
        header["DETSEC"] = f"[{x2 if side else x1}:{x1 if side else x2},2001:{2000 + ROWS}]"
        hdus.append(fits.ImageHDU(raw.astype(np.float32), header))
    slits = Table({"slitno": [1, 2], "slitx": [0.1, 0.2]})
    hdus.append(fits.BinTableHDU(slits, name="BluSlits"))  # tables follow the images
    fits.HDUList(hdus).writeto(path)
    return path


def test_amplifiers_placed_by_detsec_mirrored_overscan_subtracted(instrument, tmp_path):
    reader = get_reader(instrument.reader)(instrument)
    image = reader.assemble(_raw_file(tmp_path / "DE.20240618.34215.fits"))
    assert image.data.shape == (ROWS, 4 * 2048 + 113 + 81 + 113)
    starts = [0, 2048 + 113, 4096 + 194, 6144 + 307]
    for k in range(8):
        chip, side = divmod(k, 2)
        col = starts[chip] + side * 1024
        block = image.data[:, col : col + 1024]
        x = chip * 2048 + side * 1024 + np.arange(1024)
        # level 600 + 10·k after overscan, the detector-column ramp increasing left to right:
        # amplifier B is mirrored back
        expected = np.broadcast_to(600.0 + 10 * k + x / 1000.0, block.shape)
        np.testing.assert_allclose(block, expected, atol=1e-3)
        assert (image.gain[:, col : col + 1024] == GAINS[k]).all()
    # the gaps between CCDs are unread pixels (gain 0): 113, 81, 113 columns
    for left, width in ((2048, 113), (4096 + 113, 81), (6144 + 194, 113)):
        assert (image.gain[:, left : left + width] == 0).all()
        assert image.gain[0, left - 1] > 0 and image.gain[0, left + width] > 0


def test_binned_2x2(instrument, tmp_path):
    reader = get_reader(instrument.reader)(instrument)
    image = reader.assemble(_raw_file(tmp_path / "DE.20240618.34216.fits", binning=2))
    assert image.data.shape == (ROWS // 2, (4 * 2048 + 307) // 2)
    assert image.header["CCDSUM"] == "2 2"
    np.testing.assert_allclose(image.data[:, 1024 + 56 : 1024 + 56 + 512].mean(), 620 + 2.56, 0.01)


def test_ccds_of_the_other_row_are_not_assembled(instrument, tmp_path):
    path = _raw_file(tmp_path / "DE.20240618.34218.fits")
    with fits.open(path, mode="update") as hdul:  # move CCD 4 (ext 7, 8) to CCD 8's place
        for hdu in hdul[7:9]:
            hdu.header["DETSEC"] = hdu.header["DETSEC"].replace("2001:2040", "6097:6136")
    image = get_reader(instrument.reader)(instrument).assemble(path)
    assert image.data.shape == (ROWS, 3 * 2048 + 113 + 81)


def test_imaging_field_rows():
    rows = kept_rows(0, 4096, 1, [1321, 3921])  # a CCD read whole
    assert rows[0] == 1320 and rows.size == 2601
    assert kept_rows(2000, 40, 1, [1321, 3921]).size == 40  # a window inside the field


def test_missing_binning_is_one_line(instrument, tmp_path):
    primary = _primary()
    del primary["BINNING"]
    reader = get_reader(instrument.reader)(instrument)
    with pytest.raises(ReaderError, match="BINNING"):
        reader.assemble(_raw_file(tmp_path / "DE.nobin.fits", primary))


def test_pointing_wcs_and_time_without_archive_keywords(instrument, tmp_path):
    reader = get_reader(instrument.reader)(instrument)
    image = reader.read(_raw_file(tmp_path / "DE.20240618.34217.fits"))
    assert not KOA_ADDED & set(image.header)
    assert image.header["CRVAL1"] == pytest.approx(220.375)
    assert image.header["CRVAL2"] == pytest.approx(39 + 58 / 60 + 47.2 / 3600)
    assert np.hypot(image.header["CD1_1"], image.header["CD2_1"]) * 3600 == pytest.approx(0.1185)
    kw = instrument.keywords
    assert frame_mjd(image.header, kw.mjd, kw.time) == pytest.approx(
        Time("2024-06-18T09:30:15.50").mjd, abs=1e-8
    )
    assert image.header[kw.filter] == "R"


@pytest.mark.parametrize(
    ("cards", "expected"),
    [
        ({}, "SCIENCE"),
        ({"OBSTYPE": "Bias", "HATCHPOS": "closed", "ELAPTIME": 0}, "BIAS"),
        ({"OBSTYPE": "Bias", "MOSMODE": "Spectral", "HATCHPOS": "closed"}, "BIAS"),  # trap
        ({"OBSTYPE": "Dark", "HATCHPOS": "closed"}, "UNKNOWN"),  # dark: false (as the reference)
        ({"OBSTYPE": "DmFlat", "OBJECT": "dome flat"}, "FLAT"),
        ({"OBSTYPE": "IntFlat", "HATCHPOS": "closed", "LAMPS": "Qz"}, "FLAT"),
        ({"OBSTYPE": "SkyFlat"}, "FLAT"),
        ({"OBSTYPE": "Line", "MOSMODE": "Spectral", "LAMPS": "Ne Ar"}, "SPEC"),
        ({"MOSMODE": "Spectral", "SLMSKNAM": "LVMslitC"}, "SPEC"),
        ({"SLMSKNAM": "GRB_acq_mask"}, "UNKNOWN"),  # imaging through a slit mask
        ({"SLMSKNAM": "GOH_X"}, "BAD"),
    ],
)
def test_frame_types(instrument, cards, expected):
    header = _primary(**cards)
    assert classify(header, instrument, float(header["ELAPTIME"]) or 1.0)[0] == expected


def test_darks_typed_when_the_instrument_uses_them():
    instrument = compose_config(
        "instrument=deimos", "data_path=/x", "instrument.dark=true"
    ).instrument
    header = _primary(OBSTYPE="Dark", HATCHPOS="closed")
    assert classify(header, instrument, 300.0)[0] == "DARK"


def test_yaml_fields_are_read(instrument):
    reader = get_reader(instrument.reader)
    assert {"gain", "rdnoise", "options", "pointing"} <= COMMON_FIELDS | reader.reads
    assert len(instrument.gain) == len(instrument.rdnoise) == 8


def test_simulated_file_has_the_spec_layout_and_keywords(instrument, tmp_path):
    fmt = FORMATS["deimos"]()
    setup = Setup(size="small")
    geometry = fmt.geometry(setup)
    electrons = np.full(geometry.shape, 12000.0)
    meta = FrameMeta("science", 1, "GRB", "r", 300.0, Time("2024-06-18T09:30:15"), 220.0, 40.0)
    hdul = fmt.readout(electrons, meta, setup, np.random.default_rng(3))
    primary = hdul[0].header
    assert hdul[0].data is None and len(hdul) == 5  # CCDs 2-3, amplifiers A and B
    assert not KOA_ADDED & set(primary)
    assert {"DATE-OBS", "UTC", "DWFILNAM", "ELAPTIME", "BINNING", "NVIDINP", "AMPMODE"} <= set(
        primary
    )
    for n, hdu in enumerate(hdul[1:]):
        assert set(hdu.header) - STRUCTURAL_KEYWORDS == {"DATASEC", "DETSEC"}
        x1, x2 = (int(v) for v in hdu.header["DETSEC"].strip("[]").split(",")[0].split(":"))
        assert (x1 > x2) == (n % 2 == 1)  # amplifier B reversed
    path = tmp_path / "DE.20240618.34215.fits.gz"
    hdul.writeto(path)
    image = get_reader(instrument.reader)(instrument).assemble(path)
    assert image.data.shape == geometry.shape
    read = image.gain > 0
    assert (read == geometry.sensitive).all()
    np.testing.assert_allclose(np.median((image.data * image.gain)[read]), 12000.0, rtol=2e-3)


def test_every_yaml_field_is_read_by_the_reader():
    path = Path(__file__).resolve().parents[2] / "conf" / "instrument" / "deimos.yaml"
    keys = set(yaml.safe_load(path.read_text()))
    reader = get_reader(yaml.safe_load(path.read_text())["reader"])
    assert keys <= COMMON_FIELDS | reader.reads, keys - COMMON_FIELDS - reader.reads

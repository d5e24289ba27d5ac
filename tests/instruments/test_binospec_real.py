"""Binospec on files built from the spec's description of real raw files (real_formats.md §7),
and on the one real Binospec header (kept in the reference's r-band master flat).

No real raw Binospec file exists in shared data: the 8-amplifier files here are written in the
test from the spec (PypeIt's raw layout: DATASEC and CCDSUM per amplifier, prescan columns before
and overscan rows after DATASEC, quadrant flips), with small amplifiers and fields set to match.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import yaml
from astropy.io import fits
from astropy.time import Time

from potpyri.calibration.masks import STATIC_MASK_ENV, static_mask
from potpyri.instruments import get_reader
from potpyri.instruments.base import COMMON_FIELDS
from potpyri.instruments.classify import classify
from potpyri.sim.formats import load_all
from potpyri.sim.formats.base import FORMATS, FrameMeta, Setup
from tests.conftest import SHARED, compose_config
from tests.instruments import STRUCTURAL_KEYWORDS

FLAT = SHARED / "data" / "potpyri_reference" / "flats" / "mflat_r_2_11.fits.fz"
MASKS = SHARED / "data" / "potpyri_reference" / "staticmasks"
QY, QX, PRE, OVER = 40, 32, 6, 10  # small amplifiers: data rows/columns, prescan, overscan
GAINS = [1.085, 1.046, 1.042, 0.975, 1.028, 1.115, 1.047, 1.045]

load_all()  # the simulator formats register themselves on import


@pytest.fixture
def instrument():
    inst = compose_config("instrument=binospec", "data_path=/x").instrument
    inst.options.fields = ["[5:60,9:72]", "[7:62,9:72]"]  # within the 64 × 80 small sides
    inst.options.side_gap = 10
    return inst


def _amp(k: int) -> np.ndarray:
    """Amplifier k as read: bias 400 + column pattern + row ramp everywhere, data 600 + 10·k
    plus a ramp of 1 ADU per column along the read direction."""
    rows, cols = QY + OVER, PRE + QX
    column_pattern = np.random.default_rng(k).normal(0, 3, cols)[None, :]
    raw = 400.0 + column_pattern + 0.2 * np.arange(rows)[:, None] + np.zeros((rows, cols))
    raw[:QY, PRE:] += 600.0 + 10 * k + np.arange(QX)[None, :]
    return raw


def _raw_file(path, header: fits.Header) -> fits.HDUList:
    hdus = [fits.PrimaryHDU()]
    for k in range(8):
        head = header.copy() if k == 0 else fits.Header()
        head["CCDSUM"] = "1 1"
        head["DATASEC"] = f"[{PRE + 1}:{PRE + QX},1:{QY}]"
        hdus.append(fits.ImageHDU(_amp(k).astype(np.float32), head))
    fits.HDUList(hdus).writeto(path)
    return path


def _header(**cards) -> fits.Header:
    """The observation keywords of a raw file's ext 1 (§7.3), imaging science."""
    header = fits.Header(
        {
            "INSTRUME": "Binospec",
            "OBJECT": "BOSS1441_350",
            "EXPTIME": 60.0,
            "FILTER": "r_filter",
            "DATE-OBS": "2018-04-10T09:32:26",
            "MJD": 58218.39753,
            "RA": 14.68541944,
            "DEC": 39.97979167,
            "POSANG": 0.0,
            "MASK": "imaging",
            "DISPERS1": "mirror",
            "DISPERS2": "mirror",
            "IMAGETYP": "object",
            "SCRN": "stowed",
            "HENEAR": "off",
        }
    )
    header.update(cards)
    return header


def test_quadrants_flips_overscan_and_gains(instrument, tmp_path):
    reader = get_reader(instrument.reader)(instrument)
    image = reader.assemble(_raw_file(tmp_path / "sci_img_2018.0410.093226.fits", _header()))
    # side A field 56 columns, gap 10, side B field 56 columns; rows 9-72 of 80
    assert image.data.shape == (64, 56 + 10 + 56)
    # output row r is side row r + 8, output column j side column j + 4 (side A)
    a = image.data[:, :56]
    # Quadrant of amp 1 (lower left, as read): level 600 + ramp increasing with x
    low_left = a[QY - 8 - 1, :27]  # a row of amp 1 (side rows 8..39 are amp 1/2's)
    np.testing.assert_allclose(low_left, 600.0 + np.arange(4, 31), atol=1e-3)
    # Amp 2 (lower right) is mirrored along x: its read direction runs right to left
    low_right = a[QY - 8 - 1, 28:56]
    np.testing.assert_allclose(low_right, 610.0 + np.arange(31, 3, -1), atol=1e-3)
    # Amp 3 (upper right) mirrored in both axes, amp 4 (upper left) along y: levels 620 / 630
    up = a[QY - 8 + 1]
    np.testing.assert_allclose(up[:28], 630.0 + np.arange(4, 32), atol=1e-3)
    np.testing.assert_allclose(up[28:], 620.0 + np.arange(31, 3, -1), atol=1e-3)
    # Side B: amps 5-8 with levels 640-670, its field starting at column 7 of the side
    b = image.data[:, 66:]
    assert b[QY - 8 - 1, 0] == pytest.approx(640.0 + 6)
    assert b[QY - 8 + 1, -1] == pytest.approx(660.0 + 2)  # amp 7 mirrored, upper right
    # gains per amplifier from the YAML (PypeIt table); the gap is unread (gain 0)
    assert image.gain[QY - 8 - 1, 0] == GAINS[0]
    assert image.gain[QY - 8 + 1, 30] == GAINS[2]
    assert image.gain[QY - 8 + 1, 70] == GAINS[7]
    assert (image.gain[:, 56:66] == 0).all()
    assert image.rdnoise[0, 0] == 3.2 and image.rdnoise[0, -1] == 3.6


def test_pointing_wcs_from_ra_in_hours(instrument, tmp_path):
    reader = get_reader(instrument.reader)(instrument)
    image = reader.read(_raw_file(tmp_path / "sci_img_2018.0410.093227.fits", _header()))
    # the real preprocessed header's CRVAL1 is 220.2812916 for RA = 14.68541944 h
    assert image.header["CRVAL1"] == pytest.approx(220.2812916, abs=1e-6)
    assert image.header["CRVAL2"] == pytest.approx(39.97979167)
    assert np.hypot(image.header["CD1_1"], image.header["CD2_1"]) * 3600 == pytest.approx(0.24)


@pytest.mark.skipif(not FLAT.is_file(), reason=f"shared data not found at {FLAT}")
def test_the_real_header_is_a_screen_flat_and_its_variants_typed_by_scrn_henear(instrument):
    real = fits.getheader(FLAT, 1)
    assert real["IMAGETYP"] == "object"  # the trap: IMAGETYP says object
    assert classify(real, instrument, float(real["EXPTIME"]))[0] == "FLAT"
    cases = [
        ({"SCRN": "stowed", "HENEAR": "off"}, "SCIENCE"),
        ({"SCRN": "stowed", "HENEAR": "on"}, "UNKNOWN"),  # an arc through the imaging mask
        ({"SCRN": "stowed", "HENEAR": "off", "DISPERS1": "x270", "MASK": "Longslit1"}, "SPEC"),
        ({"SCRN": "stowed", "HENEAR": "off", "MASK": "Longslit1"}, "UNKNOWN"),  # acquisition
    ]
    for cards, expected in cases:
        header = real.copy()
        header.update(cards)
        assert classify(header, instrument, 60.0)[0] == expected, cards


@pytest.mark.skipif(not MASKS.is_dir(), reason=f"shared data not found at {MASKS}")
def test_full_output_has_the_reference_static_mask_shape():
    with fits.open(MASKS / "binospec.11.staticmask.fits.fz") as hdul:
        mask = next(h.data for h in hdul if h.data is not None)
    assert FORMATS["binospec"]().geometry(Setup(size="full")).shape == mask.shape == (3695, 4731)
    # the reference mask covers the gap between the two fields (columns 1971-2764)
    assert mask[:, 1970:2764].all()


@pytest.mark.skipif(not MASKS.is_dir(), reason=f"shared data not found at {MASKS}")
def test_the_yaml_static_mask_is_found_and_applies(monkeypatch, tmp_path):
    monkeypatch.setenv(STATIC_MASK_ENV, str(MASKS))
    inst = compose_config("instrument=binospec", "data_path=/x").instrument
    bad = static_mask(inst, tmp_path, (3695, 4731))
    assert (bad[:, 1970:2764] != 0).all() and (bad == 0).mean() > 0.8


def test_yaml_fields_are_read():
    inst = compose_config("instrument=binospec", "data_path=/x").instrument
    reader = get_reader(inst.reader)
    assert {"gain", "rdnoise", "options", "pointing", "static_mask"} <= COMMON_FIELDS | reader.reads
    assert len(inst.gain) == len(inst.rdnoise) == 8


@pytest.mark.skipif(not FLAT.is_file(), reason=f"shared data not found at {FLAT}")
def test_simulated_file_has_the_spec_layout_and_the_real_keywords(tmp_path):
    inst = compose_config("instrument=binospec", "data_path=/x").instrument
    fmt = FORMATS["binospec"]()
    setup = Setup(size="small")
    shape = fmt.geometry(setup).shape
    electrons = np.full(shape, 5000.0)
    meta = FrameMeta("science", 1, "GRB", "r", 60.0, Time("2024-06-18T06:00:00"), 220.0, 40.0)
    hdul = fmt.readout(electrons, meta, setup, np.random.default_rng(3))
    assert hdul[0].data is None and len(hdul) == 9
    for hdu in hdul[1:]:
        assert {"DATASEC", "CCDSUM"} <= set(hdu.header)
        assert not {"DETSEC", "BIASSEC", "GAIN", "RDNOISE", "CTYPE1"} & set(hdu.header)
    real = set(fits.getheader(FLAT, 1))
    assert set(hdul[1].header) - STRUCTURAL_KEYWORDS <= real  # no keyword the real header lacks
    read = {"OBJECT", "EXPTIME", "FILTER", "MJD", "CCDSUM", "RA", "DEC", "POSANG", "MASK", "SCRN"}
    assert read <= set(hdul[1].header)
    assert hdul[1].header["RA"] == pytest.approx(220.0 / 15.0)
    path = tmp_path / "sci_img_2024.0618.060000.fits"
    hdul.writeto(path)
    image = get_reader(inst.reader)(inst).assemble(path)
    assert image.data.shape == shape
    gain = image.gain > 0
    np.testing.assert_allclose(np.median((image.data * image.gain)[gain]), 5000.0, rtol=2e-3)


def test_every_yaml_field_is_read_by_the_reader():
    path = Path(__file__).resolve().parents[2] / "conf" / "instrument" / "binospec.yaml"
    keys = set(yaml.safe_load(path.read_text()))
    reader = get_reader(yaml.safe_load(path.read_text())["reader"])
    assert keys <= COMMON_FIELDS | reader.reads, keys - COMMON_FIELDS - reader.reads

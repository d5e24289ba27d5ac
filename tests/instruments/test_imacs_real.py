"""IMACS chip files as the spec describes them (``real_formats.md`` §9; no real IMACS file exists
in the shared data, so the files are built here from the spec's header tables): layout, overscan,
EGAIN/ENOISE, frame types with their traps, the starting WCS of every chip, and the simulated
files' HDU layout and keyword set."""

from __future__ import annotations

import numpy as np
import pytest
from astropy.io import fits
from astropy.time import Time
from astropy.wcs import WCS

from potpyri.instruments import get_reader
from potpyri.instruments.base import ReaderError
from potpyri.instruments.classify import classify
from potpyri.sim.formats.base import FrameMeta, Setup
from potpyri.sim.formats.imacs import Imacs
from tests.conftest import compose_config

#: Keywords of an IMACS chip file's primary header that the pipeline reads (spec §9.2, §9.3,
#: §9.5): sections, gain, binning, chip, pointing, frame type and observation keywords.
SPEC_KEYWORDS = {
    "DATASEC", "BIASSEC", "EGAIN", "ENOISE", "BINNING", "CHIP", "CHOFFX", "CHOFFY", "RA-D",
    "DEC-D", "ROTANGLE", "SCALE", "EXPTYPE", "OBJECT", "EXPTIME", "FILTER", "DATE-OBS",
    "UT-TIME", "AIRMASS", "GISMO", "SLITMASK", "INSTRUME", "TELESCOP",
}  # fmt: skip
#: Keywords real IMACS chips do not have (§1 summary, §9.5): the simulator must not write them.
NOT_IMACS = {"DETSEC", "CCDSUM", "GAIN", "RDNOISE", "MJD", "CTYPE1", "CRVAL1", "CD1_1", "QUALITY"}

NX, NY, OVERSCAN = 40, 60, 8  # a small chip: data columns, rows, overscan columns after the data
SCALE = 0.111  # arcsec per unbinned pixel (f/4)
FIELD = (150.0, -30.0)  # RA-D, DEC-D of the field centre


def _instrument(*overrides: str):
    return compose_config("instrument=imacs", "data_path=/x", *overrides).instrument


def _reader(*overrides: str):
    instrument = _instrument(*overrides)
    return get_reader(instrument.reader)(instrument)


def _header(**cards) -> fits.Header:
    header = fits.Header(
        {
            "TELESCOP": "Baade_Mag_1",
            "INSTRUME": "IMACS Long-Camera",
            "OBJECT": "SN2026abc",
            "EXPTYPE": "Object",
            "EXPTIME": 300.0,
            "FILTER": "Sloan_r",
            "GISMO": "none",
            "SLITMASK": "f/4-imaging",
            "DATE-OBS": "2026-12-06",
            "UT-TIME": "03:04:05",
            "AIRMASS": 1.2,
            "BINNING": "1x1",
            "CHIP": 2,
            "DATASEC": f"[1:{NX},1:{NY}]",
            "BIASSEC": f"[{NX + 1}:{NX + OVERSCAN},1:{NY}]",
            "EGAIN": 1.56,
            "ENOISE": 5.6,
            "RA-D": FIELD[0],
            "DEC-D": FIELD[1],
            "CHOFFX": 0.0,
            "CHOFFY": 0.0,
            "ROTANGLE": 43.77,
            "SCALE": SCALE,
        }
    )
    header.update(cards)
    return header


def _chip_file(path, data: np.ndarray, bias: np.ndarray, **cards):
    """A chip file: ``data`` (ny, nx) plus ``bias`` (ny, n) overscan columns after it."""
    fits.PrimaryHDU(np.hstack([data, bias]).astype(np.uint16), _header(**cards)).writeto(path)
    return path


def test_pixels_in_the_primary_overscan_per_row_and_trimmed(tmp_path):
    rows = np.arange(NY, dtype=float)[:, None]
    level = 700.0 + 0.5 * rows  # a bias level that drifts along the read-out
    signal = np.add.outer(np.arange(NY), 10 * np.arange(NX)).astype(float)
    path = _chip_file(
        tmp_path / "iff0012c2.fits", signal + level, np.repeat(level, OVERSCAN, axis=1)
    )
    image = _reader().assemble(path)
    assert image.data.shape == (NY, NX)
    np.testing.assert_allclose(image.data, signal)  # level removed row by row, overscan cut
    assert image.header["CCDSUM"] == "1 1"


def test_gain_and_read_noise_from_egain_and_enoise_never_a_default(tmp_path):
    flat = np.full((NY, NX), 1000.0)
    bias = np.full((NY, OVERSCAN), 500.0)
    image = _reader().assemble(_chip_file(tmp_path / "a.fits", flat, bias, EGAIN=1.68))
    assert float(image.gain) == pytest.approx(1.68)
    assert float(image.rdnoise) == pytest.approx(5.6)
    # a YAML table, one value per CHIP (PyPhot's f/2 gains), overrides the header
    table = "instrument.gain=[1.56,1.56,1.68,1.59,1.58,1.61,1.59,1.65]"
    chip4 = _chip_file(tmp_path / "b.fits", flat, bias, CHIP=4)
    assert float(_reader(table).assemble(chip4).gain) == pytest.approx(1.59)
    missing = _chip_file(tmp_path / "c.fits", flat, bias)
    with fits.open(missing, mode="update") as hdul:
        del hdul[0].header["EGAIN"]
    with pytest.raises(ReaderError, match="c.fits: header keyword EGAIN .*missing"):
        _reader().assemble(missing)
    nosec = _chip_file(tmp_path / "d.fits", flat, bias)
    with fits.open(nosec, mode="update") as hdul:
        del hdul[0].header["BIASSEC"]
    with pytest.raises(ReaderError, match="d.fits: header keyword BIASSEC missing"):
        _reader().assemble(nosec)


def test_chips_5_to_8_are_turned_into_the_orientation_of_chips_1_to_4(tmp_path):
    data = np.full((NY, NX), 100.0)
    data[0, 0] = 5000.0  # first pixel read out
    bias = np.zeros((NY, OVERSCAN))
    upper = _reader().assemble(_chip_file(tmp_path / "c2.fits", data, bias, CHIP=2))
    lower = _reader().assemble(_chip_file(tmp_path / "c6.fits", data, bias, CHIP=6))
    assert upper.data[0, 0] == 5000.0 and upper.data[-1, -1] == 100.0
    assert lower.data[-1, -1] == 5000.0 and lower.data[0, 0] == 100.0


@pytest.mark.parametrize(
    ("cards", "expected"),
    [
        ({}, "SCIENCE"),
        ({"OBJECT": "twiflat"}, "FLAT"),  # POTPyRI's twilight flats
        ({"OBJECT": "Dome flat"}, "FLAT"),  # PyPhot: 'flat' in OBJECT
        ({"EXPTYPE": "Flat", "OBJECT": "x"}, "FLAT"),  # the Lisp module's guess for EXPTYPE
        ({"GISMO": "Gri-300-17.5"}, "SPEC"),  # a grism in the beam
        ({"GISMO": "Gri-300-17.5", "OBJECT": "quartz"}, "SPEC"),  # a spectroscopic flat
        ({"SLITMASK": "f/4-slitmask"}, "UNKNOWN"),  # acquisition through a mask
        ({"EXPTYPE": "Bias", "OBJECT": "bias", "EXPTIME": 0.0}, "UNKNOWN"),  # bias: false
        ({"EXPTIME": 0.5}, "BAD"),
    ],
)
def test_frame_types_from_the_spec_rules(cards, expected):
    header = _header(**cards)
    instrument = _instrument()
    assert classify(header, instrument, float(header["EXPTIME"]))[0] == expected


@pytest.mark.parametrize("exptype", ["Bias", "Dark"])
def test_biases_and_darks_with_a_grism_in_the_beam_stay_calibrations(exptype):
    """The trap: a calibration taken with the grism deployed is no spectrum."""
    header = _header(EXPTYPE=exptype, OBJECT=exptype.lower(), GISMO="Gri-300-17.5", EXPTIME=0.0)
    instrument = _instrument("instrument.bias=true", "instrument.dark=true")
    assert classify(header, instrument, 0.0)[0] == exptype.upper()


def _mosaic_wcs(pa_deg: float, scale: float) -> WCS:
    """The spec's picture of the field (§9.5): TAN at RA-D/DEC-D, chips 1-4 with x flipped,
    rotated by ROTANGLE - 43.77 (position angle of +y, north through east)."""
    theta = np.deg2rad(pa_deg)
    rotation = np.array([[np.cos(theta), np.sin(theta)], [-np.sin(theta), np.cos(theta)]])
    wcs = WCS(naxis=2)
    wcs.wcs.ctype = ["RA---TAN", "DEC--TAN"]
    wcs.wcs.crval = FIELD
    wcs.wcs.crpix = [1.0, 1.0]  # 0-based mosaic pixel (0, 0) is the field centre
    wcs.wcs.cd = scale / 3600.0 * rotation @ np.diag([-1.0, 1.0])
    return wcs


#: Chip centres (x, y) in the orientation of chips 1-4, unbinned pixels from the field centre:
#: two rows of four 2048x4096 chips, 41 pixels apart; PHOTRED's sky-right rows '1 2 3 4' and
#: '6 5 8 7' read mirrored in x: '4 3 2 1' above '7 8 5 6'.
CENTRES = {
    chip: ((column - 1.5) * (2048 + 41), (2048 + 20.5) * (1 if chip <= 4 else -1))
    for chip, column in zip(range(1, 9), [3, 2, 1, 0, 2, 3, 0, 1], strict=True)
}


@pytest.mark.parametrize("binning", [1, 2])
@pytest.mark.parametrize("chip", range(1, 9))
def test_every_chip_falls_on_its_place_in_the_field(tmp_path, chip, binning):
    """CHOFFX/CHOFFY (arcsec from the chip centre to the field centre), SCALE, ROTANGLE and the
    binning put each chip where the field's WCS says, to 0.01 arcsec."""
    pa = 30.0
    cx, cy = CENTRES[chip]
    cards = {
        "CHIP": chip,
        "BINNING": f"{binning}x{binning}",
        "CHOFFX": -cx * SCALE,
        "CHOFFY": -cy * SCALE,
        "ROTANGLE": pa + 43.77,
    }
    data = np.zeros((NY, NX))
    path = _chip_file(tmp_path / f"iff0001c{chip}.fits", data, np.zeros((NY, OVERSCAN)), **cards)
    image = _reader().read(path)
    assert image.header["PNTUNC"] == 900.0
    chip_wcs = WCS(image.header)
    field = _mosaic_wcs(pa, SCALE)
    for x, y in [(0, 0), (NX - 1, 0), (0, NY - 1), (NX - 1, NY - 1)]:
        # binned pixel (x, y) of the chip, in unbinned pixels from the field centre
        ux = cx + (x - (NX - 1) / 2) * binning
        uy = cy + (y - (NY - 1) / 2) * binning
        want = field.pixel_to_world(ux, uy)
        assert chip_wcs.pixel_to_world(x, y).separation(want).arcsec < 0.01, (chip, x, y)


def test_a_chip_without_its_offset_or_scale_is_a_one_line_error(tmp_path):
    bias = np.zeros((NY, OVERSCAN))
    path = _chip_file(tmp_path / "iff0001c1.fits", np.zeros((NY, NX)), bias)
    with fits.open(path, mode="update") as hdul:
        del hdul[0].header["CHOFFY"]
    with pytest.raises(ReaderError, match="iff0001c1.fits: header keyword CHOFFY .*missing"):
        _reader().read(path)


@pytest.mark.parametrize("size", ["small", "full"])
def test_simulated_chip_files_have_the_spec_layout_and_keywords(tmp_path, size):
    fmt = Imacs()
    setup = Setup(binning=(1, 1), size=size)
    geometry = fmt.geometry(setup)
    meta = FrameMeta("science", 7, "SIM01_GRB", "r", 120.0, Time("2026-12-06T03:00:00"), 150, -30)
    hdul = fmt.readout(np.zeros(geometry.shape), meta, setup, np.random.default_rng(1))
    files = fmt.split_files(hdul, meta, setup)
    assert [name for name, _, _ in files] == ["iff0007c3.fits", "iff0007c2.fits"]
    reader = _reader()
    for name, part, region in files:
        assert len(part) == 1 and part[0].data.ndim == 2  # one HDU: the primary holds the pixels
        keys = set(part[0].header)
        assert keys >= SPEC_KEYWORDS, SPEC_KEYWORDS - keys
        assert not NOT_IMACS & keys, NOT_IMACS & keys
        part.writeto(tmp_path / name)
        image = reader.read(tmp_path / name)
        assert image.data.shape == (
            region[0].stop - region[0].start,
            region[1].stop - region[1].start,
        )
        assert abs(float(np.median(image.data))) < 3  # overscan removed: no light, bias only

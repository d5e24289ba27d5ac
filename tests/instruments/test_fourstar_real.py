"""FourStar detector files as the spec describes them (``real_formats.md`` §10; no real FourStar
file exists in the shared data, so the files are built here from the spec's tables): both HDU
layouts of the spec's CONFLICT, reference pixels, the per-detector gain table, frame types, the
starting WCS of each detector, and the simulated files' HDU layout and keyword set."""

from __future__ import annotations

import numpy as np
import pytest
from astropy.io import fits
from astropy.time import Time
from astropy.wcs import WCS

from potpyri.instruments import get_reader
from potpyri.instruments.base import ReaderError
from potpyri.instruments.classify import classify, flats_from_science
from potpyri.sim.formats.base import FrameMeta, Setup
from potpyri.sim.formats.fourstar import FourStar
from tests.conftest import compose_config

#: Keywords the spec lists for FourStar (§10.3) that the pipeline reads.
SPEC_KEYWORDS = {"OBJECT", "EXPTIME", "FILTER", "DATE-OBS", "AIRMASS", "INSTRUME", "TELESCOP"}
#: Keywords copied from MMIRS into the reference's FourStar module that FourStar files almost
#: certainly lack (§10.4, §10.6), and cards the spec says nothing shows (§10.2, §10.5).
NOT_FOURSTAR = {
    "OBSMODE", "APTYPE", "APERTURE", "MOSID", "NAMPS", "CCDSUM", "GAIN", "RDNOISE", "DATASEC",
    "DETSEC", "BIASSEC", "MJD", "CTYPE1", "CRVAL1", "CD1_1",
}  # fmt: skip
ARRAY = 2048


def _reader(*overrides: str):
    instrument = compose_config("instrument=fourstar", "data_path=/x", *overrides).instrument
    return get_reader(instrument.reader)(instrument)


def _header(**cards) -> fits.Header:
    header = fits.Header(
        {
            "TELESCOP": "Baade_Mag_1",
            "INSTRUME": "FourStar",
            "OBJECT": "SN2026abc",
            "EXPTIME": 17.4,
            "FILTER": "J",
            "DATE-OBS": "2026-12-06T03:04:05.2",
            "AIRMASS": 1.1,
            "RA": "10:00:00.00",
            "DEC": "-30:00:00.0",
        }
    )
    header.update(cards)
    return header


def _write(path, data, primary: bool = True, **cards):
    """A detector file with the pixels in the primary (FSRP) or in extension 1 (POTPyRI)."""
    header = _header(**cards)
    if primary:
        fits.PrimaryHDU(data, header).writeto(path)
    else:
        fits.HDUList([fits.PrimaryHDU(header=header), fits.ImageHDU(data)]).writeto(path)
    return path


def _full_frame(signal: np.ndarray, channel_levels: np.ndarray) -> np.ndarray:
    """A 2048² read-out: every channel (64 columns) at its own level, light inside the border."""
    frame = np.repeat(channel_levels, ARRAY // len(channel_levels))[None, :] * np.ones((ARRAY, 1))
    frame[4:-4, 4:-4] += signal
    return frame.astype(np.float32)


@pytest.mark.parametrize("primary", [True, False], ids=["primary-FSRP", "ext1-POTPyRI"])
def test_reference_pixels_take_off_each_channel_level_and_are_trimmed(tmp_path, primary):
    signal = np.add.outer(np.arange(ARRAY - 8), np.arange(ARRAY - 8)).astype(np.float32) % 997
    levels = 3000.0 + 7.0 * np.arange(32)
    path = _write(tmp_path / "fsr_0012_01_c2.fits", _full_frame(signal, levels), primary)
    reader = _reader()
    image = reader.assemble(path)
    assert image.data.shape == (ARRAY - 8, ARRAY - 8)
    np.testing.assert_allclose(image.data, signal, atol=1e-3)
    header = reader.header(path)  # the classification keywords whichever HDU holds them
    assert header["OBJECT"] == "SN2026abc" and header["CHIP"] == 2


def test_without_reference_pixels_or_in_a_window_every_pixel_is_data(tmp_path):
    frame = _full_frame(np.zeros((ARRAY - 8, ARRAY - 8)), np.full(32, 100.0))
    path = _write(tmp_path / "fsr_0001_01_c1.fits", frame)
    assert _reader("instrument.options.reference_pixels=0").assemble(path).data.shape == (
        ARRAY,
        ARRAY,
    )
    window = _write(tmp_path / "fsr_0002_01_c1.fits", np.full((1024, 1024), 5.0, np.float32))
    image = _reader().assemble(window)
    assert image.data.shape == (1024, 1024) and float(image.data.mean()) == 5.0


@pytest.mark.parametrize(
    ("chip", "gain", "rdnoise"),
    [(1, 2.65, 25.5), (2, 2.59, 22.1), (3, 2.51, 20.5), (4, 2.49, 18.9)],
)
def test_gain_and_read_noise_from_the_handout_table_by_detector(tmp_path, chip, gain, rdnoise):
    path = _write(tmp_path / f"fsr_0012_01_c{chip}.fits", np.ones((64, 64), np.float32), GAIN=9.9)
    image = _reader().assemble(path)
    assert float(image.gain) == pytest.approx(gain)  # the table, not a header GAIN
    assert float(image.rdnoise) == pytest.approx(rdnoise)
    assert image.header["CHIP"] == chip


def test_a_file_name_without_a_detector_is_a_one_line_error(tmp_path):
    path = _write(tmp_path / "fsr_0012_01.fits", np.ones((64, 64), np.float32))
    with pytest.raises(ReaderError, match="fsr_0012_01.fits: no chip number in the file name"):
        _reader().assemble(path)


@pytest.mark.parametrize(
    ("object_name", "expected"),
    [
        ("SN2026abc", "SCIENCE"),
        ("Dark", "DARK"),  # POTPyRI: 'ark' in OBJECT
        ("dark 17.4s", "DARK"),
        ("SN2026abc_acq", "UNKNOWN"),
        ("focus", "UNKNOWN"),
        ("dome flat", "UNKNOWN"),  # flats are made from the science frames
    ],
)
def test_frame_types_from_the_object_name(object_name, expected):
    instrument = compose_config("instrument=fourstar", "data_path=/x").instrument
    assert classify(_header(OBJECT=object_name), instrument, 17.4)[0] == expected
    short = "BAD" if expected == "SCIENCE" else expected  # below min_exptime 0.1 s
    assert classify(_header(OBJECT=object_name), instrument, 0.05)[0] == short
    assert flats_from_science(instrument)


@pytest.mark.parametrize("chip", [1, 2, 3, 4])
def test_each_detector_starts_at_the_pointing_and_the_search_covers_its_offset(tmp_path, chip):
    """No raw WCS is trusted (§10.5): a header WCS is replaced by one centred on RA/DEC, north up,
    east left, 0.159"/pixel; the search radius covers the detector's offset from the pointing
    (the centre of a 2×2 array of 2048² detectors: half a detector diagonal plus any gap up to
    64 pixels) and the pointing error."""
    bogus = {"CTYPE1": "RA---TAN", "CTYPE2": "DEC--TAN", "CRVAL1": 1.0, "CRVAL2": 1.0}
    bogus.update({"CRPIX1": 1.0, "CRPIX2": 1.0, "CD1_1": 1e-4, "CD2_2": 1e-4})
    path = _write(tmp_path / f"fsr_0012_01_c{chip}.fits", np.ones((64, 64), np.float32), **bogus)
    image = _reader().read(path)
    wcs = WCS(image.header)
    centre = wcs.pixel_to_world(31.5, 31.5)
    assert centre.ra.deg == pytest.approx(150.0) and centre.dec.deg == pytest.approx(-30.0)
    scales = np.abs(wcs.pixel_scale_matrix.diagonal()) * 3600
    np.testing.assert_allclose(scales, 0.159)
    assert wcs.pixel_scale_matrix[0, 0] < 0 < wcs.pixel_scale_matrix[1, 1]
    offset = np.hypot(1024 + 32, 1024 + 32) * 0.159
    assert image.header["PNTUNC"] >= offset + 30


@pytest.mark.parametrize("size", ["small", "full"])
def test_simulated_files_have_the_spec_layout_and_keywords(tmp_path, size):
    fmt = FourStar()
    setup = Setup(binning=(1, 1), size=size)
    geometry = fmt.geometry(setup)
    meta = FrameMeta("science", 7, "SIM01_GRB", "J", 30.0, Time("2026-12-06T03:00:00"), 150, -30)
    hdul = fmt.readout(np.zeros(geometry.shape), meta, setup, np.random.default_rng(1))
    ((name, part, _),) = fmt.split_files(hdul, meta, setup)
    assert name == "fsr_0007_01_c1.fits"
    assert len(part) == 1 and part[0].data.shape == (
        (ARRAY, ARRAY) if size == "full" else (1024,) * 2
    )
    keys = set(part[0].header)
    assert keys >= SPEC_KEYWORDS, SPEC_KEYWORDS - keys
    assert not NOT_FOURSTAR & keys, NOT_FOURSTAR & keys
    part.writeto(tmp_path / name)
    image = _reader().read(tmp_path / name)
    assert image.data.shape == geometry.shape  # the simulator's mosaic is the reader's output
    level = float(np.median(image.data))
    if size == "full":
        assert abs(level) < 1  # the reference pixels took the 4000 ADU pedestal off
    else:
        assert level == pytest.approx(4000.0, abs=1)  # a window: the master dark takes it off

"""MMIRS on files built from the spec's description of real raw files (real_formats.md §8).

No real MMIRS file exists in shared data: the files here are written in the test from the spec's
tables (ramp extensions ext 1 = last read, ext 2 = first read, keywords of ext 1, RA in hours,
4-pixel reference border of the H2RG, 64-column read-out channels).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import yaml
from astropy.io import fits
from astropy.time import Time

from potpyri.instruments import get_reader
from potpyri.instruments.base import COMMON_FIELDS, ReaderError
from potpyri.instruments.classify import classify, flats_from_science
from potpyri.instruments.timing import frame_mjd
from potpyri.sim.formats import load_all
from potpyri.sim.formats.base import FORMATS, FrameMeta, Setup
from tests.conftest import SHARED, compose_config

N = 256  # a 256×256 array: 4 read-out channels of 64 columns
MASKS = SHARED / "data" / "potpyri_reference" / "staticmasks"

load_all()  # the simulator formats register themselves on import


@pytest.fixture(scope="module")
def instrument():
    return compose_config("instrument=mmirs", "data_path=/x").instrument


def _header(**cards) -> fits.Header:
    """Ext 1 keywords of a real raw MMIRS file (§8.3), imaging science by default."""
    header = fits.Header(
        {
            "OBJECT": "J1758_2933",
            "EXPTIME": 22.129,
            "FILTER": "Ks",
            "DATE-OBS": "2019-06-02T08:15:30.5",
            "CCDSUM": "1 1",
            "AIRMASS": 1.21,
            "RA": 17.9725,
            "DEC": 29.55,
            "IMAGETYP": "object",
            "APTYPE": "open",
            "APERTURE": "open",
            "DISPERSE": "open",
            "GAIN": 2.68,
        }
    )
    header.update(cards)
    return header


def _ramp(path, signal, header=None, reads=2):
    """A ramp file: ext 1 last read (pedestal + channel offsets + signal), ext 2 first read
    (pedestal + other channel offsets); the reference border sees no light."""
    rng = np.random.default_rng(1)
    pedestal = 9000.0 + rng.normal(0, 30, (N, N))
    columns = np.arange(N)

    def offsets():
        table = rng.normal(0, 20, (N // 64, 2))
        return table[columns // 64, columns % 2][None, :]

    light = np.zeros((N, N))
    light[4:-4, 4:-4] = signal
    last = pedestal + offsets() + light
    first = pedestal + offsets()
    hdus = [fits.PrimaryHDU(), fits.ImageHDU(last.astype(np.float32), header or _header())]
    if reads == 2:
        hdus.append(fits.ImageHDU(first.astype(np.float32)))
    hdus[0].header["EXTEND"] = True
    fits.HDUList(hdus).writeto(path)
    return path


def _signal():
    y, x = np.mgrid[: N - 8, : N - 8]
    return 100.0 + 2.0 * x + 0.5 * y


def test_last_minus_first_read_with_reference_pixel_correction(instrument, tmp_path):
    reader = get_reader(instrument.reader)(instrument)
    image = reader.assemble(_ramp(tmp_path / "sci.0001.fits", _signal()))
    # 4-pixel reference border trimmed; the channel offsets (even/odd columns apart) that differ
    # between the reads are removed by the reference rows: the image is the signal.
    assert image.data.shape == (N - 8, N - 8)
    np.testing.assert_allclose(image.data, _signal(), atol=0.05)
    # the increasing ramp proves ext 1 is taken as the last read (ext 2 the first)
    assert image.data[0, 0] < image.data[0, -1]
    assert float(image.gain) == pytest.approx(2.68)  # header GAIN
    assert float(image.rdnoise) == pytest.approx(3.14)  # YAML, PypeIt


def test_a_single_image_is_read_as_it_is(instrument, tmp_path):
    reader = get_reader(instrument.reader)(instrument)
    image = reader.assemble(_ramp(tmp_path / "one.fits", _signal(), reads=1))
    assert image.data.shape == (N - 8, N - 8)
    # no first read to subtract: the reference rows remove the pedestal's mean and the channel
    # offsets, its pixel-to-pixel pattern (30 ADU rms) stays
    residual = image.data - _signal()
    assert abs(np.median(residual)) < 3.0
    assert np.std(residual) == pytest.approx(30.0, rel=0.1)


def test_missing_gain_names_the_keyword(instrument, tmp_path):
    header = _header()
    del header["GAIN"]
    reader = get_reader(instrument.reader)(instrument)
    with pytest.raises(ReaderError, match="GAIN"):
        reader.assemble(_ramp(tmp_path / "nogain.fits", _signal(), header))


def test_pointing_wcs_from_ra_in_hours(instrument, tmp_path):
    reader = get_reader(instrument.reader)(instrument)
    image = reader.read(_ramp(tmp_path / "wcs.fits", _signal()))
    assert image.header["CRVAL1"] == pytest.approx(17.9725 * 15.0)
    assert image.header["CRVAL2"] == pytest.approx(29.55)
    scale = np.hypot(image.header["CD1_1"], image.header["CD2_1"]) * 3600
    assert scale == pytest.approx(0.202)
    assert image.header["PNTUNC"] == 30.0


def test_time_from_date_obs(instrument):
    mjd = frame_mjd(_header(), instrument.keywords.mjd, instrument.keywords.time)
    assert mjd == pytest.approx(Time("2019-06-02T08:15:30.5").mjd, abs=1e-8)


@pytest.mark.parametrize(
    ("cards", "expected"),
    [
        ({}, "SCIENCE"),
        ({"IMAGETYP": "dark", "FILTER": "dark"}, "DARK"),
        ({"IMAGETYP": "dark", "DISPERSE": "HK"}, "DARK"),  # a dark keeps its type
        ({"IMAGETYP": "flat", "DISPERSE": "open"}, "UNKNOWN"),  # flats come from science frames
        ({"IMAGETYP": "comp", "DISPERSE": "HK", "APTYPE": "longslit"}, "SPEC"),
        ({"APTYPE": "longslit", "DISPERSE": "J"}, "SPEC"),
        ({"APTYPE": "mos", "DISPERSE": "open"}, "UNKNOWN"),  # mask imaging (acquisition)
    ],
)
def test_frame_types_from_imagetyp_aptype_disperse(instrument, cards, expected):
    header = _header(**cards)
    assert classify(header, instrument, float(header["EXPTIME"]))[0] == expected


def test_yaml_fields_are_read(instrument):
    reader = get_reader(instrument.reader)
    yaml_keys = {"name", "reader", "gain_keyword", "rdnoise", "options", "pointing"}
    assert yaml_keys <= COMMON_FIELDS | reader.reads
    assert not instrument.static_mask  # the reference's MMIRS mask masks every pixel
    assert flats_from_science(instrument)  # no flat rule: sky flats from the science frames


@pytest.mark.skipif(not MASKS.is_dir(), reason=f"shared data not found at {MASKS}")
def test_reference_static_mask_is_all_masked():
    with fits.open(MASKS / "MMIRS.staticmask.fits.fz") as hdul:
        data = next(h.data for h in hdul if h.data is not None)
    assert data.shape == FORMATS["mmirs"]().geometry(Setup(size="full")).shape
    assert data.all()  # why the YAML sets no static_mask


def test_simulated_file_has_the_spec_layout_and_keywords(instrument, tmp_path):
    fmt = FORMATS["mmirs"]()
    setup = Setup(size="small")
    shape = fmt.geometry(setup).shape
    electrons = np.full(shape, 2680.0)
    meta = FrameMeta("science", 1, "GRB", "K", 30.0, Time("2024-06-18T06:00:00"), 270.0, 30.0)
    hdul = fmt.readout(electrons, meta, setup, np.random.default_rng(3))
    assert hdul[0].data is None and hdul[0].header["EXTEND"]
    assert len(hdul) == 3 and all(h.data.shape == (shape[0] + 8, shape[1] + 8) for h in hdul[1:])
    head = hdul[1].header
    spec_keys = {
        "OBJECT", "EXPTIME", "FILTER", "DATE-OBS", "CCDSUM", "DATASEC", "AIRMASS", "RA", "DEC",
        "IMAGETYP", "APTYPE", "APERTURE", "DISPERSE", "GAIN", "PI", "PROPID",
    }  # fmt: skip
    assert spec_keys <= set(head)
    assert not {"MJD", "DETSEC", "BIASSEC", "RDNOISE", "OBSMODE", "NAMPS"} & set(head)
    assert head["RA"] == pytest.approx(270.0 / 15.0)  # hours
    assert not {"OBJECT", "EXPTIME", "DATASEC"} & set(hdul[2].header)  # a bare read
    path = tmp_path / "GRB.0001.fits"
    hdul.writeto(path)
    image = get_reader(instrument.reader)(instrument).assemble(path)
    assert image.data.shape == shape
    # electrons / gain, within the CDS read noise (3.14 e- / 2.68) and rounding
    assert np.median(image.data) == pytest.approx(1000.0, abs=0.5)
    assert np.std(image.data) == pytest.approx(3.14 / 2.68, rel=0.15)


def test_every_yaml_field_is_read_by_the_reader():
    path = Path(__file__).resolve().parents[2] / "conf" / "instrument" / "mmirs.yaml"
    keys = set(yaml.safe_load(path.read_text()))
    reader = get_reader(yaml.safe_load(path.read_text())["reader"])
    assert keys <= COMMON_FIELDS | reader.reads, keys - COMMON_FIELDS - reader.reads

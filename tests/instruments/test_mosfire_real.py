"""MOSFIRE reader, classification and simulator against the specification of the real format.

No real MOSFIRE raw file or header was reachable (``shared/data/real_raw/README.md``), so the
checks are against ``shared/spec/real_formats.md`` section 6 (KOA data-format page and keyword
table, MosfireDRP, PypeIt, POTPyRI), with the numbers it cites.
"""

from __future__ import annotations

import numpy as np
import pytest
from astropy.io import fits
from astropy.time import Time

from potpyri.instruments import get_reader
from potpyri.instruments.base import ReaderError
from potpyri.instruments.classify import classify
from potpyri.sim.formats.base import FrameMeta, Setup
from potpyri.sim.formats.mosfire import Mosfire
from tests.conftest import SHARED, compose_config

MASKS = SHARED / "data" / "potpyri_reference" / "staticmasks"
#: Keywords KOA adds, and DEIMOS's filter keyword: absent from telescope-fresh files (spec 6.3).
NOT_NATIVE = {"ELAPTIME", "FRAMENO", "KOAIMTYP", "KOAID", "UT", "DWFILNAM"}
#: Keywords the pipeline reads from a MOSFIRE file (spec 6.3), all native.
READ = {
    "TARGNAME", "TRUITIME", "COADDONE", "FILTER", "MJD-OBS", "SYSGAIN", "NUMREADS", "GRATMODE",
    "MASKNAME", "PONAME", "OBJECT", "PWSTATA7", "PWSTATA8", "RA", "DEC", "ROTPOSN",
}  # fmt: skip


@pytest.fixture
def mosfire():
    instrument = compose_config("instrument=mosfire", "data_path=/x").instrument
    return instrument, get_reader(instrument.reader)(instrument)


def _simulated(kind: str = "science", exptime: float = 30.0) -> fits.HDUList:
    """One simulated raw file (flat 1000 e- field), as the simulator writes it, made two coadds
    of half the time (TRUITIME 15 s x COADDONE 2)."""
    fmt = Mosfire()
    setup = Setup(size="full")
    meta = FrameMeta(kind, 7, "COSMOS", "K", exptime, Time("2024-06-18T10:00:00"), 150.1, 2.2)
    electrons = np.full(fmt.geometry(setup).shape, 1000.0)
    hdul = fmt.readout(electrons, meta, setup, np.random.default_rng(1))
    hdul[0].header["TRUITIME"] = exptime / 2
    hdul[0].header["COADDS"] = hdul[0].header["COADDONE"] = 2
    return hdul


def test_simulated_file_has_the_spec_layout_and_native_keywords():
    hdul = _simulated()
    assert hdul[0].data.shape == (2048, 2048)
    assert [h.name for h in hdul[1:]] == [
        "TARGET_LIST", "SCIENCE_SLIT_LIST", "MECHANICAL_SLIT_LIST", "ALIGNMENT_SLIT_LIST",
    ]  # fmt: skip
    assert all(isinstance(h, fits.TableHDU) for h in hdul[1:])  # ASCII tables (CSU)
    keys = set(hdul[0].header)
    assert keys >= READ, sorted(READ - keys)
    assert not keys & NOT_NATIVE, sorted(keys & NOT_NATIVE)
    # no amplifier sections: one H2RG with reference pixels, no overscan
    assert not keys & {"DETSEC", "DATASEC", "BIASSEC", "CCDSUM", "GAIN", "RDNOISE"}
    assert {"CTYPE1", "CTYPE2", "CRVAL1", "CRPIX1", "CD1_1", "CD2_2"} <= keys  # primary WCS
    head = hdul[0].header
    assert head["TRUITIME"] * head["COADDONE"] == pytest.approx(30.0)


def test_primary_image_reads_with_sysgain_numreads_noise_and_reference_pixels(tmp_path):
    instrument = compose_config(
        "instrument=mosfire", "data_path=/x", "instrument.options.reference_pixels=4"
    ).instrument
    reader = get_reader(instrument.reader)(instrument)
    path = tmp_path / "MF.20240618.36000.fits"
    _simulated().writeto(path)
    image = reader.read(path)
    assert image.data.shape == (2048, 2048)
    # SYSGAIN inside, 0 (flagged bad) on the 4-pixel reference border (PypeIt [5:2044,5:2044])
    assert image.gain[4:-4, 4:-4].min() == image.gain.max() == pytest.approx(2.15)
    assert image.gain[:4].max() == image.gain[-4:].max() == image.gain[:, :4].max() == 0.0
    assert image.gain[:, -4:].max() == 0.0 and (image.gain == 0).sum() == 2048**2 - 2040**2
    assert float(image.rdnoise) == pytest.approx(5.8)  # NUMREADS=16 (POTPyRI table)
    # 1000 e- / 2.15 e-/ADU over the 1500 ADU pedestal
    assert np.median(image.data[4:-4, 4:-4]) == pytest.approx(1500 + 1000 / 2.15, abs=1.0)
    header = reader.header(path)
    assert header["EXPTOT"] == pytest.approx(30.0)  # TRUITIME 15 x COADDONE 2
    assert image.header["CTYPE1"] == "RA---TAN" and "WCSSRC" not in image.header  # header WCS


def test_reference_pixels_are_left_to_the_static_mask_by_default(mosfire, tmp_path):
    instrument, reader = mosfire
    assert instrument.options.reference_pixels == 0
    _simulated().writeto(tmp_path / "f.fits")
    assert np.all(reader.read(tmp_path / "f.fits").gain == np.float32(2.15))


def test_image_in_an_extension_reads_the_same(mosfire, tmp_path):
    """POTPyRI (2025) reads an extension named SCI: chosen by content, any name reads."""
    _, reader = mosfire
    classic = _simulated()
    classic.writeto(tmp_path / "primary.fits")
    header = classic[0].header.copy()
    for name in ("SCI", "IMAGE"):
        primary = fits.Header([c for c in header.cards if c.keyword not in ("CTYPE1", "CD1_1")])
        structure = ("SIMPLE", "BITPIX", "NAXIS", "NAXIS1", "NAXIS2", "EXTEND")
        cards = [c for c in header.cards if c.keyword not in structure]
        ext = fits.ImageHDU(classic[0].data, fits.Header(cards), name=name)
        ext.header["BUNIT"] = "ADU"
        fits.HDUList([fits.PrimaryHDU(header=primary), ext, *classic[1:]]).writeto(
            tmp_path / f"{name}.fits"
        )
        a, b = reader.read(tmp_path / "primary.fits"), reader.read(tmp_path / f"{name}.fits")
        assert np.array_equal(a.data, b.data) and np.array_equal(a.gain, b.gain)
        assert b.header["CTYPE1"] == "RA---TAN" and b.header["CD1_1"] == pytest.approx(
            header["CD1_1"], rel=1e-12
        )
        assert reader.header(tmp_path / f"{name}.fits")["EXPTOT"] == pytest.approx(30.0)


@pytest.mark.parametrize(
    "numreads, rdnoise", [(1, 21.0), (4, 10.8), (8, 7.7), (16, 5.8), (32, 4.2), (64, 3.5)]
)
def test_read_noise_by_numreads(mosfire, tmp_path, numreads, rdnoise):
    _, reader = mosfire
    hdul = _simulated()
    hdul[0].header["NUMREADS"] = numreads
    hdul.writeto(tmp_path / "f.fits")
    assert float(reader.read(tmp_path / "f.fits").rdnoise) == pytest.approx(rdnoise)


@pytest.mark.parametrize(
    "key, value, message",
    [("NUMREADS", 12, "NUMREADS=12"), ("SYSGAIN", None, "SYSGAIN"), ("TRUITIME", None, "TRUITIME")],
)
def test_missing_values_fail_in_one_line(mosfire, tmp_path, key, value, message):
    _, reader = mosfire
    hdul = _simulated()
    if value is None:
        del hdul[0].header[key]
    else:
        hdul[0].header[key] = value
    hdul.writeto(tmp_path / "f.fits")
    with pytest.raises(ReaderError, match=message) as err:
        reader.read(tmp_path / "f.fits")
    assert "\n" not in str(err.value)


def test_frame_types_of_the_spec(mosfire):
    instrument, _ = mosfire
    base = _simulated()[0].header
    cases = {
        "SCIENCE": {},
        "DARK": {"FILTER": "Dark"},
        "FLAT": {"OBJECT": "Dome flat Ks"},
        "SPEC": {"GRATMODE": "spectroscopy"},
        "BAD": {"MASKNAME": "closed"},
    }
    cases_more = [
        ("SPEC", {"PWSTATA7": 1}),  # an arc lamp on (PypeIt)
        ("BAD", {"PONAME": "MIRA"}),
        ("BAD", {"GRATMODE": "Moving"}),  # a mechanism moving
        ("UNKNOWN", {"MASKNAME": "long2pos"}),  # imaging through a mask: not science
    ]
    for want, changes in [*cases.items(), *cases_more]:
        header = base.copy()
        header.update(changes)
        header["EXPTOT"] = 30.0
        assert classify(header, instrument, 30.0)[0] == want, changes


@pytest.mark.skipif(not MASKS.is_dir(), reason=f"shared data not found at {MASKS}")
def test_reference_static_mask_fits_the_reader_output(mosfire, tmp_path):
    instrument, reader = mosfire
    with fits.open(MASKS / f"{instrument.static_mask}") as hdul:
        mask = next(h.data for h in hdul if h.data is not None)
    _simulated().writeto(tmp_path / "f.fits")
    image = reader.read(tmp_path / "f.fits")
    assert mask.shape == image.data.shape == (2048, 2048)
    # the reference masks the reference-pixel border too (10.7 % of the array in all)
    assert (mask[:4] != 0).all() and (mask[-4:] != 0).all() and (mask[:, :4] != 0).all()
    assert (mask[:, -2:] != 0).all()  # (its right border: 2 columns whole, 2 in part)
    assert (mask != 0).mean() == pytest.approx(0.107, abs=0.001)

"""Flamingos-2 reader, classification and simulator against the real raw files.

``shared/data/real_raw/f2``: 11 real raw headers (opencadc/gem2caom2) and their RECONSTRUCTED
files (real headers, synthetic pixels: 1000 ADU everywhere, F2 having no overscan — the README's
1000 + 10·k with k = 0); ``shared/data/f2_darks``: six real 2013 darks with their real pixels.
"""

from __future__ import annotations

import bz2
import io
import re
from pathlib import Path

import numpy as np
import pytest
from astropy.io import fits
from astropy.time import Time
from astropy.wcs import WCS

from potpyri.instruments import get_reader
from potpyri.instruments.base import ReaderError
from potpyri.instruments.classify import classify
from potpyri.instruments.pointing import pointing_wcs
from potpyri.instruments.timing import frame_mjd
from potpyri.sim.night import simulate_night
from tests.conftest import SHARED, compose_config

REAL = SHARED / "data" / "real_raw" / "f2"
RECONSTRUCTED = sorted((REAL / "reconstructed").glob("*.RECONSTRUCTED.fits.gz"))
DARKS = sorted((SHARED / "data" / "f2_darks").glob("*.fits.gz"))
needs_real = pytest.mark.skipif(not RECONSTRUCTED, reason=f"shared data not found at {REAL}")
needs_darks = pytest.mark.skipif(not DARKS, reason="shared data not found at shared/data/f2_darks")

#: Spec 3.4 (frame types, with the traps) for each real file.
EXPECTED = {
    "S20141130S0001": "DARK",  # OBSTYPE=OBJECT with FILTER2=DK_G0807 (dayCal)
    "S20150101S0261": "SCIENCE",
    "S20150103S0144": "DARK",  # JH grism + long slit in the beam, GRORDER=1
    "S20150113S0186": "UNKNOWN",  # lamp-off GCAL flat (GCALSHUT=CLOSED): set aside
    "S20150622S0011": "SPEC",  # MOS science with the R3K grism, GRORDER=0
    "S20170905S0318": "SCIENCE",
    "S20191214S0301": "DARK",  # GRISM=DK_G5804
    "S20210522S0033": "SCIENCE",
    "S20220912S0299": "FLAT",  # lamp-on GCAL flat, CTYPE1='?'
    "S20221115S0124": "SCIENCE",  # CTYPE2='?'
    "S20230301S0170": "SCIENCE",  # CTYPE2='?3'
}


@pytest.fixture
def f2():
    instrument = compose_config("instrument=f2", "data_path=/x").instrument
    return instrument, get_reader(instrument.reader)(instrument)


def _stem(path: Path) -> str:
    return path.name.split(".")[0]


@needs_real
def test_every_reconstructed_file_reads_at_its_level_with_the_raw_wcs(f2):
    _, reader = f2
    assert {_stem(p) for p in RECONSTRUCTED} == set(EXPECTED)
    for path in RECONSTRUCTED:
        image = reader.read(path)
        assert image.data.shape == (2048, 2048) and image.data.dtype == np.float32
        # one array, no overscan: every pixel at the written 1000 ADU
        assert image.data.min() == image.data.max() == 1000.0, path.name
        raw = fits.getheader(path, 1)
        assert raw["NAXIS"] == 3 and raw["NAXIS3"] == 1 and "EXTNAME" not in raw
        # the mosaic WCS is the extension's (no offset: one array), CTYPE repaired, 2 axes
        wcs = WCS(image.header)
        assert wcs.naxis == 2 and list(wcs.wcs.ctype) == ["RA---TAN", "DEC--TAN"]
        assert wcs.wcs.crpix.tolist() == [raw["CRPIX1"], raw["CRPIX2"]]
        assert np.allclose(wcs.wcs.cd, [[raw["CD1_1"], raw["CD1_2"]], [raw["CD2_1"], raw["CD2_2"]]])
        assert "CD3_3" not in image.header and "WCSSRC" not in image.header


@needs_real
def test_corrupted_ctypes_are_the_three_the_spec_lists():
    bad = {}
    for path in RECONSTRUCTED:
        head = fits.getheader(path, 1)
        bad.update({f"{_stem(path)} {k}": head[k] for k in ("CTYPE1", "CTYPE2") if "?" in head[k]})
    assert bad == {
        "S20220912S0299 CTYPE1": "?",
        "S20221115S0124 CTYPE2": "?",
        "S20230301S0170 CTYPE2": "?3",
    }


@needs_real
def test_every_real_file_is_classified_as_the_spec_says(f2):
    instrument, reader = f2
    for path in RECONSTRUCTED:
        header = reader.header(path)
        kind, _ = classify(header, instrument, float(header["EXPTIME"]))
        assert kind == EXPECTED[_stem(path)], path.name


@needs_real
def test_gain_and_read_noise_follow_lnrs_not_the_header_rdnoise(f2, tmp_path):
    instrument, reader = f2
    path = REAL / "reconstructed" / "S20221115S0124.RECONSTRUCTED.fits.gz"
    image = reader.read(path)
    assert fits.getheader(path)["RDNOISE"] == 0.0 and fits.getheader(path)["LNRS"] == 1
    assert float(image.gain) == pytest.approx(4.44, abs=1e-6)
    assert float(image.rdnoise) == pytest.approx(11.7, abs=1e-6)
    # Dark read mode (LNRS=8, as S20150625S0077): 4.44/8 e-/ADU, 5.0 e- (DRAGONS)
    with fits.open(path) as hdul:
        hdul[0].header["LNRS"] = 8
        hdul.writeto(tmp_path / "dark_mode.fits")
    image = reader.read(tmp_path / "dark_mode.fits")
    assert float(image.gain) == pytest.approx(0.555, abs=1e-6)
    assert float(image.rdnoise) == pytest.approx(5.0, abs=1e-6)
    # no read noise for an LNRS the table lacks; no gain without GAIN: one line each
    for key, value, message in (("LNRS", 3, "LNRS=3"), ("GAIN", None, "GAIN")):
        with fits.open(path) as hdul:
            if value is None:
                del hdul[0].header[key]
            else:
                hdul[0].header[key] = value
            hdul.writeto(tmp_path / f"{key}.fits")
        with pytest.raises(ReaderError, match=message) as err:
            reader.read(tmp_path / f"{key}.fits")
        assert "\n" not in str(err.value)


@needs_real
def test_start_time_from_date_and_utstart_not_the_rounded_mjd_obs(f2):
    instrument, reader = f2
    kw = instrument.keywords
    off = []
    for path in RECONSTRUCTED:
        header = reader.header(path)
        mjd = frame_mjd(header, kw.mjd, kw.time)
        start = Time(f"{header['DATE-OBS']}T{header['UTSTART']}", scale="utc").mjd
        assert abs(mjd - start) * 86400 < 0.01
        off.append(abs(mjd - header["MJD-OBS"]) * 1440)
    # MJD-OBS is float32 (1/256 d steps) and off by up to two hours in these files
    assert max(off) > 100.0


@needs_real
def test_pointing_wcs_from_pa_matches_the_real_cd_matrices(f2):
    """The fallback WCS (PA + 90, flip_x) reproduces every real science/spectroscopic header."""
    instrument, reader = f2
    checked = 0
    for path in RECONSTRUCTED:
        header = reader.header(path)
        if EXPECTED[_stem(path)] not in ("SCIENCE", "SPEC"):  # calibrations: PA not the sky's
            continue
        raw = fits.getheader(path, 1)
        cards = pointing_wcs(header, instrument.pointing, (2048, 2048), 0.1792)
        cd = np.array([[cards["CD1_1"], cards["CD1_2"]], [cards["CD2_1"], cards["CD2_2"]]])
        real = np.array([[raw["CD1_1"], raw["CD1_2"]], [raw["CD2_1"], raw["CD2_2"]]])
        # within 1% of the scale (pixscale 0.1792 vs the header's ~0.179; PA rounding)
        assert np.abs(cd - real).max() < 0.01 * np.abs(real).max() * np.sqrt(2), path.name
        checked += 1
    assert checked == 6


@needs_darks
def test_real_darks_keep_their_int32_pixels(f2):
    instrument, reader = f2
    for path in DARKS:
        with fits.open(path) as hdul:
            raw = hdul[1].data
            assert raw.dtype == np.dtype(">i4") and raw.shape == (1, 2048, 2048)
        image = reader.read(path)
        assert np.array_equal(image.data, raw[0].astype(np.float32))
        assert 30 <= np.median(image.data) <= 36  # reset-subtracted: no bias level to remove
        assert image.data.max() > 65535 and image.data.min() < 0  # beyond 16 bits, negative
        assert float(image.gain) == pytest.approx(4.44) and float(image.rdnoise) == pytest.approx(
            11.7
        )
        header = reader.header(path)
        assert classify(header, instrument, float(header["EXPTIME"]))[0] == "DARK"


def _real_keywords() -> tuple[set[str], set[str]]:
    """Keywords of the primary and of extension 1 over all real raw header dumps."""
    keys: tuple[set[str], set[str]] = (set(), set())
    for path in sorted((REAL / "reconstructed").glob("*.raw_header.txt")):
        hdu = -1
        for line in path.read_text().splitlines():
            match = re.match(r"--- HDU (\d+) ---", line)
            if match:
                hdu = int(match.group(1))
            elif hdu in (0, 1) and len(line) > 8 and line[8:10] == "= ":
                keys[hdu].add(line[:8].strip())
    return keys


@needs_real
def test_simulated_file_has_the_real_layout_and_keyword_set(tmp_path, f2):
    instrument, reader = f2
    night = simulate_night("f2", tmp_path, seed=3, frames=1, bands=["J"])
    primary_real, ext_real = _real_keywords()
    read = {
        "OBJECT", "EXPTIME", "FILTER", "DATE-OBS", "UTSTART", "GAIN", "LNRS", "RA", "DEC", "PA",
        "INSTRUME", "OBSTYPE", "OBSCLASS", "GRISM", "DECKER", "MASKNAME", "FILTER1", "FILTER2",
        "RAWGEMQA",
    }  # fmt: skip
    assert read <= primary_real
    for path in night.raw_files:
        with fits.open(io.BytesIO(bz2.decompress(path.read_bytes()))) as hdul:
            assert len(hdul) == 2 and hdul[0].data is None
            ext = hdul[1]
            assert ext.header["BITPIX"] == 32 and ext.data.ndim == 3 and ext.data.shape[0] == 1
            assert "EXTNAME" not in ext.header and ext.header["EXTVER"] == 1
            primary_keys = {k for k in hdul[0].header if k not in ("", "COMMENT")}
            ext_keys = {k for k in ext.header if k not in ("", "COMMENT")}
            assert primary_keys <= primary_real, sorted(primary_keys - primary_real)
            assert ext_keys <= ext_real, sorted(ext_keys - ext_real)
            assert read <= primary_keys, sorted(read - primary_keys)
            assert {"CTYPE1", "CTYPE2", "CRPIX1", "CRPIX2", "CD1_1", "CD2_2"} <= ext_keys
        assert reader.read(path).data.shape == ext.data.shape[1:]

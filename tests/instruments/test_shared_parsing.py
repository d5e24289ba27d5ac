"""The shared pieces every reader builds on: sections with read-out direction, exposure start
times, frame-type rules and the starting WCS from pointing keywords."""

from __future__ import annotations

import numpy as np
import pytest
from astropy.io import fits
from astropy.wcs import WCS
from omegaconf import OmegaConf

from potpyri.instruments.classify import _matches as _matches_node
from potpyri.instruments.pointing import NoPointing, has_celestial_wcs, pointing_wcs, sky_angle
from potpyri.instruments.schema import Pointing, Rule
from potpyri.instruments.sections import read_section
from potpyri.instruments.timing import frame_mjd


def test_reversed_sections_set_the_flips_and_keep_ascending_slices():
    forward = read_section("[1:512,1:2048]")
    assert (forward.cols, forward.rows) == (slice(0, 512), slice(0, 2048))
    assert not (forward.flip_x or forward.flip_y)
    # LRIS amplifiers 2 and 4 write DETSEC high-to-low; Mark4 writes a -1 step
    for text in ("[1024:513,1:2048]", "[1024:513:-1,1:2048]"):
        section = read_section(text)
        assert section.cols == slice(512, 1024) and section.flip_x and not section.flip_y
    assert read_section("[1:10,20:11]").flip_y
    assert read_section("[1:2048,1:4096]").binned(2, 2).shape == (2048, 1024)


def test_oriented_mirrors_the_block_the_way_the_section_runs():
    block = np.arange(6).reshape(2, 3)
    assert (read_section("[3:1,1:2]").oriented(block) == block[:, ::-1]).all()
    assert (read_section("[1:3,2:1]").oriented(block) == block[::-1, :]).all()


def _matches(header: fits.Header, rule: Rule) -> bool:
    return _matches_node(header, OmegaConf.structured(rule))  # rules reach classify as config


@pytest.mark.parametrize("text", ["[1:10]", "[a:b,1:2]", "[1:10:2,1:5]", ""])
def test_malformed_sections_are_one_line_errors(text):
    with pytest.raises(ValueError, match="malformed FITS section"):
        read_section(text)


@pytest.mark.parametrize(
    ("cards", "mjd_keyword", "time_keyword", "expected"),
    [
        ({"MJD-OBS": 60480.25}, "MJD-OBS", "", 60480.25),
        ({"MJD-OBS": "60480.25"}, "MJD-OBS", "", 60480.25),  # LRIS writes it as text
        ({"DATE-OBS": "2024-06-21", "UTSTART": "06:00:00"}, "DATE-OBS", "UTSTART", 60482.25),
        ({"DATE-OBS": "2024-06-21T12:00:00"}, "DATE-OBS", "UTSTART", 60482.5),
        ({"DATE-OBS": "2024-06-21"}, "DATE-OBS", "", 60482.0),
        ({}, "MJD-OBS", "", None),
        ({"DATE-OBS": "yesterday"}, "DATE-OBS", "", None),
    ],
)
def test_frame_start_from_mjd_or_iso_date(cards, mjd_keyword, time_keyword, expected):
    mjd = frame_mjd(fits.Header(cards), mjd_keyword, time_keyword)
    assert mjd == pytest.approx(expected, abs=1e-9) if expected is not None else mjd is None


def test_rules_are_case_insensitive_regexes_with_any_and_not():
    header = fits.Header({"OBSTYPE": "Dark", "OBJECT": "Twilight flat B", "TRAPDOOR": "open"})
    assert _matches(header, Rule(keywords=["OBSTYPE"], values=["dark"]))
    assert _matches(header, Rule(keywords=["OBJECT"], values=["flat"]))
    assert not _matches(header, Rule(keywords=["OBSTYPE"], values=["^bias$"]))
    # LRIS: OBSTYPE says 'dark' on every frame; a rule must be able to look past it
    flat = Rule(
        keywords=["OBJECT"],
        values=["flat"],
        any_keywords=["TRAPDOOR", "LAMPS"],
        any_values=["open", "1"],
        not_keywords=["OBJECT"],
        not_values=["arc"],
    )
    assert _matches(header, flat)
    header["TRAPDOOR"] = "closed"
    assert not _matches(header, flat)
    header["TRAPDOOR"], header["OBJECT"] = "open", "arc flat"
    assert not _matches(header, flat)
    assert _matches(fits.Header({"A": 1}), Rule(keywords=["OBSCLASS"], values=["^$"]))
    assert not _matches(header, Rule())


@pytest.mark.parametrize(
    ("value", "unit", "is_ra", "degrees"),
    [
        ("10:30:00", "auto", True, 157.5),
        ("-05:30:00", "auto", False, -5.5),
        (157.5, "auto", True, 157.5),
        (10.5, "hourangle", True, 157.5),  # MMIRS: RA in decimal hours
        ("10 30 00", "auto", True, 157.5),
    ],
)
def test_sky_angles_in_every_header_format(value, unit, is_ra, degrees):
    assert sky_angle(value, unit, "RA", is_ra) == pytest.approx(degrees)


def test_pointing_wcs_is_centred_scaled_and_rotated():
    header = fits.Header({"RA": "10:30:00", "DEC": "+20:00:00", "ROTPOSN": 90.0})
    pointing = Pointing(position_angle="ROTPOSN", uncertainty_arcsec=120.0)
    cards = pointing_wcs(header, pointing, (200, 100), 0.25)
    assert has_celestial_wcs(cards) and cards["PNTUNC"] == 120.0
    wcs = WCS(cards)
    centre = wcs.pixel_to_world(49.5, 99.5)
    assert (centre.ra.deg, centre.dec.deg) == pytest.approx((157.5, 20.0))
    step = wcs.pixel_to_world(49.5, 100.5)
    # position angle 90: +y points east (RA grows), one pixel is 0.25 arcsec
    assert centre.separation(step).arcsec == pytest.approx(0.25, rel=1e-3)
    assert (step.ra.deg - centre.ra.deg) > 0 and abs(step.dec.deg - 20.0) < 1e-7
    # at zero angle with the default flip_x: north up, east left
    north_up = WCS(pointing_wcs(header, Pointing(), (200, 100), 0.25))
    left = north_up.pixel_to_world(48.5, 99.5)
    assert left.ra.deg > 157.5


def test_pointing_wcs_offsets_a_chip_east_and_north():
    header = fits.Header({"RA": 150.0, "DEC": 0.0})
    cards = pointing_wcs(header, Pointing(), (10, 10), 0.2, offset_arcsec=(36.0, -18.0))
    assert cards["CRVAL1"] == pytest.approx(150.01)
    assert cards["CRVAL2"] == pytest.approx(-0.005)


def test_missing_and_malformed_pointing_keywords_are_told_apart():
    with pytest.raises(NoPointing, match="no pointing keyword RA"):
        pointing_wcs(fits.Header({"DEC": 1.0}), Pointing(), (10, 10), 0.2)
    with pytest.raises(ValueError, match="RA='nowhere' is not an angle"):
        pointing_wcs(fits.Header({"RA": "nowhere", "DEC": 1.0}), Pointing(), (10, 10), 0.2)
    bad_angle = Pointing(position_angle="ROTPOSN")
    with pytest.raises(ValueError, match="ROTPOSN='up'"):
        pointing_wcs(fits.Header({"RA": 1.0, "DEC": 1.0, "ROTPOSN": "up"}), bad_angle, (9, 9), 1)


def test_a_bad_frame_names_the_keyword_that_flagged_it():
    from potpyri.instruments.classify import _describe_rule

    rule = OmegaConf.structured(
        Rule(any_keywords=["DECKER", "RAWGEMQA"], any_values=["closed", "fail"])
    )
    header = fits.Header({"DECKER": "Open", "RAWGEMQA": "FAIL"})
    assert _matches_node(header, rule)
    assert _describe_rule(header, rule) == "RAWGEMQA=FAIL"

"""The LRIS reader on the real raw files in ``../shared/data/real_raw`` (spec section 4).

Blue: seven real 2×2 frames with pixels (arcs, biases, spectra). Red Mark4: PypeIt's real geometry
headers, and the derived file with those cards and synthetic pixels (DSECn = 1000 + 10·n ADU, the
rest 400 ADU). Also: a simulated file has the real files' HDU layout and keyword set.
"""

from __future__ import annotations

import numpy as np
import pytest
from astropy.coordinates import SkyCoord
from astropy.io import fits
from astropy.wcs import WCS

from potpyri.instruments import get_reader
from potpyri.instruments.classify import describe
from potpyri.instruments.groups import calibration_group
from potpyri.instruments.lris import mark4_amplifiers
from potpyri.instruments.sections import read_section
from potpyri.sim.night import simulate_night
from tests.conftest import SHARED, compose_config

REAL = SHARED / "data" / "real_raw"
BLUE = REAL / "lris_blue"
pytestmark = pytest.mark.skipif(not BLUE.is_dir(), reason=f"shared data not found at {BLUE}")

ARCS = ("b150910_2033", "LB.20160109.14149")
BIASES = ("b150910_2036", "b150910_2037")
SPECTRA = ("b150910_2070", "LB.20160109.57204", "LB.20160109.58013")
#: 2×2 mosaic columns: amplifiers 1|2 meet at 512, the CCDs are 41 // 2 = 20 columns apart
#: (1024..1043), amplifiers 3|4 meet at 1556.
AMP_COLUMNS = ((0, 512), (512, 1024), (1044, 1556), (1556, 2068))
BOUNDARIES = ((511, 512), (1023, 1044), (1555, 1556))


def _path(name):
    return BLUE / f"{name}.fits.gz"


@pytest.fixture(scope="module")
def reader():
    from hydra.core.global_hydra import GlobalHydra

    GlobalHydra.instance().clear()
    instrument = compose_config("instrument=lris", "data_path=/x").instrument
    GlobalHydra.instance().clear()
    return get_reader(instrument.reader)(instrument)


def test_real_blue_layout_is_what_the_reader_expects():
    for name in (*ARCS, *BIASES, *SPECTRA):
        with fits.open(_path(name)) as hdul:
            assert hdul[0].data is None and len(hdul) == 5
            assert (hdul[0].header["PRECOL"], hdul[0].header["POSTPIX"]) == (50, 80)
            flips = []
            for hdu in hdul[1:]:
                head = hdu.header
                assert hdu.data.shape == (2048, 577)
                assert head["DATASEC"] == "[26:537,1:2048]"
                assert not {"BIASSEC", "GAIN", "RDNOISE"} & set(head)
                assert str(head["CTYPE1"]).startswith("PANE")  # no sky WCS
                flips.append(read_section(head["DETSEC"]).flip_x)
            assert flips == [False, True, False, True]


def _arc_rows(data):
    """Rows of the arc lines (the slit is lit across amplifiers 2 and 3)."""
    return np.median(data[:, 600:1000], axis=1) > 1000.0


@pytest.mark.parametrize("name", ARCS)
def test_no_step_across_amplifier_boundaries(reader, name):
    data = reader.assemble(_path(name)).data
    assert data.shape == (2048, 2068)
    rows = _arc_rows(data)
    assert rows.sum() > 50  # arc lines cross the boundaries
    for left, right in ((511, 512), (1555, 1556)):  # the two amplifiers of each CCD
        for chosen in (rows, slice(None)):  # on the arc lines, and on whole columns
            a = float(np.median(data[chosen, left - 1 : left + 1]))
            b = float(np.median(data[chosen, right : right + 2]))
            assert abs(a - b) <= 3.0, (name, left, a, b)


def test_the_arc_steps_without_mirroring(reader):
    """The check above sees a missing flip: amplifier 2 placed as stored steps by > 400 ADU."""
    data = reader.assemble(_path("b150910_2033")).data
    rows = _arc_rows(data)
    unmirrored = data.copy()
    unmirrored[:, 512:1024] = data[:, 512:1024][:, ::-1]
    a = float(np.median(unmirrored[rows, 510:512]))
    b = float(np.median(unmirrored[rows, 512:514]))
    assert b - a > 400.0, (a, b)


@pytest.mark.parametrize("name", BIASES)
def test_bias_level_is_zero_per_amplifier_after_the_postscan(reader, name):
    data = reader.assemble(_path(name)).data
    with fits.open(_path(name)) as hdul:
        raw_levels = [float(np.median(h.data[:, 25:537])) for h in hdul[1:]]
    assert all(850.0 < level < 1200.0 for level in raw_levels), raw_levels
    for lo, hi in AMP_COLUMNS:
        assert abs(float(np.median(data[:, lo:hi]))) <= 2.0, (name, lo)
        assert abs(float(np.mean(data[100:-100, lo + 5 : hi - 5]))) <= 2.0, (name, lo)


def test_gain_and_read_noise_come_from_the_amplifier_table(reader):
    image = reader.assemble(_path("b150910_2070"))
    gains = [float(np.unique(image.gain[:, lo:hi])[0]) for lo, hi in AMP_COLUMNS]
    noises = [float(np.unique(image.rdnoise[:, lo:hi])[0]) for lo, hi in AMP_COLUMNS]
    assert gains == pytest.approx([1.55, 1.56, 1.63, 1.70], abs=1e-6)
    assert noises == pytest.approx([3.9, 4.2, 3.6, 3.6], abs=1e-6)
    assert np.all(image.gain[:, 1024:1044] == 0)  # the CCD gap: read by no amplifier
    assert image.gain[:, :1024].min() > 0 and image.gain[:, 1044:].min() > 0


def test_chip_gap_is_the_files_own_gap_wcs(reader):
    """The 41-column gap of options.chip_gap.blue is the real files' "ccd2gap" pane WCS."""
    with fits.open(_path("b150910_2070")) as hdul:
        head = hdul[3].header  # first amplifier of the second CCD
        assert head["WCSNAMEG"].strip() == "ccd2gap"
        gap = head["CRVAL1G"] - head["CRVAL1D"]
    assert gap == 41.0 == reader.options.chip_gap["blue"]


def test_real_frames_are_classified_as_the_spec_says(reader):
    instrument = reader.instrument
    expected = {
        **dict.fromkeys(ARCS, "SPEC"),  # arc lamps on, grism deployed
        **dict.fromkeys(BIASES, "BIAS"),  # ELAPTIME 0, trapdoor open, grism deployed (traps)
        **dict.fromkeys(SPECTRA, "SPEC"),  # science and standard-star spectra
    }
    for name, kind in expected.items():
        header = reader.header(_path(name))
        assert header["OBSTYPE"].strip() == "dark"  # the keyword that cannot be used
        meta = describe(header, instrument)
        assert meta["type"] == kind, (name, meta)
        assert meta["amp"] == "BLUE4" and meta["binning"] == "22" and meta["filter"] == "clear"
        assert meta["time"] == f"{float(header['MJD-OBS']):.6f}"  # MJD-OBS is text
    bias = reader.header(_path(BIASES[0]))
    # Without its KOA card (a file fresh from the telescope) the bias is still a bias.
    del bias["KOAIMTYP"]
    assert describe(bias, instrument)["type"] == "BIAS"


def test_red_and_blue_frames_never_share_a_calibration_group(reader):
    with fits.open(_path(BIASES[0])) as hdul:
        hdul[0].header["INSTRUME"] = "LRIS"  # the same file as the red side would write it
        red = describe(reader.classification_header(hdul), reader.instrument)
    blue = describe(reader.header(_path(BIASES[0])), reader.instrument)
    assert (blue["amp"], red["amp"]) == ("BLUE4", "RED4")
    assert calibration_group(blue) != calibration_group(red)
    assert red["filter"] == "Clear"  # REDFILT, not BLUFILT ('clear')


def test_starting_wcs_from_the_pointing_keywords(reader):
    image = reader.read(_path("b150910_2070"))
    head = image.header
    wcs = WCS(head)
    ny, nx = image.data.shape
    centre = wcs.pixel_to_world((nx - 1) / 2, (ny - 1) / 2)
    pointing = SkyCoord("14:42:31.87", "+01:37:32.2", unit=("hourangle", "deg"))
    assert centre.separation(pointing).arcsec < 0.01
    scale = np.sqrt(abs(np.linalg.det(wcs.pixel_scale_matrix))) * 3600
    assert scale == pytest.approx(0.27, rel=1e-6)  # 0.135"/px x 2
    # +y points at the position angle ROTPOSN (16.2 deg east of north).
    up = wcs.pixel_to_world((nx - 1) / 2, (ny - 1) / 2 + 100)
    assert centre.position_angle(up).deg == pytest.approx(head["ROTPOSN"], abs=0.01)
    assert head["PNTUNC"] == 30.0 and head["WCSSRC"] == "pointing"


MARK4 = REAL / "lris_red"


@pytest.mark.skipif(not MARK4.is_dir(), reason=f"shared data not found at {MARK4}")
def test_mark4_geometry_cards_of_the_real_headers():
    four = mark4_amplifiers(fits.getheader(MARK4 / "mark4_headerL2U2L1U1_2_2.fits"), "2x2")
    assert sorted(a[0] for a in four) == ["L1", "L2", "U1", "U2"]
    by_name = {name: (rows, cols, bias) for name, rows, cols, bias in four}
    assert by_name["L2"] == (slice(0, 1032), slice(4, 1032), slice(1032, 1104))
    assert by_name["U1"] == (slice(1152, 2184), slice(1176, 2204), slice(1104, 1176))
    ((name, rows, cols, bias),) = mark4_amplifiers(
        fits.getheader(MARK4 / "mark4_headerL1_1_1.fits"), "1x1"
    )
    assert (name, rows, cols, bias) == ("L1", slice(60, 4188), slice(7, 4121), slice(4121, 4174))


DERIVED = REAL / "derived" / "LRISred_mark4_header_SYNTHETIC_pixels.fits.gz"


@pytest.mark.skipif(not DERIVED.is_file(), reason=f"shared data not found at {DERIVED}")
def test_mark4_amplifiers_at_their_known_level(reader):
    image = reader.assemble(DERIVED)
    assert image.data.shape == (4128, 4114)  # the CCD's image pixels, middle strips removed
    header = fits.getheader(DERIVED)
    for name, rows, cols, _ in mark4_amplifiers(header, "derived"):
        n = next(k[5:] for k in header if k.startswith("AMPNM") and header[k].strip() == name)
        quadrant = (
            slice(0, 2064) if rows.start == 0 else slice(2064, 4128),
            slice(0, 2057) if cols.start < 2100 else slice(2057, 4114),
        )
        assert np.all(image.data[quadrant] == 600 + 10 * int(n)), name
        assert np.all(image.gain[quadrant] == reader.options.gain["mark4"][name])


def test_simulated_blue_file_has_the_real_layout_and_keywords(tmp_path):
    result = simulate_night("lris-blue", tmp_path, seed=5, frames=1)
    science = next(
        p
        for row, p in zip(result.frames, result.raw_files, strict=True)
        if row["kind"] == "science"
    )
    with fits.open(_path("b150910_2070")) as real, fits.open(science) as sim:
        assert sim[0].data is None and real[0].data is None
        assert all(h.name.startswith("VidInp") for h in sim[1:])
        assert set(sim[0].header) <= set(real[0].header), set(sim[0].header) - set(real[0].header)
        for hdu in sim[1:]:
            assert set(hdu.header) <= set(real[1].header), set(hdu.header) - set(real[1].header)
        read = {"INSTRUME", "TARGNAME", "ELAPTIME", "BLUFILT", "REDFILT", "MJD-OBS", "BINNING"}
        read |= {"RA", "DEC", "ROTPOSN", "PRECOL", "POSTPIX", "SLITNAME", "TRAPDOOR"}
        read |= {"GRISTRAN", "GRISNAME", "GRANAME", "FLAMP1", "MERCURY"}
        assert read <= set(sim[0].header)
        assert isinstance(sim[0].header["MJD-OBS"], str)
        assert {"DETSEC", "DATASEC", "CCDSUM", "VIDEOINP"} <= set(sim[1].header)
        assert [read_section(h.header["DETSEC"]).flip_x for h in sim[1:]] == [True, False]


@pytest.mark.skipif(not MARK4.is_dir(), reason=f"shared data not found at {MARK4}")
def test_simulated_mark4_file_has_the_spec_layout(tmp_path):
    result = simulate_night("lris-red", tmp_path, seed=5, frames=1)
    with fits.open(result.raw_files[-1]) as sim:
        assert len(sim) == 1 and sim[0].data.ndim == 2
        head = sim[0].header
        real = fits.getheader(MARK4 / "mark4_headerL2U2L1U1_2_2.fits")
        for n in range(4):
            assert {f"AMPNM{n}", f"DSEC{n}", f"BSEC{n}"} <= set(head) & set(real)
            assert head[f"AMPNM{n}"] == real[f"AMPNM{n}"].strip()
        assert not {"DETSEC", "DATASEC", "BIASSEC", "GAIN", "CTYPE1", "FILTER"} & set(head)
        assert head["TAPLINES"] == 4 and head["INSTRUME"] == "LRIS"


def test_simulated_red_2009_file_reads_with_the_red_tables(reader, tmp_path):
    """Red 2009-2021 (no real file): the blue MEF code path with the red side's cards."""
    result = simulate_night("lris-red-mef", tmp_path, seed=5, frames=1)
    path = result.raw_files[-1]
    header = reader.header(path)
    assert (header["LRISDET"], header["LRISFILT"]) == ("RED4", header["REDFILT"])
    image = reader.read(path)
    assert image.data.shape == tuple(result.frames.meta["shape"])
    gains = sorted(float(g) for g in np.unique(image.gain))
    assert gains == pytest.approx([0.0, 1.162, 1.18, 1.191, 1.255])
    assert np.all(image.gain[:, 550:650] == 0)  # the 200-column gap at 2x2
    with fits.open(path) as hdul:
        # 20 post-lines and 7/80 columns (unbinned) around amplifier 2's 512 x 900 data.
        assert hdul[2].data.shape == (900 + 10, 4 + 512 + 40)

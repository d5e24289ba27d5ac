"""The GMOS reader on real GMOS raw layouts (issue 17, item 6; spec real_formats.md section 2).

``real_raw/gmos_*/reconstructed``: real raw headers (AstroData's EXTNAME/EXTVER removed) with
synthetic pixels, DATASEC = 1000 + 10·k ADU and overscan 400 ADU in image extension k (0-based, in
file order), so every amplifier reads 600 + 10·k after overscan subtraction. ``gmos_layouts``:
DRAGONS illumination masks in raw MEF form (trimmed; their CRPIX follow DRAGONS' tiling).
"""

from __future__ import annotations

import warnings

import numpy as np
import pytest
from astropy.io import fits
from astropy.time import Time
from astropy.wcs import WCS, FITSFixedWarning

from potpyri.instruments.classify import classify
from potpyri.instruments.gmos import (
    CHIP_WIDTH,
    GEOMETRY,
    GmosReader,
    image_extensions,
    mosaic_width,
)
from potpyri.instruments.sections import read_section
from potpyri.sim.formats import load_all
from potpyri.sim.formats.base import FORMATS, FrameMeta, Setup
from tests.conftest import SHARED, compose_config

REAL = SHARED / "data" / "real_raw"
RECONSTRUCTED = sorted(REAL.glob("gmos_[ns]/reconstructed/*.RECONSTRUCTED.fits.gz"))
pytestmark = pytest.mark.skipif(not REAL.is_dir(), reason=f"shared data not found at {REAL}")

_N_EEV = "EEV9273-16-03EEV9273-20-04EEV9273-20-03"
_N_E2V = "e2v 10031-23-05,10031-01-03,10031-18-04"
#: The detector (DRAGONS geometry key, spec 2.2) of each reconstructed file.
DETECTORS = {
    "N20030104S0065": _N_EEV,
    "N20030104S0161": _N_EEV,
    "N20030107S0163": _N_EEV,
    "N20150216S0129": _N_E2V,
    "N20150216S0142": _N_E2V,
    "N20150929S0013": _N_E2V,
    "S20101028S0134": "EEV2037-06-03EEV8194-19-04EEV8261-07-04",
    "S20120922S0406": "EEV2037-06-03EEV8194-19-04EEV8261-07-04",
    "S20181016S0184": "BI5-36-4k-2,BI11-33-4k-1,BI12-34-4k-1",
}
#: Frame types by the spec's table 2.4 (acquisitions, darks and partnerCal fringe frames are
#: not reduced: UNKNOWN).
TYPES = {
    "N20030104S0065": "BIAS",  # with a focus mask in the beam, no OBSCLASS (2003)
    "N20030104S0161": "FLAT",  # twilight, OBSTYPE=FLAT, no OBSCLASS (2003)
    "N20030107S0163": "SCIENCE",  # no OBSCLASS (2003)
    "N20150216S0129": "UNKNOWN",  # OBSCLASS=acq
    "N20150216S0142": "SCIENCE",
    "N20150929S0013": "UNKNOWN",  # dark (GMOS imaging uses none)
    "S20101028S0134": "SCIENCE",
    "S20120922S0406": "SCIENCE",
    "S20181016S0184": "UNKNOWN",  # partnerCal "Blank Field" fringe frame
}


@pytest.fixture(scope="module")
def instrument():
    return compose_config("instrument=gmos", "data_path=/x").instrument


@pytest.fixture(scope="module")
def full_reader(instrument):
    """The configured reader without the reference's field crop: the whole 3-CCD mosaic."""
    reader = GmosReader(instrument)
    reader.options.field_width_2x2 = {}
    return reader


def _stem(path):
    return path.name.split(".")[0]


def _origins(image):
    """Binned mosaic (x, y) of each CCD's first pixel, as the reader wrote them."""
    return [tuple(int(v) for v in image.header[f"CCDPOS{k}"].split()) for k in (1, 2, 3)]


def _placement(header, origins):
    """Binned (x0, y0) of an amplifier's data on the full mosaic, from DETSEC and its CCD's
    origin."""
    bx, by = (int(v) for v in header["CCDSUM"].split())
    det = read_section(header["DETSEC"])
    chip = det.cols.start // CHIP_WIDTH
    x0, y0 = origins[chip]
    return x0 + (det.cols.start - chip * CHIP_WIDTH) // bx, y0 + det.rows.start // by


@pytest.mark.parametrize("path", RECONSTRUCTED, ids=_stem)
def test_every_amplifier_reads_600_plus_10k_at_its_detsec_place(path, full_reader):
    image = full_reader.assemble(path)
    origins = _origins(image)
    bx, by = (int(v) for v in image.header["CCDSUM"].split())
    assert origins == GEOMETRY[DETECTORS[_stem(path)]].origins(bx, by)
    read = np.zeros(image.data.shape, bool)
    with fits.open(path) as hdul:
        extensions = image_extensions(hdul)
        assert len(extensions) == {1: 3, 2: 6, 4: 12}[hdul[0].header["NAMPS"]]
        assert all("EXTNAME" not in hdu.header for hdu in extensions)  # chosen by content
        for k, hdu in enumerate(extensions):
            x0, y0 = _placement(hdu.header, origins)
            ny, nx = read_section(hdu.header["DATASEC"]).shape
            block = image.data[y0 : y0 + ny, x0 : x0 + nx]
            assert block.shape == (ny, nx)
            assert np.all(block == 600 + 10 * k), (k, np.unique(block))
            assert np.all(image.gain[y0 : y0 + ny, x0 : x0 + nx] == float(hdu.header["GAIN"]))
            assert np.all(image.rdnoise[y0 : y0 + ny, x0 : x0 + nx] == float(hdu.header["RDNOISE"]))
            read[y0 : y0 + ny, x0 : x0 + nx] = True
    # Everything else is chip gap or the CCDs' y offsets: gain 0 (flagged bad), nothing unread.
    assert np.all(image.gain[~read] == 0)
    middle = image.data.shape[0] // 2
    assert (~read[middle]).sum() == origins[2][0] - 2 * CHIP_WIDTH // bx


@pytest.mark.parametrize("path", RECONSTRUCTED, ids=_stem)
def test_ccds_sit_where_dragons_measured_geometry_puts_them(path, full_reader):
    """Gaps of the gain map at the middle row and each CCD's first row: DRAGONS' centre-to-centre
    shifts (geometry_conf.py, spec 2.2) to the nearest binned pixel."""
    image = full_reader.assemble(path)
    bx, by = (int(v) for v in image.header["CCDSUM"].split())
    (x1, y1), _, (x3, y3) = GEOMETRY[DETECTORS[_stem(path)]].shifts_px
    row = image.gain[image.gain.shape[0] // 2] > 0
    edges = np.flatnonzero(np.diff(row.astype(int)))
    gaps = [int(b - a) for a, b in zip(edges[::2], edges[1::2], strict=True)]
    assert abs(gaps[0] - (-x1 - CHIP_WIDTH) / bx) <= 0.5
    assert abs(gaps[1] - (x3 - CHIP_WIDTH) / bx) <= 0.5 + 0.5  # both CCDs' origins rounded
    first_columns = (0, edges[1] + 1, edges[3] + 1)
    first_rows = [int(np.argmax(image.gain[:, x] > 0)) for x in first_columns]
    lowest = min(y1, 0.0, y3)
    for first, y in zip(first_rows, (y1, 0.0, y3), strict=True):
        assert abs(first - (y - lowest) / by) <= 0.5


@pytest.mark.parametrize("path", RECONSTRUCTED, ids=_stem)
def test_real_headers_classified_as_the_spec_says(path, instrument):
    header = GmosReader(instrument).header(path)
    got, _ = classify(header, instrument, float(header["EXPTIME"]))
    assert got == TYPES[_stem(path)]


def test_gcal_flat_through_a_grating_is_spectroscopy(instrument):
    """The notebook's GMOS-S B600 long-slit GCAL flat (primary + first amplifier)."""
    path = REAL / "derived" / "GMOS-S_GCALflat_hdr0_hdr1_SYNTHETIC_pixels.fits.gz"
    header = GmosReader(instrument).header(path)
    assert header["GRATING"].startswith("B600")
    assert classify(header, instrument, float(header["EXPTIME"]))[0] == "SPEC"


def _three_roi_file(tmp_path):
    """N20150929S0013 (e2v, 1×1, 6 amplifiers) read out in three regions of interest, as
    N20150217S0380 was (rows 754-1003, 1129-1378, 3731-4127; spec 2.1): 18 extensions."""
    source = REAL / "gmos_n" / "reconstructed" / "N20150929S0013.RECONSTRUCTED.fits.gz"
    rois = ((754, 1003), (1129, 1378), (3731, 4127))
    with fits.open(source) as hdul:
        primary = hdul[0].header.copy()
        amps = [(h.header.copy(), h.data.copy()) for h in hdul[1:]]
    primary["DETNROI"] = len(rois)
    hdus = [fits.PrimaryHDU(header=primary)]
    k = 0
    for y1, y2 in rois:
        for head, data in amps:
            det, dat = read_section(head["DETSEC"]), read_section(head["DATASEC"])
            bias = read_section(head["BIASSEC"])
            x = f"{det.cols.start + 1}:{det.cols.stop}"
            head["DETSEC"] = f"[{x},{y1}:{y2}]"
            ccd = read_section(head["CCDSEC"])
            head["CCDSEC"] = f"[{ccd.cols.start + 1}:{ccd.cols.stop},{y1}:{y2}]"
            ny = y2 - y1 + 1
            head["DATASEC"] = f"[{dat.cols.start + 1}:{dat.cols.stop},1:{ny}]"
            head["BIASSEC"] = f"[{bias.cols.start + 1}:{bias.cols.stop},1:{ny}]"
            block = np.full((ny, data.shape[1]), 400, np.uint16)
            block[:, dat.cols] = 1000 + 10 * k
            hdus.append(fits.ImageHDU(block, header=head))
            k += 1
    path = tmp_path / "N20150217S0380.fits"
    fits.HDUList(hdus).writeto(path)
    return path, rois


def test_three_readout_regions_each_at_its_rows(tmp_path, full_reader):
    path, rois = _three_roi_file(tmp_path)
    with fits.open(path) as hdul:
        assert len(hdul) == 19 and all("EXTNAME" not in h.header for h in hdul[1:])
        headers = [h.header for h in image_extensions(hdul)]
    image = full_reader.assemble(path)
    origins = _origins(image)
    rows = rois[-1][1] + max(y for _, y in origins)
    assert image.data.shape == (rows, mosaic_width(GEOMETRY[_N_E2V], 1))
    for k, head in enumerate(headers):
        x0, y0 = _placement(head, origins)
        ny, nx = read_section(head["DATASEC"]).shape
        assert np.all(image.data[y0 : y0 + ny, x0 : x0 + nx] == 600 + 10 * k)
    for x0, y0 in origins:  # rows between the regions: not read
        covered = np.zeros(image.data.shape[0], bool)
        for y1, y2 in rois:
            covered[y0 + y1 - 1 : y0 + y2] = True
        column = image.gain[:, x0 + 1]
        assert np.all(column[~covered] == 0) and np.all(column[covered] > 0)


def test_extension_order_is_not_detector_order(full_reader):
    """e2v DD: the right amplifier of each CCD comes first in the file (spec 2.2)."""
    path = REAL / "gmos_n" / "reconstructed" / "N20150216S0142.RECONSTRUCTED.fits.gz"
    with fits.open(path) as hdul:
        starts = [read_section(h.header["DETSEC"]).cols.start for h in image_extensions(hdul)]
    assert starts == [1024, 0, 3072, 2048, 4096, 5120]
    image = full_reader.assemble(path)
    assert image.data[10, 0] == 610 and image.data[10, 600] == 600  # ext 2 left of ext 1


# -- the mosaic's sky WCS against the per-extension WCS of the real headers ----------------------


def _wcs(header):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", FITSFixedWarning)
        return WCS(header)


def _offsets_from_own_wcs(path, reader, where):
    """Per CCD 1 and 3: binned (x, y) of where the reader put the CCD minus where the CCD's own
    header WCS and the mosaic's WCS (CCD 2's) put it, at ``where``: "pointing" (the CCD's CRPIX:
    every extension shares CRVAL) or "gap" (the CCD's middle row, at its column next to the gap,
    the least extrapolated: the header CD matrices differ from CCD to CCD by 0.2-2.4 % in scale,
    so their placement depends on where it is evaluated)."""
    image = reader.assemble(path)
    mosaic = _wcs(image.header)
    origins = _origins(image)
    offsets = []
    with fits.open(path) as hdul:
        for chip in (0, 2):
            amps = [
                h
                for h in image_extensions(hdul)
                if read_section(h.header["DETSEC"]).cols.start // CHIP_WIDTH == chip
            ]
            hdu = amps[-1] if chip == 0 else amps[0]  # the amplifier next to the gap
            data = read_section(hdu.header["DATASEC"])
            trimmed = hdu.data.shape[1] == data.shape[1]
            first = (0, 0) if trimmed else (data.cols.start, data.rows.start)
            if where == "pointing":
                pixel = (hdu.header["CRPIX1"] - 1, hdu.header["CRPIX2"] - 1)
            else:
                column = data.shape[1] - 1 if chip == 0 else 0
                pixel = (first[0] + column, first[1] + data.shape[0] / 2)
            x, y = mosaic.world_to_pixel_values(*_wcs(hdu.header).pixel_to_world_values(*pixel))
            x0, y0 = _placement(hdu.header, origins)
            offsets.append((x0 + pixel[0] - first[0] - x, y0 + pixel[1] - first[1] - y))
    return offsets


#: Real raw headers with a sky WCS, but the 2003 GMOS-N EEV ones: their CCD-3 WCS puts that CCD
#: 15-18 binned pixels away from DRAGONS' geometry and from every later header of that detector.
WCS_FILES = [
    p for p in RECONSTRUCTED if not _stem(p).startswith("N2003") and _stem(p) != "N20150929S0013"
]
#: GMOS-S EEV: the real headers whose per-CCD WCS are consistent with each other in scale
#: (0.3 %). The GMOS-N headers carry the same CRPIX for EEV, e2v and Hamamatsu detectors (a
#: nominal model, not the detector), S20181016S0184's CCDs 1 and 3 a scale 2.4 % off CCD 2's.
CONSISTENT_WCS_FILES = [
    p for p in WCS_FILES if _stem(p).startswith("S201") and "S2018" not in p.name
]


@pytest.mark.parametrize("path", WCS_FILES, ids=_stem)
def test_ccd_2_carries_the_mosaic_wcs(path, full_reader):
    image = full_reader.assemble(path)
    mosaic = _wcs(image.header)
    origins = _origins(image)
    with fits.open(path) as hdul:
        for hdu in image_extensions(hdul):
            if read_section(hdu.header["DETSEC"]).cols.start // CHIP_WIDTH != 1:
                continue
            data = read_section(hdu.header["DATASEC"])
            x0, y0 = _placement(hdu.header, origins)
            for column in (0, data.shape[1] - 1):
                pixel = (data.cols.start + column, data.rows.start + data.shape[0] / 2)
                sky = _wcs(hdu.header).pixel_to_world_values(*pixel)
                x, y = mosaic.world_to_pixel_values(*sky)
                assert abs(x - x0 - column) <= 0.01 and abs(y - y0 - data.shape[0] / 2) <= 0.01


@pytest.mark.parametrize("path", CONSISTENT_WCS_FILES, ids=_stem)
def test_ccds_1_and_3_sit_where_their_own_wcs_puts_them(path, full_reader):
    """At the pointing (each CCD's CRPIX) to 1 binned pixel, in x and y."""
    for dx, dy in _offsets_from_own_wcs(path, full_reader, "pointing"):
        assert abs(dx) <= 1.0 and abs(dy) <= 1.0, (dx, dy)


@pytest.mark.parametrize("path", WCS_FILES, ids=_stem)
def test_ccds_1_and_3_next_to_the_gap_within_2_pixels_of_any_header(path, full_reader):
    """Where every header's WCS is least extrapolated (next to the gap) they all agree with
    DRAGONS' geometry to 2 binned pixels, including the inconsistent ones."""
    for dx, dy in _offsets_from_own_wcs(path, full_reader, "gap"):
        assert abs(dx) <= 2.0 and abs(dy) <= 2.0, (dx, dy)


# -- the simulator writes the real layout -------------------------------------------------------


def _simulated(fmt, variant):
    load_all()
    raw_format = FORMATS[fmt]()
    setup = Setup(binning=(2, 2), size="full", variant=variant)
    meta = FrameMeta(
        "science", 1, "M51", "r", 60.0, Time("2015-02-16T14:00:00"), ra=202.5, dec=47.2
    )
    electrons = np.zeros(raw_format.geometry(setup).shape)
    return raw_format.readout(electrons, meta, setup, np.random.default_rng(0))


@pytest.mark.parametrize(
    ("fmt", "variant", "real"),
    [
        ("gmos-n", "e2v", "gmos_n/reconstructed/N20150216S0142"),
        ("gmos-s", "eev", "gmos_s/reconstructed/S20120922S0406"),
        ("gmos-s", "ham", "gmos_s/reconstructed/S20181016S0184"),
    ],
)
def test_simulated_file_has_the_real_layout_and_keyword_set(
    fmt, variant, real, instrument, tmp_path
):
    with fits.open(REAL / f"{real}.RECONSTRUCTED.fits.gz") as hdul:
        real_hdus = [(h.header.copy(), h.data is not None) for h in hdul]
    simulated = _simulated(fmt, variant)
    assert len(simulated) == len(real_hdus)
    assert simulated[0].data is None and not real_hdus[0][1]
    # No keyword the real files lack; every keyword the pipeline reads from them.
    assert set(simulated[0].header) <= set(real_hdus[0][0])
    for (theirs, _), ours in zip(real_hdus[1:], simulated[1:], strict=True):
        assert "EXTNAME" not in ours.header and "EXTVER" not in ours.header
        assert set(ours.header) <= set(theirs), set(ours.header) - set(theirs)
        for key in ("DETSEC", "CCDSEC", "CCDSUM", "DATASEC", "BIASSEC"):
            assert ours.header[key] == theirs[key], key
        assert ours.data.shape == (theirs["NAXIS2"], theirs["NAXIS1"])
        for key in ("GAIN", "RDNOISE", "MJD-OBS", "CRPIX1", "CD1_1", "AMPNAME"):
            assert key in ours.header
    kw = instrument.keywords
    for key in (kw.target, kw.exptime, kw.filter, kw.mjd, kw.time, kw.amp, "DETID", "DETTYPE"):
        assert key in simulated[0].header and key in real_hdus[0][0], key
    for rule in ("science", "flat", "bias", "spec", "bad"):
        for key in instrument.classify[rule].keywords:
            assert key in simulated[0].header, (rule, key)
    # The simulated file goes through the same reader: its mosaic is the format's geometry.
    setup = Setup(binning=(2, 2), size="full", variant=variant)
    simulated.writeto(tmp_path / "simulated.fits")
    image = GmosReader(instrument).assemble(tmp_path / "simulated.fits")
    assert image.data.shape == FORMATS[fmt]().geometry(setup).shape
    assert GmosReader(instrument).header(tmp_path / "simulated.fits")["INSTRUME"] == fmt.upper()

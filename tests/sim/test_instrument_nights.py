"""A small simulated night for every instrument: files as the archive delivers them, amplifier
regions that add up, and classification keywords the reference's rules sort correctly."""

from __future__ import annotations

import fnmatch
import json

import numpy as np
import pytest
from astropy.io import fits

from potpyri.instruments import get_reader
from potpyri.instruments.classify import classify
from potpyri.instruments.sections import parse_section
from potpyri.sim.formats.base import FORMATS, Setup
from potpyri.sim.night import simulate_night
from tests.conftest import SHARED, compose_config

SPEC = SHARED / "spec"
#: format -> (reference instrument, expected (first HDU with data, image count) per file)
INSTRUMENTS = {
    "gmos-n": "GMOS",
    "gmos-s": "GMOS",
    "lris-red": "LRIS",
    "lris-blue": "LRIS",
    "lris-red-mef": "LRIS",
    "deimos": "DEIMOS",
    "binospec": "BINOSPEC",
    "imacs": "IMACS",
    "f2": "F2",
    "mmirs": "MMIRS",
    "mosfire": "MOSFIRE",
    "fourstar": "FOURSTAR",
}
#: What the reference's keyword rules make of each kind of frame. Where an instrument's rules
#: cannot recognise a kind, the closest honest outcome is listed (and said in its format module).
EXPECTED = {
    "bias": "BIAS",
    "dark": "DARK",
    "flat": "FLAT",
    "science": "SCIENCE",
    "spectrum": "SPEC",
    "acquisition": "UNKNOWN",
    "bad": "BAD",
    "short": "BAD",
}
EXCEPTIONS = {
    ("imacs", "bad"): "SCIENCE",  # IMACS has no bad-frame keyword (spec §9.4)
    ("fourstar", "bad"): "SCIENCE",  # nor FourStar (spec §10.4)
    ("fourstar", "spectrum"): "UNKNOWN",  # no spectroscopy: simulated as a focus frame
}
#: Formats whose real files have no DETSEC/CCDSUM in every image HDU (their layout is tested in
#: tests/instruments/test_<instrument>_real.py).
NO_DETSEC = {"imacs", "fourstar", "binospec", "deimos", "mmirs", "f2", "mosfire"}
#: Gain and read-noise keywords where they are not GAIN/RDNOISE.
NOISE_KEYWORDS = {"imacs": ("EGAIN", "ENOISE")}
#: Formats that read whole CCDs of which the reference keeps a field.
WHOLE_CCDS_READ = {"binospec"}
#: (LRIS: the reference's masks are in its own mosaics, 111/200-column CCD gaps and a cropped
#: Mark4 field; potpyri's blue mosaic has the real 41-column gap and Mark4 the whole CCD.)
STATIC_MASKS = {
    "binospec": "binospec.11",
    "mmirs": "MMIRS",
    "mosfire": "mosfire.11",
    "f2": "f2.11",
}


@pytest.fixture(scope="module", params=sorted(INSTRUMENTS))
def night(request, tmp_path_factory):
    fmt = request.param
    return fmt, simulate_night(fmt, tmp_path_factory.mktemp(fmt), seed=11, frames=2)


@pytest.mark.skipif(
    not (SPEC / "raw_formats.json").is_file(), reason=f"shared data not found at {SPEC}"
)
def test_names_match_the_reference_raw_format(night):
    fmt, result = night
    globs = json.loads((SPEC / "raw_formats.json").read_text())[INSTRUMENTS[fmt]]
    pattern = globs["raw_format(proc=None)"]
    names = [p.name for p in result.raw_files]
    assert all(fnmatch.fnmatch(n, pattern) for n in names), (pattern, names[:3])
    assert len(set(names)) == len(names)
    suffix = {".bz2": b"BZh", ".gz": b"\x1f\x8b", ".fits": b"SIMPLE"}
    for path in result.raw_files[:3]:
        magic = suffix[path.suffix if path.suffix != ".fits" else ".fits"]
        assert path.read_bytes()[: len(magic)] == magic


def test_amplifier_regions_add_up(night):
    fmt, result = night
    raw_format = FORMATS[fmt]()
    shape = tuple(result.frames.meta["shape"])
    with fits.open(result.raw_files[-1]) as hdul:
        images = [h for h in hdul if h.data is not None and h.is_image]  # MOSFIRE: CSU tables
        if fmt == "mmirs":  # ext 2 is the first read of the same pixels as ext 1 (the last)
            images = images[:1]
        assert images, "no image data"
        area = 0
        if fmt == "lris-red":  # Mark4: one HDU, its amplifiers in DSECn cards (spec 4.2)
            head, images = images[0].header, []
            area = sum(
                np.prod([s.stop - s.start for s in parse_section(head[key])])
                for key in head
                if key.startswith("DSEC")
            )
        for hdu in images:
            data = hdu.data[0] if hdu.data.ndim == 3 else hdu.data
            rows, cols = (
                parse_section(hdu.header["DATASEC"])
                if "DATASEC" in hdu.header
                else (slice(None), slice(None))
            )
            block = data[rows, cols]
            area += block.size
            if "BIASSEC" in hdu.header:
                overscan = data[parse_section(hdu.header["BIASSEC"])]
                # The overscan holds the bias level and read noise only.
                gain_key, noise_key = NOISE_KEYWORDS.get(fmt, ("GAIN", "RDNOISE"))
                gain, noise = float(hdu.header[gain_key]), float(hdu.header[noise_key])
                assert abs(np.std(overscan) - noise / gain) < 0.2 * noise / gain + 0.5
            if fmt not in NO_DETSEC:
                assert "CCDSUM" in hdu.header and "DETSEC" in hdu.header
    sensitive = shape[0] * shape[1]
    if fmt.startswith("gmos") or fmt in WHOLE_CCDS_READ:  # the reference keeps a field
        assert area >= sensitive * 0.99
    elif fmt != "imacs":  # (IMACS: one chip per file)
        assert 0.9 * sensitive <= area <= sensitive * 1.0001
    assert raw_format.geometry(raw_format.default_setup).shape == shape


def test_classification_by_the_reference_rules(night):
    fmt, result = night
    instrument = compose_config(f"instrument={FORMATS[fmt].instrument}", "data_path=/x").instrument
    reader = get_reader(instrument.reader)(instrument)  # its classification header and options
    kinds = set()
    for row, path in zip(result.frames, result.raw_files, strict=True):
        header = reader.header(path)
        exptime = float(header.get(instrument.keywords.exptime, "nan"))
        got, _ = classify(header, instrument, exptime)
        want = EXCEPTIONS.get((fmt, row["kind"]), EXPECTED[row["kind"]])
        assert got == want, (path.name, row["kind"], got)
        kinds.add(row["kind"])
    assert {"science", "spectrum", "acquisition", "bad", "short"} <= kinds


STATIC_MASK_DIR = SHARED / "data" / "potpyri_reference" / "staticmasks"


@pytest.mark.skipif(
    not STATIC_MASK_DIR.is_dir(), reason=f"shared data not found at {STATIC_MASK_DIR}"
)
def test_full_size_matches_the_reference_static_mask():
    masks = STATIC_MASK_DIR
    for fmt, name in STATIC_MASKS.items():
        with fits.open(masks / f"{name}.staticmask.fits.fz") as hdul:
            shape = next(h.data.shape for h in hdul if h.data is not None)
        assert FORMATS[fmt]().geometry(Setup(binning=(1, 1), size="full")).shape == shape, fmt

"""Issue 18, items 8 and 12: a satellite trail is a narrow line of light crossing the illuminated
area, found wherever the simulator drew one and nowhere else.

Item 8: on the real Lick Nickel night the detector took the CTE ramp by the overscan (columns
1012-1021, up to ~200 ADU above the sky, next to the masked columns 1022-1023) and the bright
last row for trails on 5 of 6 frames. Item 12: the demo night's own trail (N20240618S0021) must
be found and masked, as must every simulated trail; frames without one get none.
"""

from __future__ import annotations

import shutil

import numpy as np
import pytest
from astropy.io import fits
from astropy.table import Table
from potpyri.steps.satellites import Satellites

from potpyri.calibration.masks import BAD
from potpyri.calibration.trails import find_trails, trail_pixels
from potpyri.pipeline import run_pipeline, validate
from potpyri.sim.night import expected_image, simulate_night
from potpyri.sim.scene import trail_image
from tests.conftest import compose_config
from tests.faults.ledger import watch
from tests.pixels.trail_truth import FOOTPRINT_SIGMA, check_trails, step_products

#: The chain the satellites step runs in (the default recipe's order).
CHAIN = "pipeline.steps=[ingest,bias,dark,flat,process,cosmic_rays,satellites]"

item8 = pytest.mark.fault("silent failures", item=8)
item12 = pytest.mark.fault("silent failures", item=12)


@pytest.fixture(scope="module")
def nickel(nickel_night):
    """The session's real Nickel night (tests/nickel_night.py), reduced through satellites."""
    return nickel_night.data_path


@item8
def test_no_trail_on_the_real_nickel_frames(nickel):
    """The six real frames hold no trail (looked at: stars, two galaxies, two globular clusters,
    the edge ramp, masked columns 255 and 785); none is reported and no pixel masked as one."""
    red = nickel / "red"
    found = {
        stem: fits.getheader(p)["NTRAILS"] for stem, p in step_products(red, "satellites").items()
    }
    assert found == dict.fromkeys(["d1047", "d1048", "d1052", "d1059", "d1074", "d1083"], 0)
    before = step_products(red, "cosmic_rays")
    for stem, path in step_products(red, "satellites").items():
        assert np.array_equal(fits.getdata(path, "MASK"), fits.getdata(before[stem], "MASK")), stem


def _sky_frame(rng, shape=(512, 512), sky=1000.0):
    """A flat sky in electrons with its Poisson noise, and an empty mask."""
    return rng.normal(sky, np.sqrt(sky), shape), np.zeros(shape, np.uint8)


@item8
def test_edge_ramp_bright_row_and_column_defects_are_not_trails():
    """The defects of the Nickel frames, on a simulated sky: a ramp toward masked edge columns,
    a bright last row, the glow along a masked bad column and an unmasked one-pixel hot column.
    None is a trail; a faint real trail on the same frame is found, and only it."""
    rng = np.random.default_rng(8)
    sci, mask = _sky_frame(rng)
    noise = np.sqrt(1000.0)
    mask[:, -2:] = BAD  # the masked columns next to the overscan
    sci[:, -12:-2] += np.linspace(0.5, 6, 10) * noise  # CTE ramp toward them
    sci[-1, :] += 20 * noise  # the last row read, unmasked
    mask[:, 200] = BAD  # a bad column in the static mask ...
    sci[:, 199] += 3 * noise  # ... whose neighbours glow
    sci[:, 201] += 3 * noise
    sci[:, 330] += 4 * noise  # a hot column nobody masked, one pixel wide
    assert find_trails(sci, mask, 2.0, 0.5, 3) == []
    # A trail of 1.5 noise levels at its peak, 3 px wide, crossing the defects.
    sci += trail_image(sci.shape, 256, 256, 30.0, 3.0, 1.5 * noise * np.sqrt(2 * np.pi) * 1.274)
    (trail,) = find_trails(sci, mask, 2.0, 0.5, 3)
    true_normal = np.deg2rad(30.0 + 90.0)
    assert abs(np.angle(np.exp(2j * (trail.angle_rad - true_normal)))) / 2 < np.deg2rad(0.3)
    centre_offset = 256 * np.cos(trail.angle_rad) + 256 * np.sin(trail.angle_rad)
    assert abs(centre_offset - trail.distance_px) < 1.0
    flagged = trail_pixels(sci.shape, [trail])
    assert 0.02 < flagged.mean() < 0.04  # a band 13 px wide, not a blanket


@pytest.fixture(scope="module")
def demo_i(tmp_path_factory):
    """The demo night (``potpyri demo``: seed 2024, r and i) simulated as the demo makes it; its
    i-band frames (the trail is on the last) with the biases reduced through the satellites
    step."""
    whole = tmp_path_factory.mktemp("demo_whole")
    simulate_night("gmos-n", whole, seed=2024, targets=1, frames=3, bands=["r", "i"])
    frames = Table.read(whole / "truth" / "frames.ecsv")
    keep = frames[(frames["kind"] == "bias") | (frames["band"] == "i")]
    data_path = tmp_path_factory.mktemp("demo_i")
    (data_path / "raw").mkdir()
    for name in keep["file"]:
        shutil.copy2(whole / "raw" / name, data_path / "raw" / name)
    shutil.copytree(whole / "truth", data_path / "truth")
    watch(data_path)
    cfg = compose_config("instrument=gmos", f"data_path={data_path}", CHAIN)
    validate(cfg)
    run_pipeline(cfg)
    return data_path


@item12
def test_the_demo_nights_trail_is_found_and_masked(demo_i):
    checks = {c.file: c for c in check_trails(demo_i / "truth", demo_i / "red")}
    assert sorted(checks) == [f"N20240618S00{n}.fits.bz2" for n in (19, 20, 21)]
    trail = checks.pop("N20240618S0021.fits.bz2")
    assert trail.simulated and trail.found == 1 and trail.footprint_px > 2000
    assert trail.covered >= 0.9
    assert trail.masked < 0.08  # the gaps, hits and a band along the trail
    assert all(c.found == 0 for c in checks.values())


#: The simulated nights of the test suite whose frames pass the satellites step, by format and
#: band (the simulator draws the trail on a target's last frame of its last band): the demo and
#: GMOS-N nights are reduced above, in tests/pixels, tests/astrometry and tests/docs; these are the
#: other instruments' (format, band, seed, stars per arcmin^2 brighter than r=22: the crowded NIR
#: fields included). CI runs GMOS-S (missed before: NTRAILS=0) and LRIS-blue; the others run with
#: ``-m slow``.
OTHER_NIGHTS = [
    ("gmos-s", "i", 3, 1.0),
    ("lris-blue", "g", 4, 12.0),
    pytest.param("lris-red", "r", 4, 1.0, marks=pytest.mark.slow),
    pytest.param("binospec", "r", 3, 1.0, marks=pytest.mark.slow),
    pytest.param("mosfire", "J", 5, 80.0, marks=pytest.mark.slow),
    pytest.param("mosfire", "K", 1, 160.0, marks=pytest.mark.slow),
    pytest.param(
        "mmirs",
        "K",
        1,
        80.0,
        marks=[
            pytest.mark.slow,
            pytest.mark.xfail(
                strict=True,
                reason="a K trail of 0.43 noise levels a pixel at its peak across 80 stars per "
                "arcmin^2 is missed: its ridge stands 3 noise levels above both sides in only 5 "
                "of 10 segments of 128 px (60% needed), and the line sums, with the sources cut "
                "out (10% of the binned frame), stay below 7 times their scatter",
            ),
        ],
    ),
]


def _processed_frame(truth_dir, row, rng):
    """What process makes of a raw frame, from the simulator's truth: sky, sources and trail in
    electrons with their Poisson and read noise; the detector's bad pixels and gaps masked."""
    light = expected_image(truth_dir, str(row["file"]), ("sky", "sources", "trail"))
    sci = rng.normal(light, np.sqrt(light + 5.0**2))
    no_data = fits.getdata(truth_dir / "maps" / "flat.fits.fz") == 0
    bad = fits.getdata(truth_dir / "maps" / "badpix.fits.fz") > 0
    return sci, np.where(no_data | bad, BAD, 0).astype(np.uint8)


@item12
@pytest.mark.parametrize(("fmt", "band", "seed", "density"), OTHER_NIGHTS)
def test_every_simulated_trail_is_found_and_only_it(fmt, band, seed, density, tmp_path):
    """Each format's trail at the brightness and angle the test nights have it (0.4 noise levels a
    pixel at the peak in K, 6 in g), on the simulator's rendering of the processed frame: found,
    >= 90% of its true footprint masked; the frame before it has none."""
    night = simulate_night(
        fmt, tmp_path, seed=seed, frames=2, bands=[band], rejects=False, density_r22=density
    )
    frames = Table.read(night.truth_dir / "frames.ecsv")
    science = frames[frames["kind"] == "science"]
    assert [str(t) != "none" for t in science["trail"]] == [False, True]
    config = Satellites.Config()
    rng = np.random.default_rng(seed)
    for row in science:
        sci, mask = _processed_frame(night.truth_dir, row, rng)
        trails = find_trails(
            sci,
            mask,
            config.threshold,
            config.min_length_fraction,
            config.max_trails,
            width_px=config.width_px,
            edge_margin_px=config.edge_margin_px,
        )
        if str(row["trail"]) == "none":
            assert trails == [], row["file"]
            continue
        assert len(trails) == 1, row["file"]
        trail = expected_image(night.truth_dir, str(row["file"]), ("trail",))
        sky_noise = np.sqrt(row["sky_e_s"] * row["exptime"])
        footprint = (trail > FOOTPRINT_SIGMA * sky_noise) & (mask == 0)
        assert footprint.sum() > 2000
        assert trail_pixels(sci.shape, trails)[footprint].mean() >= 0.9, row["file"]

"""A wrong configured read noise no longer masks data in silence: it is measured from the biases.

Before: with the configured read noise half the real one, the sigma clipping of two biases
rejected both values of every pixel more than ~2.1 real sigma apart, and those pixels were masked
in the master bias and (grown) in every frame, without a warning. Now the read noise is measured
from bias pairs (per amplifier), the disagreement is one warning line, and the measured value is
used for the master bias's clipping and every frame's uncertainty (RDNOISE, RDNSRC).
"""

from __future__ import annotations

import numpy as np
import pytest
from astropy.io import fits

from potpyri.calibration.read_noise import amplifier_sections, measure_read_noise
from potpyri.pipeline import run_pipeline, validate
from tests.conftest import compose_config
from tests.faults.calnight import CALIBRATED, write_calibrated_night

pytestmark = pytest.mark.fault("silent failures", item=3)

REAL_E = 10.0  #: the biases' read noise; toycam.yaml configures 5.0 e-
#: Overscan subtraction adds the noise of each row's 8-column overscan median (sqrt(1.57 / 8) of
#: the read noise): the noise a calibrated bias really has.
CALIBRATED_E = REAL_E * np.sqrt(1 + np.pi / 2 / 8)


def _run(data_path, *overrides):
    cfg = compose_config(*CALIBRATED, f"data_path={data_path}", "bias.min_frames=2", *overrides)
    validate(cfg)
    return run_pipeline(cfg)


@pytest.mark.parametrize("n_bias", [2, 5])
def test_wrong_configured_read_noise_is_measured_warned_and_used(tmp_path, n_bias):
    data_path = write_calibrated_night(tmp_path, n_bias=n_bias, read_noise_e=REAL_E)
    result = _run(data_path)
    (bias,) = [r for r in result.records if r.step == "bias"]
    assert bias.status == "ran"
    with fits.open(data_path / "red" / "cals" / "mbias_1_11.fits") as hdul:
        head, mask = hdul[0].header, hdul["MASK"].data
        measured = head["RDNOISE"]
        assert head["RDNSRC"] == "measured" and head["RDNCFG1"] == 5.0
        assert head["RDNSEC1"] == "[1:120,1:128]"
        # Two biases: one pair, 15360 differences, 0.6% precision (5 sigma: 3%).
        assert measured == pytest.approx(CALIBRATED_E, rel=0.03)
        # The master's error is the measured noise / sqrt(n); nothing masked by the clipping
        # (with two biases the scatter test flags ~0.1% of pixels by chance).
        assert np.median(hdul["UNCERT"].data) == pytest.approx(measured / np.sqrt(n_bias), rel=0.15)
        assert (mask > 0).mean() < 0.002
    assert bias.note == (
        f"read noise: configured 5.00 e-, measured {measured:.2f} e- from the biases; "
        f"using {measured:.2f} e-"
    )
    for frame in (i for i in result.items if i.kind == "frame" and i.meta["type"] == "SCIENCE"):
        with fits.open(frame.path("image")) as hdul:
            assert hdul[0].header["RDNOISE"] == pytest.approx(measured, rel=1e-3)
            assert hdul[0].header["RDNSRC"] == "measured"
            assert (hdul["MASK"].data > 0).mean() < 0.01


def test_configured_read_noise_when_not_measured(tmp_path):
    """bias.measure_read_noise=false keeps the configured value (and shows what it costs: the
    clipping of two biases masks pixels, the issue's 20,632 of 1M at a 2x error, and grown by
    one pixel they cover a large part of every frame; process.sky_noise=false because the sky
    noise estimate needs 90% of a box unmasked)."""
    data_path = write_calibrated_night(tmp_path, n_bias=2, read_noise_e=REAL_E)
    result = _run(data_path, "bias.measure_read_noise=false", "process.sky_noise=false")
    with fits.open(data_path / "red" / "cals" / "mbias_1_11.fits") as hdul:
        assert "RDNSRC" not in hdul[0].header
        assert (hdul["MASK"].data > 0).mean() > 0.02
    frame = next(i for i in result.items if i.id == "toy0000.fits")
    with fits.open(frame.path("image")) as hdul:
        assert hdul[0].header["RDNSRC"] == "configured"
        assert (hdul["MASK"].data > 0).mean() > 0.1


def test_read_noise_per_amplifier():
    """Two amplifiers of different gain and read noise: each measured in its own section."""
    rng = np.random.default_rng(5)
    shape = (64, 100)
    gain = np.ones(shape, np.float32)
    gain[:, 50:] = 2.0
    configured = np.where(gain > 1, 4.0, 3.0).astype(np.float32)
    real = np.where(gain > 1, 8.0, 3.1)
    biases = [rng.normal(0, real, shape) + 100.0 * n for n in range(2)]
    sections = amplifier_sections(gain, configured, shape)
    assert sections == ["[1:50,1:64]", "[51:100,1:64]"]
    noise = measure_read_noise(biases, sections, configured)
    assert [a.measured_e for a in noise.amplifiers] == pytest.approx([3.1, 8.0], rel=0.05)
    assert [a.configured_e for a in noise.amplifiers] == [3.0, 4.0]
    text = noise.disagreement()
    assert text == (
        "read noise differs from the configured value by >20% ([51:100,1:64] configured 4.00 e- "
        f"measured {noise.amplifiers[1].measured_e:.2f} e-); using the measured values"
    )
    noise_map = noise.noise_map(configured, shape)
    assert noise_map[0, 0] == pytest.approx(noise.amplifiers[0].measured_e)
    assert noise_map[0, 99] == pytest.approx(noise.amplifiers[1].measured_e)

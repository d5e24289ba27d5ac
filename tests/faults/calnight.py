"""A tiny toycam night with calibrations: biases, flats or darks around the tiny science frames.

The biases' read noise is ``read_noise_e`` (the toycam YAML says 5 e-), so a test can configure
a wrong value; a bias has a fixed 2-D pattern, as real ones do, that the master must keep.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
from astropy.io import fits

from tests.faults.ledger import night
from tests.framework.tiny import BIAS_ADU, GAIN, SEARCHPATH

NY, NX, NX_DATA = 128, 128, 120
#: toycam with biases and flats taken: the rules that classify them, and the calibration chain.
CALIBRATED = (
    SEARCHPATH,
    "instrument=toycam",
    "instrument.bias=true",
    "instrument.flat=true",
    "instrument.classify.bias={keywords:[OBSTYPE],values:[bias]}",
    "instrument.classify.flat={keywords:[OBSTYPE],values:[flat]}",
    "pipeline.steps=[ingest,bias,dark,flat,process]",
)


def _header(obstype: str, n: int, exptime: float = 0.0) -> fits.Header:
    return fits.Header(
        {
            "OBJECT": obstype,
            "OBSTYPE": obstype,
            "FILTER": "r",
            "EXPTIME": exptime,
            "MJD-OBS": 60480.0 + n * 0.001,
        }
    )


def _pattern() -> np.ndarray:
    """The detector's fixed bias structure above the overscan level, ADU (a column ramp)."""
    return np.broadcast_to(np.linspace(0.0, 6.0, NX_DATA, dtype=np.float32), (NY, NX_DATA))


def bias_adu(rng: np.random.Generator, read_noise_e: float) -> np.ndarray:
    """One raw bias: pattern + overscan level + read noise, data and overscan columns."""
    noise = rng.normal(0.0, read_noise_e / GAIN, (NY, NX)).astype(np.float32)
    image = np.full((NY, NX), BIAS_ADU, np.float32) + noise
    image[:, :NX_DATA] += _pattern()
    return image


def flat_adu(rng: np.random.Generator, read_noise_e: float, level_e: float = 20000.0) -> np.ndarray:
    """One raw flat: ``level_e`` electrons times the detector's response (1% pixel to pixel,
    the same in every flat) on top of a bias."""
    image = bias_adu(rng, read_noise_e)
    response = np.random.default_rng(99).normal(1.0, 0.01, (NY, NX_DATA))
    light = rng.poisson(level_e * response) / GAIN
    image[:, :NX_DATA] += light.astype(np.float32)
    return image


def write_calibrated_night(
    data_path: Path,
    *,
    n_bias: int = 5,
    n_flat: int = 4,
    read_noise_e: float = 5.0,
    bad: dict[str, tuple[str, np.ndarray]] | None = None,
    seed: int = 7,
) -> Path:
    """Two tiny science frames, ``n_bias`` biases and ``n_flat`` flats in ``data_path/raw``, plus
    ``bad`` (file name -> (OBSTYPE, ADU pixels)); raw/ is watched by the fault ledger."""
    night(data_path, n_frames=2)
    rng = np.random.default_rng(seed)
    raw = data_path / "raw"
    for n in range(n_bias):
        fits.PrimaryHDU(bias_adu(rng, read_noise_e), _header("bias", n)).writeto(
            raw / f"bias{n}.fits"
        )
    for n in range(n_flat):
        fits.PrimaryHDU(flat_adu(rng, read_noise_e), _header("flat", n, 5.0)).writeto(
            raw / f"flat{n}.fits"
        )
    for n, (name, (obstype, pixels)) in enumerate((bad or {}).items()):
        fits.PrimaryHDU(pixels.astype(np.float32), _header(obstype, 50 + n, 5.0)).writeto(
            raw / name
        )
    from tests.faults.ledger import watch

    watch(data_path)  # again: now with the calibrations
    return data_path

"""Tiny raw nights for the framework tests: a one-chip camera, a few stars, known pixels."""

from __future__ import annotations

from pathlib import Path

import numpy as np
from astropy.io import fits

CONF_DIR = Path(__file__).resolve().parents[1] / "conf"
SEARCHPATH = f"hydra.searchpath=[file://{CONF_DIR}]"
#: The steps a toy night can go through: three stars and no catalog cannot be plate-solved or
#: flux-calibrated, so toy runs stop at the stack (and its QA) instead of failing astrometry.
TOY_STEPS = (
    "pipeline.steps=[ingest,bias,dark,flat,process,cosmic_rays,satellites,fringe,skysub,"
    "resample_grid,resample,stack,qa]"
)
BIAS_ADU = 500.0
GAIN = 2.0


def write_tiny_night(
    data_path: Path,
    *,
    n_frames: int = 4,
    size: int = 128,
    seed: int = 1,
    targets: tuple[str, ...] = ("field1",),
) -> list[Path]:
    """Write ``n_frames`` raw frames per target into ``data_path/raw`` (120 data + 8 overscan
    columns)."""
    rng = np.random.default_rng(seed)
    raw = data_path / "raw"
    raw.mkdir(parents=True, exist_ok=True)
    yy, xx = np.mgrid[0:size, 0 : size - 8]
    stars = [(30.3, 40.7, 20000.0), (80.1, 90.6, 8000.0), (60.5, 20.2, 50000.0)]
    paths = []
    for t, target in enumerate(targets):
        for n in range(n_frames):
            exptime = 10.0 * (1 + n % 2)
            electrons = np.full(xx.shape, 100.0 * exptime)
            for x0, y0, flux in stars:
                electrons += (
                    flux
                    * exptime
                    / 10
                    / (2 * np.pi * 2.0**2)
                    * np.exp(-((xx - x0) ** 2 + (yy - y0) ** 2) / (2 * 2.0**2))
                )
            noisy = rng.poisson(electrons) / GAIN + BIAS_ADU + rng.normal(0, 5.0 / GAIN, xx.shape)
            overscan = BIAS_ADU + rng.normal(0, 5.0 / GAIN, (size, 8))
            adu = np.hstack([noisy, overscan]).astype(np.float32)
            header = fits.Header()
            header.update(
                {
                    "OBJECT": target,
                    "OBSTYPE": "object",
                    "FILTER": "r",
                    "EXPTIME": exptime,
                    "MJD-OBS": 60480.1 + n * 0.001,
                    **toy_wcs_cards(150.0 + t),
                }
            )
            path = raw / f"toy{t}{n:03d}.fits"
            fits.PrimaryHDU(adu, header).writeto(path)
            paths.append(path)
    return paths


def toy_wcs_cards(ra_deg: float = 150.0) -> dict[str, float | str]:
    """The toy camera's TAN WCS: 0.2 arcsec pixels, north up, east left, centred near (60, 64)."""
    return {
        "CTYPE1": "RA---TAN",
        "CTYPE2": "DEC--TAN",
        "CRVAL1": ra_deg,
        "CRVAL2": 2.0,
        "CRPIX1": 60.0,
        "CRPIX2": 64.0,
        "CD1_1": -0.2 / 3600,
        "CD1_2": 0.0,
        "CD2_1": 0.0,
        "CD2_2": 0.2 / 3600,
    }

"""potpyri's L.A.Cosmic (later iterations only around new hits) gives astroscrappy's own mask."""

from __future__ import annotations

import numpy as np
import pytest

from potpyri.calibration.cosmic_rays import lacosmic


def _frame(seed: int, tracks: int) -> tuple[np.ndarray, np.ndarray]:
    """Sky, undersampled stars, bad columns, and cosmic rays as tracks and clumps."""
    rng = np.random.default_rng(seed)
    ny, nx = 360, 400
    yy, xx = np.mgrid[0:ny, 0:nx]
    image = np.full((ny, nx), 200.0)
    for _ in range(60):
        x0, y0, flux = rng.uniform(5, nx - 5), rng.uniform(5, ny - 5), 10 ** rng.uniform(2.5, 5)
        image += flux / (2 * np.pi * 1.0**2) * np.exp(-((xx - x0) ** 2 + (yy - y0) ** 2) / 2.0)
    image = rng.poisson(image).astype(np.float32) + rng.normal(0, 4.0, (ny, nx)).astype(np.float32)
    for _ in range(tracks):  # tracks up to 8 px, some 2 px wide, some clumped next to each other
        y, x = rng.integers(1, ny - 1), rng.integers(1, nx - 1)
        angle, length = rng.uniform(0, np.pi), rng.integers(1, 9)
        for t in range(length):
            yi, xi = int(y + t * np.sin(angle)), int(x + t * np.cos(angle))
            if 0 <= yi < ny and 0 <= xi < nx:
                image[yi, xi] += rng.uniform(200, 3000)
                if rng.uniform() < 0.3 and xi + 1 < nx:
                    image[yi, xi + 1] += rng.uniform(100, 2000)
    bad = np.zeros((ny, nx), bool)
    bad[:, 37] = bad[100:160, 211] = True
    bad[:2, :] = True
    return image, bad


@pytest.mark.parametrize(
    ("seed", "tracks"), [(1, 40), (2, 60), (3, 400)]
)  # the last: dense, one pass
def test_same_mask_as_astroscrappy(seed, tracks):
    import astroscrappy

    image, bad = _frame(seed, tracks)
    kwargs = dict(sigclip=4.5, sigfrac=0.15, objlim=5.0, niter=4)
    expected, _ = astroscrappy.detect_cosmics(
        image, inmask=bad, gain=1.0, readnoise=4.0, satlevel=np.inf, **kwargs
    )
    once, _ = astroscrappy.detect_cosmics(
        image, inmask=bad, gain=1.0, readnoise=4.0, satlevel=np.inf, **{**kwargs, "niter": 1}
    )
    got = lacosmic(image, bad, 4.0, **kwargs)
    assert expected.sum() > once.sum() > tracks  # later iterations do add hits here
    assert np.array_equal(got, expected), (
        int(got.sum()),
        int(expected.sum()),
        int((got != expected).sum()),
    )


def test_repeated_calls_do_not_leak():
    """astroscrappy's dilate5 leaks 1 byte per pixel per call; potpyri sidesteps it."""
    import ctypes
    import gc

    def rss_mb() -> float:
        with open("/proc/self/status") as handle:
            return next(int(line.split()[1]) for line in handle if line.startswith("VmRSS")) / 1024

    rng = np.random.default_rng(5)
    image = rng.normal(100.0, 10.0, (1500, 1500)).astype(np.float32)
    bad = np.zeros(image.shape, bool)
    trim = ctypes.CDLL("libc.so.6").malloc_trim
    lacosmic(image, bad, 10.0, niter=1)
    gc.collect()
    trim(0)
    before = rss_mb()
    for _ in range(6):
        lacosmic(image, bad, 10.0, niter=1)
    gc.collect()
    trim(0)
    assert rss_mb() - before < 3.0  # the leak would be 6 × 2.15 MB

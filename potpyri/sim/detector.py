"""Detector effects in electrons on the focal-plane mosaic: response, dark current, cosmic rays,
saturation (bleeding along CCD columns; nonlinearity and a hard full well on NIR arrays).
(Bias, overscan, gain and read noise belong to the raw formats.)"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

__all__ = ["DetectorModel", "add_cosmic_rays", "bleed", "make_detector", "nonlinear", "saturate"]


@dataclass
class DetectorModel:
    """The fixed pixel properties of one setup over a night.

    ``response`` is the flat field (pixel response × illumination, ~1; dead columns ~0.05);
    ``dark_rate`` is e-/s per pixel (with hot pixels); ``bad`` marks dead and hot pixels.
    ``bleeds``: charge above full well spills along the column (a CCD), else the pixel clips (a
    hybrid NIR array, where pixels do not share charge). ``nonlinearity``: coefficients of
    :func:`nonlinear` (empty: linear).
    """

    response: np.ndarray
    dark_rate: np.ndarray
    bad: np.ndarray
    sensitive: np.ndarray
    bleeds: bool = True
    nonlinearity: tuple[float, ...] = ()


def make_detector(
    rng: np.random.Generator,
    shape: tuple[int, int],
    dark_current: float,
    sensitive: np.ndarray | None = None,
    binning: tuple[int, int] = (1, 1),
    *,
    bleeds: bool = True,
    nonlinearity: tuple[float, ...] = (),
) -> DetectorModel:
    """Pixel response (1% pixel-to-pixel, 4% vignetting to the corners), two bad columns, a few
    dead pixels, and, where there is dark current, hot pixels (0.02%)."""
    ny, nx = shape
    yy, xx = np.mgrid[0:ny, 0:nx]
    r2 = ((xx - nx / 2) / (nx / 2)) ** 2 + ((yy - ny / 2) / (ny / 2)) ** 2
    response = (1.0 - 0.04 * r2) * rng.normal(1.0, 0.01, shape)
    bad = np.zeros(shape, bool)
    for column in rng.choice(np.arange(nx // 10, nx - nx // 10), 2, replace=False):
        start = rng.integers(0, ny // 2)
        response[start:, column] = 0.05
        bad[start:, column] = True
    dead = rng.choice(ny * nx, max(1, ny * nx // 20000), replace=False)
    response.flat[dead] = 0.1
    bad.flat[dead] = True
    pixels_per_bin = binning[0] * binning[1]
    dark = np.full(shape, dark_current * pixels_per_bin)
    if dark_current > 0:  # cooled optical CCDs: no measurable dark current, no hot pixels
        hot = rng.choice(ny * nx, max(1, ny * nx // 5000), replace=False)
        dark.flat[hot] = rng.uniform(5.0, 50.0, hot.size)
        bad.flat[hot] = True
    if sensitive is None:
        sensitive = np.ones(shape, bool)
    response = np.where(sensitive, response, 0.0)
    return DetectorModel(
        response.astype(np.float32),
        dark.astype(np.float32),
        bad,
        sensitive,
        bleeds,
        tuple(nonlinearity),
    )


def add_cosmic_rays(
    rng: np.random.Generator, image: np.ndarray, exptime: float, binning: tuple[int, int]
) -> np.ndarray:
    """Add cosmic-ray hits (1e-7 per unbinned pixel per second; short straight tracks of
    300-3000 e- per pixel) and return their mask."""
    ny, nx = image.shape
    mask = np.zeros(image.shape, bool)
    events = rng.poisson(1e-7 * ny * nx * binning[0] * binning[1] * max(exptime, 1.0) + 2)
    for _ in range(events):
        length = rng.integers(1, 6)
        angle = rng.uniform(0, np.pi)
        x, y = rng.uniform(0, nx), rng.uniform(0, ny)
        for step in range(length):
            px, py = int(x + step * np.cos(angle)), int(y + step * np.sin(angle))
            if 0 <= px < nx and 0 <= py < ny:
                image[py, px] += rng.uniform(300.0, 3000.0)
                mask[py, px] = True
    return mask


def bleed(image: np.ndarray, full_well: float) -> np.ndarray:
    """Spill charge above ``full_well`` up and down its column (charge is conserved until the
    column ends). Returns the mask of saturated pixels."""
    over = image > full_well
    if not over.any():
        return over
    for column in np.unique(np.nonzero(over)[1]):
        col = image[:, column]
        for row in np.nonzero(col > full_well)[0]:
            excess = col[row] - full_well
            if excess <= 0:
                continue
            col[row] = full_well
            for direction in (1, -1):
                share, r = excess / 2.0, row + direction
                while share > 0 and 0 <= r < col.size:
                    room = max(full_well - col[r], 0.0)
                    taken = min(room, share)
                    col[r] += taken
                    share -= taken
                    r += direction
        image[:, column] = col
    return image >= full_well * 0.999


def nonlinear(image: np.ndarray, full_well: float, coefficients: tuple[float, ...]) -> np.ndarray:
    """Charge read from charge collected, on an array whose response falls near saturation.

    ``read = q * (1 - sum_k c_k * (q / full_well) ** (k + 1))`` for ``coefficients`` ``c_k``:
    a polynomial in the fill fraction, the form in which HgCdTe (HAWAII) array nonlinearity is
    usually characterised and corrected. Empty coefficients return ``image`` unchanged.
    """
    if not coefficients:
        return image
    fill = np.clip(image, 0.0, None) / full_well
    loss = sum(c * fill ** (k + 1) for k, c in enumerate(coefficients))
    return image * (1.0 - loss)


def saturate(image: np.ndarray, full_well: float, detector: DetectorModel) -> np.ndarray:
    """Apply the detector's bright-light response in place; return the mask of saturated pixels.

    A CCD (``detector.bleeds``) spills charge above full well along its column
    (:func:`bleed`, charge conserved); a NIR array first loses linearity
    (:func:`nonlinear`), then clips at full well.
    """
    if detector.bleeds:
        return bleed(image, full_well)
    image[:] = nonlinear(image, full_well, detector.nonlinearity)
    saturated = image >= full_well * 0.999
    np.minimum(image, full_well, out=image)
    return saturated

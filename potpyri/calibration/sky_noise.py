"""Empirical sky noise: the part of the measured sky scatter the noise model does not explain.

The uncertainty model (read noise, Poisson noise, calibration errors) can fall short of what a real
sky shows (a read noise or gain in the header that is a little off, unmodelled detector noise).
The reference pipeline puts the measured sky noise into its error images; here it enters as the
variance needed to bring the sky's pulls to unit scatter, added to every pixel.
"""

from __future__ import annotations

import warnings

import numpy as np

__all__ = ["add_sky_noise", "added_sky_variance", "excess_sky_variance", "sky_pull_scatter"]


def sky_pull_scatter(sci: np.ndarray, uncert: np.ndarray, bad: np.ndarray, box: int = 64) -> float:
    """Robust scatter of (image - local sky) / uncertainty over good pixels (1.0: exact model)."""
    from photutils.background import Background2D

    box = int(min(box, *sci.shape))
    with warnings.catch_warnings():  # fully masked meshes (gaps) are expected
        warnings.simplefilter("ignore")
        sky = Background2D(sci, (box, box), mask=bad, filter_size=(3, 3)).background
        pull = ((sci - sky) / uncert)[~bad & np.isfinite(uncert) & (uncert > 0)]
    pull = pull[np.abs(pull) < 5]
    if pull.size < 100:
        return float("nan")
    # Sources (faint, unresolved, crowded) only ever push pixels up: the lower half of the
    # distribution is the sky's own noise. Its median distance below the middle is 0.6745 sigma.
    middle = np.median(pull)
    return float(1.4826 * np.median(middle - pull[pull < middle]))


def excess_sky_variance(
    sci: np.ndarray, uncert: np.ndarray, bad: np.ndarray
) -> tuple[float, float]:
    """``(scatter, variance)``: the sky's pull scatter and the variance (e-^2) to add to every pixel
    so that it becomes 1; zero variance when the model already explains the sky."""
    scatter = sky_pull_scatter(sci, uncert, bad)
    if not np.isfinite(scatter) or scatter <= 1.0:
        return scatter, 0.0
    good = ~bad & np.isfinite(uncert) & (uncert > 0)
    return scatter, float((scatter**2 - 1.0) * np.median(uncert[good] ** 2))


def added_sky_variance(
    sci: np.ndarray, uncert: np.ndarray, bad: np.ndarray, min_scatter: float, max_scatter: float
) -> tuple[float, float | None]:
    """``(scatter, variance)`` as :func:`excess_sky_variance`, the variance None when it is not to
    be added: the model explains the sky (scatter up to ``min_scatter``) or the sky has structure
    rather than noise (scatter above ``max_scatter``)."""
    scatter, variance = excess_sky_variance(sci, uncert, bad)
    if scatter > max_scatter or not scatter > min_scatter:
        return scatter, None
    return scatter, variance


def add_sky_noise(
    sci: np.ndarray,
    uncert: np.ndarray,
    mask: np.ndarray,
    header,
    warnings: list[str],
    low: float,
    high: float,
) -> np.ndarray:
    """The reference's empirical sky noise: where the sky scatters more than the noise model
    says (pull scatter between ``low`` and ``high``), the missing variance is added to every
    pixel (recorded as SKYPULL and SKYNOISE); above ``high`` the sky has structure: the model is
    kept and a warning appended."""
    scatter, added = added_sky_variance(sci, uncert, mask > 0, low, high)
    header["SKYPULL"] = (round(scatter, 4), "sky scatter / modelled noise, before SKYNOISE")
    if scatter > high:
        warnings.append(
            f"sky scatter {scatter:.2f}x the noise model (a crowded or structured field): "
            "uncertainty left as modelled"
        )
    if added is not None:
        uncert = np.sqrt(uncert**2 + added).astype(np.float32)
    noise = round(float(np.sqrt(added or 0.0)), 3)
    header["SKYNOISE"] = (noise, "measured sky noise added in quadrature, e-")
    return uncert

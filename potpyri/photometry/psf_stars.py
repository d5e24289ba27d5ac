"""The stars the ePSF is built from: isolated, round, unsaturated, of the typical FWHM.

As in the reference, PSF stars are sought first among the brightest (S/N >= ``sn_max``) and the
threshold is halved until enough are found. It stops at ``psf_sn_floor`` while that leaves at
least 3 stars: below S/N ~10 a star's stamp flux and centre are noise-dominated, and the ePSF (a
per-pixel median over few stars, split into oversampling² phases) comes out too sharp.
"""

from __future__ import annotations

import numpy as np
from astropy.table import Table

__all__ = ["TooFewPSFStars", "psf_stamp_half", "psf_star_table", "select_psf_stars"]


class TooFewPSFStars(ValueError):
    """Fewer than 3 stars pass the PSF-star cuts down to the detection threshold."""


def psf_stamp_half(fwhm: float) -> int:
    """Half side (px, odd) of the ePSF stamps of a PSF of ``fwhm`` px."""
    return int(np.ceil(3 * fwhm)) | 1


def select_psf_stars(
    apphot: Table,
    bad: np.ndarray,
    fwhm: float,
    half: int,
    *,
    sn_min: float,
    sn_max: float,
    psf_sn_floor: float,
    min_psf_stars: int,
    max_psf_stars: int,
    saturation: float,
    notes: list[str],
) -> tuple[Table, float]:
    """The PSF stars among ``apphot`` (isolated detections) and the S/N threshold that found them.

    Stamps of half side ``half`` must hold no ``bad`` pixel. Raises TooFewPSFStars when fewer
    than 3 stars pass the cuts down to ``sn_min``; other shortfalls are appended to ``notes``.
    """
    floor = max(sn_min, min(psf_sn_floor, sn_max))
    threshold = float(sn_max)
    while True:
        candidates = _psf_candidates(apphot, threshold, fwhm, saturation, half, bad)
        if len(candidates) >= min_psf_stars or threshold <= floor:
            break
        threshold = max(floor, threshold / 2)
    while len(candidates) < 3 and threshold > sn_min:
        threshold = max(sn_min, threshold / 2)
        candidates = _psf_candidates(apphot, threshold, fwhm, saturation, half, bad)
        if len(candidates) >= 3:
            notes.append(
                f"PSF stars down to S/N {threshold:g} (fewer than 3 above {floor:g}): the ePSF "
                "and FWHM may be biased (too sharp)"
            )
    chosen = candidates
    if len(chosen) < 3:
        raise TooFewPSFStars(
            f"only {len(chosen)} PSF star(s) pass the cuts down to S/N {threshold:g}"
        )
    if len(chosen) < min_psf_stars:
        notes.append(f"only {len(chosen)} PSF stars (wanted {min_psf_stars})")
    if len(chosen) > max_psf_stars:
        chosen = chosen[np.argsort(-chosen["snr"])[:max_psf_stars]]
    return chosen, threshold


def psf_star_table(chosen: Table) -> Table:
    """The PSFSTARS table: id, x_centroid, y_centroid, snr, fwhm, roundness1 of the PSF stars."""
    return Table(
        {
            "id": chosen["id"],
            "x_centroid": chosen["x_centroid"],
            "y_centroid": chosen["y_centroid"],
            "snr": chosen["snr"],
            "fwhm": chosen["fwhm"],
            "roundness1": chosen["roundness1"],
        }
    )


def _psf_candidates(apphot: Table, threshold, fwhm, saturation, half, bad) -> Table:
    ny, nx = bad.shape
    x, y = np.asarray(apphot["x_centroid"]), np.asarray(apphot["y_centroid"])
    ok = (apphot["flags"] == 0) & (apphot["snr"] >= threshold)
    ok &= (np.abs(apphot["roundness1"]) < 0.3) & (np.abs(apphot["roundness2"]) < 0.3)
    ok &= np.abs(apphot["fwhm"] / fwhm - 1) < 0.25
    ok &= apphot["peak"] < 0.8 * saturation
    ok &= (x > half) & (y > half) & (x < nx - 1 - half) & (y < ny - 1 - half)
    for k in np.flatnonzero(ok):  # no masked pixel anywhere in the ePSF stamp
        xi, yi = int(round(x[k])), int(round(y[k]))
        ok[k] = not bad[yi - half : yi + half + 1, xi - half : xi + half + 1].any()
    return apphot[ok]

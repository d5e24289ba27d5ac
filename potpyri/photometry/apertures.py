"""Aperture sums with a local sky: photutils ``ApertureStats`` in a circle, the sky from an
annulus around it."""

from __future__ import annotations

import numpy as np
from astropy.table import Table

__all__ = ["annulus_sky", "aperture_stats", "centroid_xy"]


def aperture_stats(
    data: np.ndarray,
    error: np.ndarray,
    bad: np.ndarray,
    found: Table,
    radius: float,
    local: bool = True,
) -> Table:
    """Aperture statistics of radius ``radius`` (px) at ``found``'s x_centroid/y_centroid.

    Columns id, x_centroid, y_centroid (the given positions), sum, sum_err, sum_aper_area, fwhm,
    ellipticity, aper_radius, local_bkg (the annulus sky removed: 0 unless ``local``) and snr.
    """
    from photutils.aperture import ApertureStats, CircularAperture

    xy = centroid_xy(found)
    # Local sky 2.5 to 3.5 radii out.
    mode = annulus_sky(data, bad, xy, 2.5 * radius, 3.5 * radius)
    local_bkg = np.nan_to_num(mode) if local else np.zeros(len(xy))
    stats = ApertureStats(
        data, CircularAperture(xy, radius), error=error, mask=bad, local_bkg=local_bkg
    )
    table = stats.to_table(
        columns=[
            "id",
            "x_centroid",
            "y_centroid",
            "sum",
            "sum_err",
            "sum_aper_area",
            "fwhm",
            "ellipticity",
        ]
    )
    # keep the detection centroid (the aperture's own is biased by noise)
    table["x_centroid"] = xy[:, 0]
    table["y_centroid"] = xy[:, 1]
    for name in ("sum", "sum_err", "sum_aper_area", "fwhm", "ellipticity"):
        table[name] = np.asarray(getattr(table[name], "value", table[name]), float)
    table["aper_radius"] = np.full(len(table), radius)
    table["local_bkg"] = local_bkg
    table["snr"] = table["sum"] / np.where(table["sum_err"] > 0, table["sum_err"], np.inf)
    return table


def annulus_sky(
    data: np.ndarray, bad: np.ndarray, xy: np.ndarray, r_in: float, r_out: float
) -> np.ndarray:
    """The sky per pixel around each of ``xy`` (N x 2, px) in an annulus ``r_in``-``r_out`` px:
    the SExtractor mode (2.5 median - 1.5 mean of the 3-sigma clipped annulus; the clipped median
    where the annulus is too skewed). NaN where the annulus has no good pixel.

    The plain median sits above the sky when neighbours' wings fill a few per cent of the annulus.
    """
    from astropy.stats import SigmaClip
    from photutils.aperture import ApertureStats, CircularAnnulus

    annulus = ApertureStats(
        data,
        CircularAnnulus(xy, r_in, r_out),
        mask=bad,
        sigma_clip=SigmaClip(sigma=3.0, maxiters=10),
        sum_method="center",
    )
    med, mean, std = (np.asarray(getattr(annulus, k), float) for k in ("median", "mean", "std"))
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where((mean - med) / std < 0.3, 2.5 * med - 1.5 * mean, med)


def centroid_xy(table: Table) -> np.ndarray:
    """The ``x_centroid``, ``y_centroid`` columns of ``table`` as an N x 2 array of floats."""
    return np.transpose(
        [np.asarray(table["x_centroid"], float), np.asarray(table["y_centroid"], float)]
    )

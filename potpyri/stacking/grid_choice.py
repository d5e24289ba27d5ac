"""Which frames make a target's grid, and at what pixel scale.

The reference's astrometric cut drops frames whose alignment dispersion stands out from their
siblings'; the grid's pixel scale is the instrument's, times the binning.
"""

from __future__ import annotations

import re

import numpy as np
from astropy.stats import sigma_clipped_stats
from astropy.wcs import WCS

__all__ = ["dispersion_outliers", "grid_pixel_scale"]


def dispersion_outliers(
    values: dict[str, tuple[float, float]], scale_arcsec: float, nsigma: float, floor_px: float
) -> dict[str, str]:
    """Frames whose RADISP or DEDISP stand out from the target's other frames.

    Parameters
    ----------
    values : dict
        (RADISP, DEDISP) in arcsec, by frame id.
    scale_arcsec : float
        Pixel scale of the grid, arcsec.
    nsigma : float
        A frame is an outlier above the median plus ``nsigma`` sigma-clipped (MAD) deviations
        of the target's frames (three frames or more) ...
    floor_px : float
        ... and above ``floor_px`` pixels.

    Returns
    -------
    dict
        Frame id -> the reason, one line.
    """
    if len(values) < 3:
        return {}
    found: dict[str, str] = {}
    for axis, name in enumerate(("RADISP", "DEDISP")):
        column = np.array([v[axis] for v in values.values()])
        # robust for a few frames
        _, median, std = sigma_clipped_stats(column, sigma=3.0, stdfunc="mad_std")
        limit = max(median + nsigma * std, floor_px * scale_arcsec)
        for frame_id, value in values.items():
            if value[axis] > limit and frame_id not in found:
                found[frame_id] = (
                    f"{frame_id}: {name} {value[axis]:.3f}\" beyond the target's cut "
                    f'{limit:.3f}" (median {median:.3f}" + {nsigma:g} sigma)'
                )
    return found


def grid_pixel_scale(
    binning: str, instrument_pixscale: float | None, wcses: list[WCS]
) -> tuple[float, str]:
    """Instrument pixel scale × binning, arcsec; the frames' median WCS scale if the binning
    (e.g. ``"2x2"``) is unreadable. Returns the scale and how it was found."""
    binned = re.findall(r"\d", binning)
    if len(binned) == 2 and instrument_pixscale:
        factor = np.sqrt(int(binned[0]) * int(binned[1]))
        return float(instrument_pixscale) * float(factor), "instrument pixscale x binning"
    scales = [np.sqrt(abs(np.linalg.det(w.pixel_scale_matrix))) * 3600 for w in wcses]
    return float(np.median(scales)), "median of the frames' WCS"

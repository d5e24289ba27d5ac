"""FLAG_NEIGHBOUR (potpyri.photometry.flags.source_flags): a neighbour within 4 FWHM flags a
source only when its light in the source's aperture exceeds MAX_NEIGHBOUR_LIGHT of the source's
flux."""

from __future__ import annotations

import numpy as np
from astropy.table import Table

from potpyri.photometry.flags import FLAG_NEIGHBOUR, MAX_NEIGHBOUR_LIGHT, source_flags
from potpyri.photometry.moffat import moffat_share

FWHM = 3.0
RADIUS = 1.5 * FWHM


def _neighbour_flags(separation: float, ratio: float) -> np.ndarray:
    """Flags of a 1e4 source and a neighbour ``ratio`` times as bright ``separation`` px away."""
    table = Table(
        {
            "x_centroid": [100.0, 100.0 + separation],
            "y_centroid": [100.0, 100.0],
            "sum": [1e4, 1e4 * ratio],
            "sum_aper_area": [np.pi * RADIUS**2] * 2,
        }
    )
    bad = np.zeros((200, 200), bool)
    flags, _ = source_flags(table, bad, RADIUS, isolation=4 * FWHM, fwhm=FWHM)
    return flags & FLAG_NEIGHBOUR


def test_a_faint_neighbour_leaves_the_bright_star_usable():
    # 3 FWHM away, 1/100 as bright: ~1e-4 of the star in its aperture; the faint one is swamped.
    assert moffat_share(np.array([3 * FWHM]), RADIUS, FWHM)[0] * 0.01 < MAX_NEIGHBOUR_LIGHT
    bright, faint = _neighbour_flags(3 * FWHM, 0.01)
    assert not bright and faint


def test_a_comparable_neighbour_flags_both():
    assert all(_neighbour_flags(2 * FWHM, 1.0))


def test_beyond_the_isolation_radius_nothing_is_flagged():
    assert not any(_neighbour_flags(4.2 * FWHM, 1.0))

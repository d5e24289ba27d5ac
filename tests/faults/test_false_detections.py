"""Issue 18, item 11: detections that are not there.

At ``photometry.sn_min=3`` the demo's i stack listed 1617 sources where the simulation holds 162,
many of them along the edges, 261 with negative fluxes and 286 spurious ones without a flag. A
small simulated stack (four dithered frames with correlated, resampled-like noise, a chip gap
and shallow dither margins) is measured against its truth: at S/N >= 5 at most 2% of the
unflagged sources may match no truth object, and edges, low coverage and negative fluxes carry
their flag bits (docs/outputs.rst).
"""

from __future__ import annotations

import numpy as np
import pytest

from potpyri.photometry.flags import (
    FLAG_LOW_COVERAGE,
    FLAG_NEAR_EDGE,
    FLAG_NEGATIVE,
    NEAR_EDGE_RADII,
)
from potpyri.photometry.measure import measure_stack
from tests.faults.stack_field import simulated_stack, unmatched

pytestmark = pytest.mark.fault("silent failures", item=11)
MAX_FALSE_FRACTION = 0.02  #: the issue's acceptance: unmatched share of flags=0, S/N >= 5 rows


@pytest.fixture(scope="module")
def matched_stack():
    stack = simulated_stack(seed=2, size=500, density_r22=40.0)
    res = measure_stack(
        stack.sci, stack.err, stack.mask, stack.wcs, sn_min=3.0, coverage=stack.coverage
    )
    # A detection within one FWHM (2 px at least) of a truth object is that object (galaxies'
    # light-weighted centres sit a few px from their nominal ones).
    radius = max(2.0, res.fwhm)
    false = unmatched(res.apphot, stack.truth, radius, "x_centroid", "y_centroid")
    return stack, res, false


def test_at_most_2_percent_false_among_unflagged_sources_at_sn5(matched_stack, measured):
    stack, res, false = matched_stack
    ap = res.apphot
    clean = (ap["snr"] >= 5) & (ap["flags"] == 0)
    assert clean.sum() >= 50, clean.sum()
    fraction = (false & clean).sum() / clean.sum()
    measured(f"{int((false & clean).sum())} of {int(clean.sum())} unflagged S/N >= 5 rows false")
    assert fraction <= MAX_FALSE_FRACTION, (int((false & clean).sum()), int(clean.sum()))


def test_catalog_is_real_at_the_detection_threshold(matched_stack):
    """The whole catalog, down to S/N 3: detections are thresholded on the real noise of the
    filtered image (correlated noise and shallow margins included). Before, this field gave 365
    rows of which 74 (20%) matched nothing, 5 of the 69 unflagged ones (7%)."""
    _, res, false = matched_stack
    assert false.mean() <= 0.05, (int(false.sum()), len(false))
    clean = np.asarray(res.apphot["flags"]) == 0
    assert (false & clean).sum() <= MAX_FALSE_FRACTION * clean.sum() + 1, (
        int((false & clean).sum()),
        int(clean.sum()),
    )


def test_edges_low_coverage_and_negative_fluxes_are_flagged(matched_stack):
    stack, res, _ = matched_stack
    ap = res.apphot
    flags = np.asarray(ap["flags"])
    x, y = np.asarray(ap["x_centroid"]), np.asarray(ap["y_centroid"])
    xi, yi = np.round(x).astype(int), np.round(y).astype(int)
    assert ((flags[np.asarray(ap["sum"]) <= 0] & FLAG_NEGATIVE) > 0).all()
    assert not ((flags[np.asarray(ap["sum"]) > 0] & FLAG_NEGATIVE) > 0).any()
    # Within NEAR_EDGE_RADII aperture radii of the chip gap or of the no-data margin.
    from scipy.ndimage import distance_transform_edt

    distance = distance_transform_edt(stack.coverage > 0)[yi, xi]
    radius = float(ap["aper_radius"][0])
    near = distance < NEAR_EDGE_RADII * radius - 1
    assert near.sum() >= 3
    assert ((flags[near] & FLAG_NEAR_EDGE) > 0).all()
    far = distance > NEAR_EDGE_RADII * radius + 1
    assert not ((flags[far] & FLAG_NEAR_EDGE) > 0).any()
    # One frame of four (twice the stack's noise) along the dither margins.
    single = stack.coverage[yi, xi] == 1
    assert single.sum() >= 1
    assert ((flags[single] & FLAG_LOW_COVERAGE) > 0).all()
    deep = (stack.coverage[yi, xi] == 4) & (distance > 20)
    assert ((flags[deep] & FLAG_LOW_COVERAGE) > 0).mean() < 0.1

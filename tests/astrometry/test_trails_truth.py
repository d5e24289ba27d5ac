"""The satellites step on the astrometry suite's night, against the simulator's truth: its one
trail found and masked, none on the other frames (issue 18, item 12: every simulated trail of the
test nights)."""

from __future__ import annotations

from tests.pixels.trail_truth import check_trails


def test_the_nights_trail_and_only_it(gmos_night):
    night, _, _ = gmos_night
    checks = check_trails(night.truth_dir, night.out_dir / "red")
    assert len(checks) == 3 and sum(c.simulated for c in checks) == 1
    assert all(c.right for c in checks), checks

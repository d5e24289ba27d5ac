"""The satellites step on the users' night (the default recipe through the command line), against
the simulator's truth: its one trail found and masked, none on the other frame (issue 18, item
12: every simulated trail of the test nights)."""

from __future__ import annotations

from tests.pixels.trail_truth import check_trails


def test_the_nights_trail_and_only_it(reduced_night):
    checks = check_trails(reduced_night.night.truth_dir, reduced_night.red)
    assert len(checks) == 2 and sum(c.simulated for c in checks) == 1
    assert all(c.right for c in checks), checks

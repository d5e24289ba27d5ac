"""The synthetic observatory: raw nights for every instrument, with their truth.

Nothing outside this package imports it: truth must never leak into a reduction.
"""

__all__ = ["simulate_night"]


def simulate_night(*args, **kwargs):
    """See :func:`potpyri.sim.night.simulate_night`."""
    from potpyri.sim.night import simulate_night as _simulate

    return _simulate(*args, **kwargs)

"""Astrometry: a coarse plate solution (astrometry.net or a built-in pattern matcher) and its
refinement against Gaia DR3."""

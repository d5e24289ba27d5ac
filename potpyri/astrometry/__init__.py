"""Astrometry: a coarse plate solution (astrometry.net or a built-in pattern matcher) and its
refinement against Gaia DR3.

Modules: ``solve`` (the coarse solution), ``anet`` (astrometry.net), ``match`` (the built-in
triangle matcher), ``fine_align`` (a frame's fit to reference stars), ``refine`` (the WCS fit),
``detect`` (sources), ``reference`` (catalog stars), ``epoch`` (observation epochs), ``wcsio``
(header WCS in and out), ``errors``.
"""

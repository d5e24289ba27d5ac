"""Magnitude systems: the one Vega-to-AB table every catalog parser (and the simulator) uses."""

from __future__ import annotations

import numpy as np

__all__ = ["VEGA_TO_AB", "vega_to_ab"]

#: m_AB - m_Vega per band: Blanton & Roweis (2007, AJ 133, 734), Table 1, for the
#: Johnson-Cousins U B V R I (Bessell 1990 curves) and 2MASS J H Ks bands.
VEGA_TO_AB: dict[str, float] = {
    "U": 0.79,
    "B": -0.09,
    "V": 0.02,
    "R": 0.21,
    "I": 0.45,
    "J": 0.91,
    "H": 1.39,
    "K": 1.85,
}


def vega_to_ab(mag: np.ndarray | float, band: str) -> np.ndarray | float:
    """AB magnitude of a Vega magnitude in ``band`` (a key of :data:`VEGA_TO_AB`).

    Raises
    ------
    KeyError
        Naming the band, when the table has no offset for it.
    """
    if band not in VEGA_TO_AB:
        raise KeyError(f"no Vega-to-AB offset known for band {band!r} (known: {list(VEGA_TO_AB)})")
    return mag + VEGA_TO_AB[band]

"""Which catalog and band calibrate a filter (the reference's rule).

Rule: J, H, K/Ks -> 2MASS (Vega converted to AB by the parser). Optical g, r, i, z (and y/Y):
Pan-STARRS DR1 north of dec -30, SkyMapper south of it; u: SDSS in the north, SkyMapper in the
south. An instrument whose preference (``instrument.catalog_zp``) is SDSS or SkyMapper uses it
where it covers the band. A user may name a catalog explicitly, or give a file (user_file.py).
"""

from __future__ import annotations

import re

__all__ = ["band_of", "choose_catalog"]

_PS1_SOUTH_LIMIT = -30.0
_COVERS = {
    "ps1": set("grizy"),
    "sdss": set("ugriz"),
    "skymapper": set("uvgriz"),
    "2mass": {"J", "H", "K"},
}


def band_of(filter_name: str) -> str | None:
    """Generic band of an instrument filter name (``r_G0303`` -> r, ``Ks`` -> K, ``Sloan_g`` -> g).

    Returns None for filters without a survey counterpart (Johnson B/V, narrow bands).
    """
    text = str(filter_name).strip()
    text = re.sub(r"^(sloan|sdss)[_\- ]?", "", text, flags=re.I)
    token = re.split(r"[_\-\s]", text)[0] if text else ""
    if token in ("Ks", "K", "Kspec", "K_s"):
        return "K"
    if token in ("J", "H"):
        return token
    if token.upper() == "RG850":
        return "z"
    if token in ("Y",):
        return "y"
    if len(token) == 1 and token.lower() in "ugriz" and token not in ("B", "V"):
        return token.lower()
    if len(token) == 2 and token.endswith("'") and token[0] in "ugriz":
        return token[0]
    return None


def choose_catalog(band: str, dec: float, preference: str = "PS1") -> str:
    """The catalog calibrating ``band`` at declination ``dec`` (raises ValueError if none does)."""
    pref = str(preference).lower().replace("-", "")
    if band in ("J", "H", "K"):
        return "2mass"
    south = dec < _PS1_SOUTH_LIMIT
    if pref in ("sdss", "skymapper") and band in _COVERS[pref]:
        return pref
    if band == "u":
        return "skymapper" if south else "sdss"
    if band in "griz":
        return "skymapper" if south else "ps1"
    if band == "y" and not south:
        return "ps1"
    raise ValueError(f"no catalog calibrates band {band!r} at dec {dec:+.2f}")

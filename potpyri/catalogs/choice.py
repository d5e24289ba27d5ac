"""Which catalog and band calibrate a filter (a user's own catalog file: user_file.py).

A filter name is read as a catalog band (:func:`band_of`): SDSS-like u g r i z (and y), Johnson/
Cousins/Bessell U B V R I, 2MASS J H K; narrow and intermediate bands (H-alpha, [O III],
Stromgren...) have none. An instrument may map its own filter names in its YAML
(``filter_bands``). The catalogs that can calibrate a band, best first (:func:`catalog_order`):
J, H, K -> 2MASS; g r i z (y) -> Pan-STARRS DR1 north of dec -30, SkyMapper south of it; u -> SDSS
in the north, SkyMapper in the south; then Gaia DR3 synthetic photometry (GSPC, all-sky to
G ~ 17.65) for u g r i z and the only one for U B V R I. An instrument whose preference
(``instrument.catalog_zp``) is SDSS, SkyMapper or GSPC puts it first where it covers the band.
"""

from __future__ import annotations

import re
from collections.abc import Mapping

__all__ = [
    "band_of",
    "catalog_order",
    "choose_catalog",
    "is_narrow_band",
    "no_band_reason",
]

_PS1_SOUTH_LIMIT = -30.0
_COVERS = {
    "ps1": set("grizy"),
    "sdss": set("ugriz"),
    "skymapper": set("uvgriz"),
    "gspc": set("UBVRIugriz"),
    "2mass": {"J", "H", "K"},
}
#: Words that name a photometric system around a Johnson-Cousins band letter (``Bessell_V``,
#: ``B_Johnson``, ``Harris R``, ``JKC-I``).
_SYSTEM_WORDS = {"bessell", "bess", "johnson", "cousins", "kron", "harris", "jc", "kc", "jkc"}
#: Narrow and intermediate bands no catalog calibrates: H-alpha/beta, forbidden and helium lines,
#: NB/N<wavelength> names, a bare central wavelength, Stromgren uvby.
_NARROW = re.compile(
    r"^(h[-_ ]?a(lpha)?(c|cont)?|h[-_ ]?b(eta)?)(?![a-z])|halpha|\[?o\s*iii|\[?s\s*ii"
    r"|\[?n\s*ii|he\s*ii|^nb|^n\d{3}|^cn$|(?<![a-z0-9])\d{4}(?!\d)|str[oö]mgren|^str[-_ ]",
    re.I,
)


def is_narrow_band(filter_name: str) -> bool:
    """Whether ``filter_name`` reads as a narrow or intermediate band (``Ha_G0310``, ``OIII``,
    ``NB4170``, ``6563/30``, ``Stromgren_y``), which no catalog calibrates."""
    return bool(_NARROW.search(str(filter_name).strip()))


def no_band_reason(filter_name: str, aliases: Mapping[str, str] | None = None) -> str:
    """One line (fits a header card) on why ``filter_name`` has no catalog band."""
    name = repr(str(filter_name).strip()[:24])
    if aliases and str(filter_name).strip() in aliases:
        return f"filter {name}: the instrument's filter_bands gives it no band"
    if is_narrow_band(filter_name):
        return f"filter {name}: a narrow/intermediate band no catalog has"
    return f"filter {name}: no catalog band known (instrument filter_bands)"


def band_of(filter_name: str, aliases: Mapping[str, str] | None = None) -> str | None:
    """Catalog band of an instrument filter name, or None where no catalog has one.

    ``r_G0303`` -> r, ``Sloan_g`` -> g, ``Ks`` -> K, ``V``/``Bessell_V``/``B_Johnson`` -> V/B,
    ``Rc``/``R`` -> R (Cousins), ``Ha_G0310`` -> None. ``aliases`` (the instrument's
    ``filter_bands``) maps a filter name to a band first (``none`` or empty: no band), for an
    instrument whose ``R`` is calibrated as SDSS r, say.
    """
    text = str(filter_name).strip()
    if aliases and text in aliases:
        mapped = str(aliases[text] or "").strip()
        return None if mapped.lower() in ("", "none") else mapped
    if is_narrow_band(text):
        return None
    text = re.sub(r"^(sloan|sdss)[_\- ]?", "", text, flags=re.I)
    tokens = [t for t in re.split(r"[_\-\s./]+", text) if t]
    named_johnson = any(t.lower() in _SYSTEM_WORDS for t in tokens)
    words = [t for t in tokens if t.lower() not in _SYSTEM_WORDS]
    token = words[0] if words else ""
    if token in ("Ks", "K", "Kspec"):  # K_s splits into K
        return "K"
    if token in ("J", "H"):
        return token
    if token.upper() == "RG850":
        return "z"
    if token == "Y":
        return "y"
    if token in ("U", "B", "V", "R", "I"):
        return token
    if token in ("Rc", "RC", "Ic", "IC"):
        return token[0].upper()
    if named_johnson and token.upper() in ("U", "B", "V", "R", "I"):
        return token.upper()
    if len(token) == 1 and token.lower() in "ugriz":
        return token.lower()  # u g r i z, and the uppercase G and Z of some instruments
    if len(token) == 2 and token.endswith("'") and token[0] in "ugriz":
        return token[0]
    return None


def catalog_order(band: str, dec: float, preference: str = "PS1") -> list[str]:
    """The catalogs that calibrate ``band`` at declination ``dec``, the closest band first.

    Raises
    ------
    ValueError
        When no catalog has the band there.
    """
    pref = str(preference).lower().replace("-", "")
    if band in ("J", "H", "K"):
        return ["2mass"]
    south = dec < _PS1_SOUTH_LIMIT
    order = [pref] if pref in ("sdss", "skymapper", "gspc") and band in _COVERS[pref] else []
    if band == "u":
        order.append("skymapper" if south else "sdss")
    elif band in ("g", "r", "i", "z"):
        order.append("skymapper" if south else "ps1")
    elif band == "y" and not south:
        order.append("ps1")
    if band in _COVERS["gspc"]:
        order.append("gspc")  # all-sky: the survey's fallback, the only one for U B V R I
    order = list(dict.fromkeys(order))
    if not order:
        raise ValueError(f"no catalog calibrates band {band!r} at dec {dec:+.2f}")
    return order


def choose_catalog(band: str, dec: float, preference: str = "PS1") -> str:
    """The first catalog of :func:`catalog_order` (raises ValueError if none calibrates it)."""
    return catalog_order(band, dec, preference)[0]

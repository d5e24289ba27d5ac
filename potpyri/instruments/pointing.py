"""A starting sky WCS from the telescope pointing, for raw files that carry none.

LRIS, IMACS and many small-telescope cameras write only RA/Dec (in degrees, decimal hours or
sexagesimal text) and a rotator angle. The WCS built here is good to the pointing error, which
the astrometry step then searches (``PNTUNC``, arcsec, written with it).
"""

from __future__ import annotations

import math

import numpy as np
from astropy import units as u
from astropy.coordinates import Angle
from astropy.io import fits

__all__ = ["has_celestial_wcs", "pointing_wcs", "sky_angle"]


def has_celestial_wcs(header: fits.Header) -> bool:
    """Whether ``header`` has a usable celestial TAN-like WCS (RA/DEC axes and a scale)."""
    ctype1 = str(header.get("CTYPE1", "")).upper()
    ctype2 = str(header.get("CTYPE2", "")).upper()
    scale = any(k in header for k in ("CD1_1", "CDELT1", "PC1_1"))
    return ctype1.startswith("RA") and ctype2.startswith("DEC") and scale


def sky_angle(value, unit: str, keyword: str, is_ra: bool) -> float:
    """An RA or Dec header value in degrees.

    ``unit`` is ``deg``, ``hourangle`` or ``auto``: in ``auto``, text with ``:`` or spaces is
    sexagesimal (hours for RA, degrees for Dec) and a number is degrees.
    """
    text = str(value).strip()
    try:
        if unit == "hourangle":
            return float(Angle(float(text) if _is_number(text) else text, unit=u.hourangle).deg)
        if unit == "deg" or _is_number(text):
            return float(Angle(float(text) if _is_number(text) else text, unit=u.deg).deg)
        return float(Angle(text, unit=u.hourangle if is_ra else u.deg).deg)
    except (ValueError, TypeError):
        raise ValueError(f"keyword {keyword}={text!r} is not an angle") from None


def _is_number(text: str) -> bool:
    try:
        float(text)
    except ValueError:
        return False
    return True


class NoPointing(ValueError):
    """The header has no pointing keywords (as opposed to malformed ones)."""


def pointing_wcs(
    header: fits.Header,
    pointing,
    shape: tuple[int, int],
    pixscale_arcsec: float,
    offset_arcsec: tuple[float, float] = (0.0, 0.0),
) -> fits.Header:
    """TAN WCS cards from the pointing keywords in ``header``.

    Parameters
    ----------
    header : astropy.io.fits.Header
        The raw header with the pointing keywords named by ``pointing``.
    pointing : Pointing
        The instrument's :class:`~potpyri.instruments.schema.Pointing` node.
    shape : tuple of int
        ``(ny, nx)`` of the assembled image; the pointing falls on its centre.
    pixscale_arcsec : float
        Arcsec per (binned) pixel.
    offset_arcsec : tuple of float
        Offset (east, north) of this image's centre from the pointing (one-chip files).

    Raises
    ------
    NoPointing
        One line naming the missing keyword.
    ValueError
        One line naming the malformed keyword.
    """
    for key in (pointing.ra, pointing.dec):
        if header.get(key) in (None, ""):
            raise NoPointing(f"no sky WCS and no pointing keyword {key} (instrument.pointing)")
    ra = sky_angle(header[pointing.ra], pointing.ra_unit, pointing.ra, is_ra=True)
    dec = sky_angle(
        header[pointing.dec],
        "deg" if pointing.ra_unit == "deg" else "auto",
        pointing.dec,
        is_ra=False,
    )
    angle = pointing.angle_offset_deg
    if pointing.position_angle:
        value = header.get(pointing.position_angle)
        try:
            angle += float(value)
        except (TypeError, ValueError):
            raise ValueError(
                f"keyword {pointing.position_angle}={value!r} (instrument.pointing."
                "position_angle) is not a number"
            ) from None
    east, north = offset_arcsec
    dec_centre = dec + north / 3600.0
    ra_centre = ra + east / 3600.0 / max(math.cos(math.radians(dec_centre)), 1e-6)
    theta = math.radians(angle)
    # (xi east, eta north) = scale * R @ F @ (x, y): F the flips, R turns +y from north
    # through east by the position angle.
    flips = np.diag([-1.0 if pointing.flip_x else 1.0, -1.0 if pointing.flip_y else 1.0])
    rotation = np.array([[math.cos(theta), math.sin(theta)], [-math.sin(theta), math.cos(theta)]])
    cd = pixscale_arcsec / 3600.0 * rotation @ flips
    ny, nx = shape
    cards = fits.Header()
    cards["CTYPE1"], cards["CTYPE2"] = "RA---TAN", "DEC--TAN"
    cards["CRVAL1"], cards["CRVAL2"] = ra_centre % 360.0, dec_centre
    cards["CRPIX1"], cards["CRPIX2"] = (nx + 1) / 2.0, (ny + 1) / 2.0
    for (i, j), value in np.ndenumerate(cd):
        cards[f"CD{i + 1}_{j + 1}"] = float(value)
    cards["RADESYS"], cards["EQUINOX"] = "ICRS", 2000.0
    cards["WCSSRC"] = ("pointing", "starting WCS built from the pointing keywords")
    cards["PNTUNC"] = (float(pointing.uncertainty_arcsec), "[arcsec] pointing uncertainty")
    return cards

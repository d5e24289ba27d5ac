"""QC flags: the reference's QC advice, one readable line per problem found in a stack.

No flag contains "; ": the runner joins an item's warnings with it.
"""

from __future__ import annotations

from typing import Any, Protocol

import numpy as np

__all__ = ["QcLimits", "frame_dispersion_flags", "qc_flags"]


class QcLimits(Protocol):
    """The limits the flags compare with (the ``qa`` step's config; flags name its keys)."""

    min_psf_stars: int
    max_psf_asymmetry: float
    match_radius_arcsec: float
    min_match_fraction: float
    min_zp_stars: int
    max_zp_uncertainty_mag: float
    min_sources: int


def qc_flags(
    values: dict,
    measured: dict,
    psfstars: int | None,
    cfg: QcLimits,
    stem: str,
    cut_px: float = 1.0,
) -> list[str]:
    """The flags of one stack from its header ``values`` and the QA's ``measured`` values.

    ``cut_px`` is the astrometric dispersion cut in pixels; the stack's pixel scale (arcsec) is
    ``measured["pixscale"]``.
    """
    flags = []
    if values.get("PHOTMETH") == "APERTURE":
        why = str(values.get("PHOTWHY", "no usable PSF")).replace("; ", ", ")
        flags.append(f"{stem}: aperture photometry only, no PSF photometry (PHOTWHY: {why})")
    # The photometry step's header values win over the QA's own quick measurements.
    n_psf = int(values["NPSFSTAR"]) if "NPSFSTAR" in values else psfstars
    if n_psf is not None and n_psf < cfg.min_psf_stars:
        flags.append(f"{stem}: PSF from {n_psf} star(s) (< qa.min_psf_stars={cfg.min_psf_stars})")
    if "PSFSIGX" in values and "PSFSIGY" in values:
        sx, sy = float(values["PSFSIGX"]), float(values["PSFSIGY"])
        asym = abs(sx - sy) / max(sx, sy) if max(sx, sy) > 0 else None
    else:
        asym = measured.get("psf_asymmetry")
    if asym is not None and asym > cfg.max_psf_asymmetry:
        flags.append(
            f"{stem}: PSF x/y widths differ by {asym:.0%} "
            f"(> qa.max_psf_asymmetry={cfg.max_psf_asymmetry:.0%})"
        )
    scale = measured.get("pixscale") or None
    for key in ("RADISP", "DEDISP"):
        if key in values and scale and float(values[key]) / scale > cut_px:
            flags.append(
                f'{stem}: {key}={float(values[key]):.3f}" = {float(values[key]) / scale:.2f} px '
                f"(> dispersion cut {cut_px} px)"
            )
    for name, key in (("RA", "rms_ra"), ("Dec", "rms_dec")):
        value = measured.get(key)
        if value is not None and scale and np.isfinite(value) and value / scale > cut_px:
            flags.append(
                f'{stem}: stack residual scatter in {name} {value:.3f}" against the catalog '
                f"(> dispersion cut {cut_px} px)"
            )
    n_inside, n_matched = measured.get("n_catalog_inside"), measured.get("n_matched")
    if n_inside and n_matched is not None and n_matched < cfg.min_match_fraction * n_inside:
        flags.append(
            f"{stem}: only {n_matched} of the {n_inside} catalog stars inside the stack match a "
            f"detection within qa.match_radius_arcsec={cfg.match_radius_arcsec}"
            f'" (< qa.min_match_fraction={cfg.min_match_fraction}: the WCS may be off)'
        )
    n_zp = int(values["ZPTNSTAR"]) if "ZPTNSTAR" in values else measured.get("n_zp_stars")
    if n_zp is not None and n_zp < cfg.min_zp_stars:
        flags.append(
            f"{stem}: zero point from {n_zp} star(s) (< qa.min_zp_stars={cfg.min_zp_stars})"
        )
    if "ZPTMUCER" in values and float(values["ZPTMUCER"]) > cfg.max_zp_uncertainty_mag:
        flags.append(
            f"{stem}: ZPTMUCER={float(values['ZPTMUCER']):.3f} mag "
            f"(> qa.max_zp_uncertainty_mag={cfg.max_zp_uncertainty_mag})"
        )
    n_sources = int(values["NSOURCES"]) if "NSOURCES" in values else measured.get("n_sources", 0)
    if n_sources < cfg.min_sources:
        flags.append(f"{stem}: {n_sources} source(s) detected (< qa.min_sources={cfg.min_sources})")
    return flags


def frame_dispersion_flags(
    frames: dict[str, dict[str, Any]], cut_px: float, stem: str
) -> list[str]:
    """Input frames whose RADISP/DEDISP exceed the cut (kept by ``align.keep_all_astro``)."""
    flags = []
    for name, row in frames.items():
        for key in ("radisp", "dedisp"):
            value, scale = row.get(key), row.get("pixscale")
            if value is not None and scale and value / scale > cut_px:
                flags.append(
                    f'{name}: {key.upper()}={value:.3f}" = {value / scale:.2f} px '
                    f"(> {cut_px} px) in {stem}"
                )
    return flags

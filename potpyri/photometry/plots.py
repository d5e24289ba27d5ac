"""PNG plots of the photometry products: the ePSF, and the zero-point stars."""

from __future__ import annotations

import numpy as np
from astropy.table import Table
from matplotlib.figure import Figure

from potpyri.photometry.measure import PhotometryResult
from potpyri.photometry.zeropoint import ZeroPoint
from potpyri.qa.plots import figure_png

__all__ = ["epsf_png", "zp_png"]


def epsf_png(res: PhotometryResult, name: str) -> bytes:
    """PNG of the ePSF (log stretch) with its FWHM and Gaussian sigmas in the title."""
    fig = Figure(figsize=(4.5, 4.2))
    ax = fig.subplots()
    image = np.clip(res.epsf / res.epsf.max(), 1e-4, None)
    ax.imshow(np.log10(image), origin="lower", cmap="viridis")
    sigma_x, sigma_y = res.gauss_sigma
    ax.set_title(
        f"{name}\nFWHM {res.fwhm:.2f} px, sigma x {sigma_x:.2f} y {sigma_y:.2f}", fontsize=8
    )
    return figure_png(fig, dpi=90)


def zp_png(zpstars: Table, fit: ZeroPoint, label: str, name: str) -> bytes:
    """PNG of catalog minus instrumental magnitude against catalog magnitude (``label``, AB), or
    against the catalog colour with the fitted line when a colour term was fitted."""
    fig = Figure(figsize=(5, 3.6))
    ax = fig.subplots()
    delta = zpstars["catalog_mag"] - zpstars["mag_inst"]
    used = np.asarray(zpstars["used"], bool)
    by_color = bool(fit.color) and "color" in zpstars.colnames
    x = np.asarray(zpstars["color"] if by_color else zpstars["catalog_mag"], float)
    ax.errorbar(
        x[used],
        delta[used],
        yerr=zpstars["mag_inst_err"][used],
        fmt="o",
        ms=3,
        label=f"used ({used.sum()})",
    )
    ax.plot(x[~used], delta[~used], "x", color="grey", label="clipped")
    if by_color:
        line = np.array([np.nanmin(x), np.nanmax(x)]) if np.isfinite(x).any() else np.zeros(2)
        model = fit.zp + fit.color_term * line
        ax.plot(line, model, color="k")
        ax.fill_between(line, model - fit.scatter, model + fit.scatter, color="k", alpha=0.1)
        ax.set_xlabel(f"{label.split()[0]} {fit.color} (AB)")
        title = f"ZP {fit.zp:.3f} ± {fit.error:.3f} + {fit.color_term:.3f} ({fit.color})"
    else:
        ax.axhline(fit.zp, color="k")
        ax.axhspan(fit.zp - fit.scatter, fit.zp + fit.scatter, color="k", alpha=0.1)
        ax.set_xlabel(f"{label} (AB)")
        title = f"ZP {fit.zp:.3f} ± {fit.error:.3f}"
    ax.set_ylabel("catalog - instrumental")
    ax.set_title(f"{name}: {title}", fontsize=8)
    ax.legend(fontsize=7)
    return figure_png(fig, dpi=90)

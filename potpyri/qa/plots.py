"""The report's figures, rendered with matplotlib's object API (no pyplot state) to PNG bytes."""

from __future__ import annotations

import io
from typing import Any

import matplotlib
import numpy as np
from astropy.wcs import WCS
from matplotlib.colors import to_rgba_array
from matplotlib.figure import Figure
from matplotlib.patches import Patch

from potpyri.qa.compass import north_east
from potpyri.qa.measure import Match, MoffatFit
from potpyri.qa.names import DETECTIONS_LABEL, MASK_CLASSES, STAMP_FWHM_LABEL

__all__ = [
    "astrometry_png",
    "figure_png",
    "frames_astrometry_figure",
    "frames_astrometry_png",
    "mask_classes",
    "preview_figure",
    "preview_png",
    "psf_png",
    "zeropoint_png",
]

_DPI = 90
_CATALOG_NAMES = {
    "gaia": "Gaia",
    "ps1": "Pan-STARRS",
    "sdss": "SDSS",
    "skymapper": "SkyMapper",
    "2mass": "2MASS",
}
_LEVEL_SAMPLE = 250_000  # pixels the preview's display levels are measured on
_PREVIEW_MAX_PX = 1000  # the preview is 7.5 in wide at _DPI: 675 pixels


def figure_png(fig: Figure, **savefig: Any) -> bytes:
    """PNG bytes of a figure, drawn with ``fig.savefig(..., format="png", **savefig)``.

    Build the figure with ``matplotlib.figure.Figure`` (no pyplot: no global state, no backend
    to select, nothing to close). The bytes are the same on every run for the same figure.
    """
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", **savefig)
    return buffer.getvalue()


def _png(fig: Figure) -> bytes:
    return figure_png(fig, dpi=_DPI, bbox_inches="tight", metadata={"Software": None})


def mask_classes(sci: np.ndarray, mask: np.ndarray | None) -> np.ndarray:
    """Per pixel, 0 where good, else 1 + the index of its class in
    :data:`~potpyri.qa.names.MASK_CLASSES`."""
    bits = np.zeros(sci.shape, np.uint8) if mask is None else np.asarray(mask).astype(np.uint8)
    classes = np.zeros(sci.shape, np.uint8)
    for index, (*_, covered) in reversed(list(enumerate(MASK_CLASSES))):
        classes[(bits & covered) != 0] = index + 1
    classes[~np.isfinite(sci)] = 1
    return classes


def preview_png(
    sci: np.ndarray,
    mask: np.ndarray | None,
    catalog_xy: np.ndarray | None,
    detected_xy: np.ndarray | None,
    title: str,
    wcs: WCS | None = None,
    catalog: str = "gaia",
) -> bytes:
    """PNG bytes of :func:`preview_figure`."""
    return _png(preview_figure(sci, mask, catalog_xy, detected_xy, title, wcs, catalog))


def preview_figure(
    sci: np.ndarray,
    mask: np.ndarray | None,
    catalog_xy: np.ndarray | None,
    detected_xy: np.ndarray | None,
    title: str,
    wcs: WCS | None = None,
    catalog: str = "gaia",
) -> Figure:
    """Asinh-stretched stack with catalog stars (circles), the QA's detections (crosses), masked
    pixels coloured by class (legend), and, with a celestial WCS, RA/Dec axes and N/E arrows.

    Parameters
    ----------
    sci, mask : numpy.ndarray
        The stack's pixels and its MASK bits (None: no mask); the classes shown are
        :data:`~potpyri.qa.names.MASK_CLASSES`.
    catalog_xy, detected_xy : numpy.ndarray or None
        (n, 2) pixel positions of the catalog stars and of the QA's detections.
    title : str
        The figure's title.
    wcs : WCS, optional
        The stack's WCS; without a celestial one the axes are in pixels and there are no arrows.
    catalog : str
        The catalog's name in the legend (``gaia``, ``ps1``...).
    """
    from astropy.stats import sigma_clipped_stats
    from astropy.visualization import AsinhStretch, ImageNormalize, ManualInterval

    classes = mask_classes(sci, mask)
    good = classes == 0
    values = sci[good] if good.any() else np.zeros(1)
    # The display levels need no more than a regular sample of the pixels (the clipped median
    # of the whole image was the slowest part of drawing the preview).
    values = values[:: max(1, values.size // _LEVEL_SAMPLE)]
    _, median, std = sigma_clipped_stats(values, sigma=3.0, maxiters=5)
    # From 3 sky sigmas below the sky to the brightest stars: faint sources stand out of the
    # noise and bright cores are not burnt out (asinh is linear near 0, logarithmic above).
    top = max(float(np.percentile(values, 99.95)), median + 20 * std)
    norm = ImageNormalize(
        stretch=AsinhStretch(0.02), interval=ManualInterval(median - 3 * std, top)
    )
    ny, nx = sci.shape
    sky = wcs is not None and wcs.has_celestial
    fig = Figure(figsize=(7.5, 7.5 * ny / nx + 0.6))
    ax = fig.add_subplot(projection=wcs.celestial) if sky else fig.add_subplot()
    # One RGBA image (stretched sky in grey, masked pixels in their class colour): a second,
    # overlaid image of the mask would double the drawing time of the largest figure.
    rgba = matplotlib.colormaps["gray_r"](norm(np.where(good, sci, median)), bytes=True)
    for index, (colour, *_) in enumerate(MASK_CLASSES):
        rgba[classes == index + 1] = np.round(255 * to_rgba_array(colour)[0]).astype(np.uint8)
    rgba, extent = _display_binned(rgba)
    ax.imshow(rgba, origin="lower", interpolation="antialiased", extent=extent)
    present = [i for i in range(len(MASK_CLASSES)) if (classes == i + 1).any()]
    if catalog_xy is not None and len(catalog_xy):
        inside = (
            (catalog_xy[:, 0] > -0.5)
            & (catalog_xy[:, 0] < nx - 0.5)
            & (catalog_xy[:, 1] > -0.5)
            & (catalog_xy[:, 1] < ny - 0.5)
        )
        ax.scatter(
            catalog_xy[inside, 0],
            catalog_xy[inside, 1],
            s=130,
            facecolors="none",
            edgecolors="tab:blue",
            linewidths=1.3,
            label=f"{_CATALOG_NAMES.get(catalog, catalog)} stars ({int(inside.sum())})",
        )
    if detected_xy is not None and len(detected_xy):
        ax.scatter(
            detected_xy[:, 0],
            detected_xy[:, 1],
            s=25,
            marker="x",
            color="tab:red",
            linewidths=0.7,
            label=f"{DETECTIONS_LABEL} ({len(detected_xy)})",
        )
    handles = ax.get_legend_handles_labels()[0]
    for index in present:  # the masked areas are explained in the legend, with their share
        colour, _, label, _ = MASK_CLASSES[index]
        share = float((classes == index + 1).mean())
        shown = f"{share:.1%}" if share >= 0.001 else "< 0.1%"
        handles.append(Patch(color=colour, label=f"{label}: {shown} of the image"))
    ax.set_xlim(-0.5, nx - 0.5)
    ax.set_ylim(-0.5, ny - 0.5)
    if sky:
        ra, dec = ax.coords[0], ax.coords[1]
        ra.set_axislabel("RA (ICRS) [h:m:s]")
        dec.set_axislabel("Dec (ICRS) [d:m:s]")
        ra.set_major_formatter("hh:mm:ss")
        dec.set_major_formatter("dd:mm:ss")
        for coord in (ra, dec):  # plain "10:00:36": the default superscripts need mathtext
            coord.set_separator((":", ":", ""))
        _compass(ax, wcs, (ny, nx))
    else:
        ax.set_xlabel("x [pixel]")
        ax.set_ylabel("y [pixel]")
    ax.set_title(title, fontsize=10)
    if handles:
        ax.legend(handles=handles, loc="upper right", fontsize=7, framealpha=0.85)
    return fig


def _display_binned(rgba: np.ndarray) -> tuple[np.ndarray, tuple[float, float, float, float]]:
    """The image averaged in blocks to at most about twice the figure's resolution (the figure
    shows no more; drawing a large stack at full size is most of the QA's drawing time), and its
    extent in the original pixels."""
    ny, nx = rgba.shape[:2]
    factor = max(1, int(np.ceil(max(ny, nx) / _PREVIEW_MAX_PX)))
    if factor > 1:
        pad = ((0, -ny % factor), (0, -nx % factor), (0, 0))
        rgba = np.pad(rgba, pad, mode="edge")
        by, bx = rgba.shape[0] // factor, rgba.shape[1] // factor
        blocks = rgba.reshape(by, factor, bx, factor, 4).mean(axis=(1, 3))
        rgba = np.round(blocks).astype(np.uint8)
    height, width = rgba.shape[0] * factor, rgba.shape[1] * factor
    return rgba, (-0.5, width - 0.5, -0.5, height - 0.5)


def _compass(ax, wcs: WCS, shape: tuple[int, int]) -> None:
    """North and east arrows in the lower-left corner, from the WCS at the image centre."""
    ny, nx = shape
    north, east = north_east(wcs, shape)
    length = 0.09 * min(nx, ny)
    origin = np.array([1.6 * length, 1.6 * length])
    for vector, name in ((north, "N"), (east, "E")):
        tip = origin + length * vector
        ax.annotate(
            "",
            xy=tuple(tip),
            xytext=tuple(origin),
            arrowprops={"arrowstyle": "-|>", "color": "tab:green", "lw": 1.6},
            gid=f"compass-{name}",
        )
        label = origin + 1.35 * length * vector
        ax.text(
            *label,
            name,
            color="tab:green",
            ha="center",
            va="center",
            fontsize=10,
            fontweight="bold",
            bbox={"boxstyle": "round,pad=0.15", "fc": "white", "alpha": 0.7, "lw": 0},
        )


def psf_png(stamp: np.ndarray, fit: MoffatFit | None, title: str, pixscale: float | None) -> bytes:
    """PSF stamp (log stretch) and its radial profile with the fitted Moffat function."""
    fig = Figure(figsize=(9, 3.8))
    ax1, ax2 = fig.subplots(1, 2, gridspec_kw={"width_ratios": [1, 1.5]})
    data = np.asarray(stamp, float)
    peak = data.max() if data.max() > 0 else 1.0
    ax1.imshow(
        np.log10(np.clip(data / peak, 1e-4, None)), origin="lower", cmap="viridis", vmin=-3, vmax=0
    )
    ax1.set_title("stamp (log10 of peak fraction)", fontsize=9)
    ax1.set_xticks([])
    ax1.set_yticks([])
    if fit is not None:
        ax2.plot(fit.radius, fit.value, ".", ms=3, color="0.3", label="stamp pixels")
        r = np.linspace(0, float(fit.radius.max()), 200)
        # "stamp FWHM": the width of this stamp (pixel response included), not the header's
        # seeing FWHM, which is fitted star by star with the pixel integrated out.
        fwhm = f"{fit.fwhm:.2f} px" + (f' = {fit.fwhm * pixscale:.2f}"' if pixscale else "")
        ax2.plot(
            r,
            fit.model(r),
            "-",
            color="tab:red",
            label=f"Moffat fit: {STAMP_FWHM_LABEL} {fwhm}, α={fit.alpha:.2f}",
        )
        ax2.axhline(0.5, color="0.6", lw=0.6, ls=":")
        ax2.legend(fontsize=8)
    else:
        ax2.text(0.5, 0.5, "Moffat fit failed", ha="center", transform=ax2.transAxes)
    ax2.set_xlabel("radius [image pixel]")
    ax2.set_ylabel("value / fitted peak")
    ax2.set_title("radial profile", fontsize=9)
    fig.suptitle(title, fontsize=10)
    return _png(fig)


def _residual_vectors(ax, match: Match, scale: float, width: float):
    """Residual vectors drawn ten times longer than a ``scale`` arcsec key would be."""
    return ax.quiver(
        match.x,
        match.y,
        match.dra,
        match.ddec,
        angles="xy",
        scale_units="width",
        scale=scale * 10,
        width=width,
        color="tab:purple",
    )


def astrometry_png(match: Match, shape: tuple[int, int], title: str) -> bytes:
    """Residual vectors (detected minus catalog) across the field, and their histogram."""
    fig = Figure(figsize=(10, 4.2))
    ax1, ax2 = fig.subplots(1, 2, gridspec_kw={"width_ratios": [1.2, 1]})
    ny, nx = shape
    sep = np.hypot(match.dra, match.ddec)
    if match.n:
        scale = max(float(np.percentile(sep, 90)), 1e-3)
        q = _residual_vectors(ax1, match, scale, width=0.004)
        ax1.quiverkey(
            q, 0.75, 0.93, scale, f'{scale:.3f}"', labelpos="E", fontproperties={"size": 8}
        )
        ax2.hist(sep, bins=max(5, min(30, match.n // 3)), color="tab:purple", alpha=0.8)
    else:
        for ax in (ax1, ax2):
            ax.text(
                0.5,
                0.5,
                "no detected source matched a catalog star",
                ha="center",
                va="center",
                transform=ax.transAxes,
                fontsize=9,
                color="tab:red",
            )
    ax1.set_xlim(0, nx)
    ax1.set_ylim(0, ny)
    ax1.set_aspect("equal")
    ax1.set_xlabel("x [pixel]")
    ax1.set_ylabel("y [pixel]")
    ax1.set_title("residual vectors (×10 of the key's length)", fontsize=9)
    rra, rdec = match.rms()
    ax2.set_xlabel("separation detected − Gaia [arcsec]")
    ax2.set_ylabel("stars")
    ax2.set_title(
        f'{match.n} matched; scatter RA {rra:.3f}", Dec {rdec:.3f}"'
        if match.n > 1
        else f"{match.n} matched",
        fontsize=9,
    )
    fig.suptitle(title, fontsize=10, y=1.02)
    return _png(fig)


def frames_astrometry_png(matches: list[tuple[str, Match, tuple[int, int]]], title: str) -> bytes:
    """PNG bytes of :func:`frames_astrometry_figure`."""
    return _png(frames_astrometry_figure(matches, title))


def frames_astrometry_figure(
    matches: list[tuple[str, Match, tuple[int, int]]], title: str
) -> Figure:
    """One small residual-vector panel per frame (pixel axes), all on the same vector scale."""
    n = len(matches)
    cols = min(n, 4)
    rows = (n + cols - 1) // cols
    fig = Figure(figsize=(3.2 * cols, 3.3 * rows + 0.4))
    # Room between the panels for each one's axis labels (a layout engine would cost more time).
    grid = {"wspace": 0.45, "hspace": 0.55}
    axes = np.atleast_1d(fig.subplots(rows, cols, gridspec_kw=grid)).ravel()
    seps = np.concatenate([np.hypot(m.dra, m.ddec) for _, m, _ in matches if m.n] or [np.ones(1)])
    scale = max(float(np.percentile(seps, 90)), 1e-3)
    for ax, (name, match, (ny, nx)) in zip(axes, matches, strict=False):
        if match.n:
            _residual_vectors(ax, match, scale, width=0.006)
        rra, rdec = match.rms()
        sigma = f'σ {rra:.3f}"/{rdec:.3f}"' if match.n > 1 else "σ —"
        ax.set_title(f"{name.split('.fits')[0]}\n{match.n} stars, {sigma}", fontsize=8)
        if not match.n:
            ax.text(
                0.5,
                0.5,
                "no match",
                ha="center",
                va="center",
                transform=ax.transAxes,
                color="tab:red",
            )
        ax.set_xlim(0, nx)
        ax.set_ylim(0, ny)
        ax.set_aspect("equal")
        ax.set_xlabel("x [pixel]", fontsize=7)
        ax.set_ylabel("y [pixel]", fontsize=7)
        ax.tick_params(labelsize=6)
    for ax in axes[n:]:
        ax.set_visible(False)
    fig.suptitle(f'{title} (vector ×10; 90th percentile = {scale:.3f}")', fontsize=9)
    return fig


def zeropoint_png(
    cat_mag: np.ndarray,
    inst_mag: np.ndarray,
    colour: np.ndarray | None,
    used: np.ndarray,
    zp: float,
    zp_err: float,
    title: str,
    colour_label: str = "catalog colour",
    colour_term: float = 0.0,
) -> bytes:
    """Catalog vs instrumental magnitudes, and residuals vs colour and vs magnitude (clipped stars
    marked); a fitted colour term (``colour_term`` per mag of the colour shown) as a line on the
    colour panel."""
    fig = Figure(figsize=(12, 3.8))
    axes = fig.subplots(1, 3, gridspec_kw={"wspace": 0.38})
    resid = cat_mag - inst_mag - zp
    for ax, xval, xlabel in (
        (axes[0], inst_mag, "instrumental mag"),
        (axes[1], colour, colour_label),
        (axes[2], cat_mag, "catalog mag"),
    ):
        if xval is None:
            ax.text(0.5, 0.5, "no colour in the catalog", ha="center", transform=ax.transAxes)
            ax.set_xlabel(xlabel)
            continue
        yval = cat_mag if ax is axes[0] else resid
        ax.plot(
            xval[used], yval[used], "o", ms=3, color="tab:blue", label=f"used ({int(used.sum())})"
        )
        ax.plot(
            xval[~used],
            yval[~used],
            "x",
            ms=4,
            color="tab:red",
            label=f"clipped ({int((~used).sum())})",
        )
        ax.set_xlabel(xlabel)
        if ax is axes[0]:
            grid = np.linspace(np.nanmin(inst_mag), np.nanmax(inst_mag), 2)
            ax.plot(grid, grid + zp, "-", color="k", lw=0.8, label=f"ZP {zp:.3f} ± {zp_err:.3f}")
            ax.set_ylabel("catalog mag")
        else:
            ax.axhline(0, color="k", lw=0.8)
            ax.set_ylabel("catalog − (instrumental + ZP)")
        if ax is axes[1] and colour_term and np.isfinite(xval).any():
            grid = np.array([np.nanmin(xval), np.nanmax(xval)])
            ax.plot(grid, colour_term * grid, "--", color="k", lw=0.8, label=f"{colour_term:+.3f}")
        ax.legend(fontsize=7)
    fig.suptitle(title, fontsize=10)
    return _png(fig)

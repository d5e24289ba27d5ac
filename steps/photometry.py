"""photometry: aperture and PSF photometry of each stack (APPPHOT, PSFSTARS, PSF, PSFPHOT, RESIDUAL).

Header keywords written to the stack's primary header: ``FWHM`` (seeing FWHM, px: weighted mean
over the PSF stars of pixel-integrated Moffat fits), ``FWHMERR`` (its 1-sigma uncertainty; absent
if no star could be fitted), ``EPSFFWHM`` (Moffat2D FWHM of the ePSF itself, pixel included, px),
``PSFBETA`` (beta of the pixel-integrated Moffat fit of the ePSF),
``PSFSIGX``/``PSFSIGY`` (Gaussian2D sigma, px), ``SKYSIG`` (sky sigma per pixel, e-/s), ``NPSFSTAR``,
``PSFSNTHR`` (S/N threshold of the PSF-star loop), ``APCORR``/``PSFCORR`` (total/aperture and
total/PSF-fit flux; total = the 4-FWHM flux over the seeing Moffat's fraction inside 4 FWHM),
``NOISAREA`` (1/Σp², px), ``NSOURCES``, ``PHOTSNMN`` (detection S/N), ``PSFMODER`` (fractional
PSF-model error in every PSF flux error), ``NOISEPSF``/``NOISEAP``/``NOISEBIG`` (empty-sky noise
over ERR-predicted noise of PSF fits, the 1.5-FWHM aperture and the 4-FWHM calibration aperture,
local sky included: the factors the errors were scaled by; larger where pixels share noise, e.g.
resampled stacks).
Standalone copies: ``<stem>.apphot.ecsv``, ``<stem>.psfphot.ecsv``, ``<stem>.reg`` (ds9),
``<stem>.epsf.png``.
"""

from __future__ import annotations

import io
from dataclasses import dataclass

import numpy as np
from astropy.io import fits
from astropy.table import Table
from astropy.wcs import WCS

from potpyri.framework.step import (
    Item,
    Output,
    Product,
    Scope,
    Step,
    StepConfig,
    StepFailed,
    Task,
    register_step,
)
from potpyri.photometry.measure import PhotometryResult, measure_stack
from potpyri.stepkit.frame_io import read_product

__all__ = ["Photometry", "select_stacks", "stack_stem"]


@register_step("photometry")
class Photometry(Step):
    """Detection, ApertureStats, ePSF and PSF photometry of every stack."""

    @dataclass
    class Config(StepConfig):
        sn_min: float = 3.0  #: detection threshold (S/N); the PSF-star loop stops here
        sn_max: float = 20.0  #: first S/N threshold of the PSF-star loop
        fwhm_init: float = 5.0  #: initial FWHM guess, pixels
        min_psf_stars: int = 25  #: lower the PSF-star threshold until this many are found
        max_psf_stars: int = 150  #: brightest PSF stars used at most
        max_sources: int = 20000  #: brightest detections kept at most
        oversampling: int = 2  #: ePSF oversampling
        psf_sn_floor: float = 10.0  #: the PSF-star loop stops here unless < 3 stars lie above
        moffat_base: bool = (
            True  #: fit with the ePSF's Moffat + smoothed residual (False: raw ePSF)
        )

    # 5: matched-filter detection, mode local sky; 6: Moffat wings beyond 4 FWHM; 7: errors scaled
    # by empty-sky noise factors, PSF-model error from a likelihood fit with the fluxes' covariance;
    # 8: PSF fits subtract the aperture's local sky; 9: FLAG_PARTIAL and nframes from COVERAGE;
    # 10: the fitted PSF is the ePSF's pixel-integrated Moffat plus its smoothed residual;
    # 11: FLAG_NEIGHBOUR only where neighbours add > 0.5% to the aperture
    version = "11"
    scope = Scope.target

    def select(self, items: list[Item]) -> list[Item]:
        """The stacks still in the run."""
        return select_stacks(items)

    def run(self, task: Task) -> list[Output]:
        item = task.inputs[0]
        path = item.path("stack")
        hdus = read_product(path, drop=_OWN_EXTENSIONS)
        sci, mask, err = hdus["SCI"].data, hdus["MASK"].data, hdus["ERR"].data
        wcs = _celestial(hdus["SCI"].header)
        cfg = self.config
        try:
            res = measure_stack(
                sci,
                err,
                mask,
                wcs,
                sn_min=cfg.sn_min,
                sn_max=cfg.sn_max,
                fwhm_init=cfg.fwhm_init,
                min_psf_stars=cfg.min_psf_stars,
                max_psf_stars=cfg.max_psf_stars,
                max_sources=cfg.max_sources,
                oversampling=cfg.oversampling,
                psf_sn_floor=cfg.psf_sn_floor,
                coverage=hdus["COVERAGE"].data if "COVERAGE" in hdus else None,
                moffat_base=cfg.moffat_base,
            )
        except ValueError as exc:
            raise StepFailed(f"{path.name}: {exc}") from None
        self.log.info(
            "%s: %d sources, %d PSF stars (S/N >= %g), FWHM %.2f px; PSF Gaussian sigma "
            "x=%.3f y=%.3f px",
            path.name,
            len(res.apphot),
            len(res.psfstars),
            res.psf_threshold,
            res.fwhm,
            *res.gauss_sigma,
        )
        header = hdus[0].header
        _write_header(header, res, cfg.sn_min, cfg.moffat_base)
        hdus += _tables(res)
        stem = stack_stem(path.name)
        meta = dict(item.meta)
        meta.update(
            {
                "fwhm": res.fwhm,
                "skysig": res.skysig,
                "nsources": len(res.apphot),
                "npsfstars": len(res.psfstars),
                "psf_model_error": res.psf_model_error,
                "noise_factors": dict(res.noise_factors),
                "warnings": list(res.warnings),
            }
        )
        products = {
            "stack": Product(path.name, hdus, "."),
            "apphot": Product(f"{stem}.apphot.ecsv", res.apphot, "."),
            "psfphot": Product(f"{stem}.psfphot.ecsv", res.psfphot, "."),
            "regions": Product(f"{stem}.reg", ds9_regions(res.apphot, res.fwhm), "."),
            "epsf_plot": Product(f"{stem}.epsf.png", epsf_png(res, path.name), "."),
        }
        return [Output(item.id, "target", meta, products)]


#: Extensions this step writes (dropped from the input if it already had them).
_OWN_EXTENSIONS = ("APPPHOT", "PSFSTARS", "PSF", "PSFPHOT", "RESIDUAL", "ZPSTARS")


def select_stacks(items: list[Item]) -> list[Item]:
    """Target items with a ``stack`` product that no step has set aside."""
    return [i for i in items if i.ok and i.kind == "target" and "stack" in i.files]


def stack_stem(name: str) -> str:
    """``obj.filt.date.amp.bin`` of ``obj.filt.date.amp.bin.stk.fits``."""
    return name.removesuffix(".fits").removesuffix(".stk")


def _celestial(header: fits.Header) -> WCS | None:
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        try:
            wcs = WCS(header)
        except Exception:
            return None
    return wcs if wcs.has_celestial else None


def _write_header(
    header: fits.Header, res: PhotometryResult, sn_min: float, moffat_base: bool
) -> None:
    header["FWHM"] = (round(res.fwhm, 4), "seeing FWHM, px (pixel-integrated Moffat fits)")
    if np.isfinite(res.fwhm_err):
        header["FWHMERR"] = (round(res.fwhm_err, 4), "1-sigma uncertainty of FWHM, px")
    else:
        header.remove("FWHMERR", ignore_missing=True)
    header["EPSFFWHM"] = (round(res.epsf_fwhm, 4), "FWHM of the ePSF itself, px")
    header["PSFBETA"] = (round(res.moffat_beta, 4), "beta, pixel-integrated Moffat fit of the ePSF")
    header["PSFSIGX"] = (round(res.gauss_sigma[0], 4), "Gaussian2D x sigma of the ePSF, px")
    header["PSFSIGY"] = (round(res.gauss_sigma[1], 4), "Gaussian2D y sigma of the ePSF, px")
    header["SKYSIG"] = (float(f"{res.skysig:.6g}"), "sky sigma per pixel, e-/s")
    header["NPSFSTAR"] = (len(res.psfstars), "stars used to build the ePSF")
    header["PSFMODEL"] = (
        "moffat+residual" if moffat_base else "epsf",
        "ePSF Moffat + smoothed rest, or raw ePSF",
    )
    header["PSFSNTHR"] = (res.psf_threshold, "S/N threshold at which PSF stars were found")
    header["APCORR"] = (round(res.aperture_correction, 5), "total / aperture flux (PSF stars)")
    header["PSFCORR"] = (round(res.psf_correction, 5), "total / PSF-fit flux (PSF stars)")
    header["NOISAREA"] = (round(res.noise_area, 3), "PSF noise area 1/sum(p^2), px")
    header["NSOURCES"] = (len(res.apphot), "sources detected")
    header["PHOTSNMN"] = (sn_min, "detection threshold, S/N")
    header["PSFMODER"] = (
        round(res.psf_model_error, 5),
        "fractional PSF-model error in PSF flux errors",
    )
    for key, name, what in (
        ("NOISEPSF", "psf", "PSF fits"),
        ("NOISEAP", "aperture", "small aperture"),
        ("NOISEBIG", "big", "4-FWHM aperture"),
    ):
        if name in res.noise_factors:
            header[key] = (round(res.noise_factors[name], 4), f"empty-sky/ERR noise, {what}")


def _tables(res: PhotometryResult) -> list[fits.hdu.base.ExtensionHDU]:
    psf = fits.ImageHDU(res.epsf.astype(np.float32), name="PSF")
    psf.header["OVERSAMP"] = (res.oversampling, "ePSF oversampling factor")
    residual = fits.ImageHDU(res.residual, name="RESIDUAL")
    return [
        table_hdu(res.apphot, "APPPHOT"),
        table_hdu(res.psfstars, "PSFSTARS"),
        psf,
        table_hdu(res.psfphot, "PSFPHOT"),
        residual,
    ]


def table_hdu(table: Table, name: str) -> fits.BinTableHDU:
    """A named binary-table extension of ``table`` (its meta left out)."""
    hdu = fits.table_to_hdu(_plain(table))
    hdu.name = name
    return hdu


def _plain(table: Table) -> Table:
    out = Table(table, copy=False)
    out.meta.clear()
    return out


def ds9_regions(apphot: Table, fwhm: float) -> str:
    """A ds9 region file: a circle of radius FWHM at each detection (image coordinates, 1-based)."""
    lines = ["# Region file format: DS9 version 4.1", "global color=green width=1", "image"]
    lines += [
        f"circle({x + 1:.3f},{y + 1:.3f},{fwhm:.2f}) # text={{{i}}}"
        for i, x, y in zip(apphot["id"], apphot["x_centroid"], apphot["y_centroid"], strict=True)
    ]
    return "\n".join(lines) + "\n"


def epsf_png(res: PhotometryResult, name: str) -> bytes:
    """PNG of the ePSF (log stretch) with its FWHM and Gaussian sigmas in the title."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(4.5, 4.2))
    image = np.clip(res.epsf / res.epsf.max(), 1e-4, None)
    ax.imshow(np.log10(image), origin="lower", cmap="viridis")
    ax.set_title(
        f"{name}\nFWHM {res.fwhm:.2f} px, sigma x {res.gauss_sigma[0]:.2f} y {res.gauss_sigma[1]:.2f}",
        fontsize=8,
    )
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=90)
    plt.close(fig)
    return buffer.getvalue()

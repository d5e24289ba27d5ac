"""photometry: aperture and PSF photometry of each stack (APPPHOT, PSFSTARS, PSF, PSFPHOT,
RESIDUAL extensions and PSF/noise keywords: docs/outputs.rst, docs/keywords.yaml).

Standalone copies: ``<stem>.apphot.ecsv``, ``<stem>.psfphot.ecsv``, ``<stem>.reg`` (ds9),
``<stem>.epsf.png``. A stack without a usable PSF (too few PSF stars, or a model that disagrees
with its own stars) gets aperture photometry alone: ``PHOTMETH = 'APERTURE'`` and ``PHOTWHY``,
no PSF/PSFPHOT/RESIDUAL, and the task is counted as flagged.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

import numpy as np

from potpyri.astrometry.wcsio import header_wcs
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
from potpyri.photometry.measure import PhotometryMethod, measure_stack
from potpyri.photometry.outputs import (
    ds9_regions,
    photometry_hdus,
    write_photometry_header,
)
from potpyri.photometry.plots import epsf_png
from potpyri.stepkit.frame_io import read_product
from potpyri.stepkit.stacks import select_stacks, stack_stem

__all__ = ["Photometry"]

#: Extensions this step writes (dropped from the input if it already had them).
_OWN_EXTENSIONS = ("APPPHOT", "PSFSTARS", "PSF", "PSFPHOT", "RESIDUAL", "ZPSTARS")


@register_step("photometry")
class Photometry(Step):
    """Detection, ApertureStats, ePSF and PSF photometry of every stack."""

    @dataclass
    class Config(StepConfig):
        renamed: ClassVar[dict[str, str]] = {"fwhm_init": "fwhm_init_px"}  # old -> new
        sn_min: float = 3.0  #: detection threshold (S/N); the PSF-star loop stops here
        sn_max: float = 20.0  #: first S/N threshold of the PSF-star loop
        fwhm_init_px: float = 5.0  #: initial FWHM guess, pixels
        min_psf_stars: int = 25  #: lower the PSF-star threshold until this many are found
        max_psf_stars: int = 150  #: brightest PSF stars used at most
        max_sources: int = 20000  #: brightest detections kept at most
        oversampling: int = 2  #: ePSF oversampling
        psf_sn_floor: float = 10.0  #: the PSF-star loop stops here unless < 3 stars lie above
        moffat_base: bool = True  #: fit the ePSF's Moffat + smoothed residual (False: raw ePSF)

    version = "13"
    scope = Scope.target

    def select(self, items: list[Item]) -> list[Item]:
        """The stacks still in the run."""
        return select_stacks(items)

    def run(self, task: Task) -> list[Output]:
        item = task.inputs[0]
        path = item.path("stack")
        hdus = read_product(path, drop=_OWN_EXTENSIONS)
        cfg = self.config
        try:
            res = measure_stack(
                hdus["SCI"].data,
                hdus["ERR"].data,
                hdus["MASK"].data,
                header_wcs(hdus["SCI"].header),
                sn_min=cfg.sn_min,
                sn_max=cfg.sn_max,
                fwhm_init=cfg.fwhm_init_px,
                min_psf_stars=cfg.min_psf_stars,
                max_psf_stars=cfg.max_psf_stars,
                max_sources=cfg.max_sources,
                oversampling=cfg.oversampling,
                # the stack's saturation level (stack step, from the instrument's saturation)
                saturation=float(hdus[0].header.get("SATLEVEL", np.inf)),
                psf_sn_floor=cfg.psf_sn_floor,
                coverage=hdus["COVERAGE"].data if "COVERAGE" in hdus else None,
                moffat_base=cfg.moffat_base,
            )
        except ValueError as exc:
            raise StepFailed(f"{path.name}: {exc}") from None
        aperture_only = res.method is PhotometryMethod.aperture
        if aperture_only:
            self.log.warning(
                "%s: aperture photometry only (PHOTMETH=APERTURE): %s",
                path.name,
                res.fallback_reason,
            )
        else:
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
        write_photometry_header(hdus[0].header, res, cfg.sn_min, cfg.moffat_base)
        hdus += photometry_hdus(res)
        stem = stack_stem(path.name)
        meta = dict(item.meta)
        meta.update(
            {
                "fwhm": res.fwhm,
                "skysig": res.skysig,
                "nsources": len(res.apphot),
                "npsfstars": len(res.psfstars),
                "psf_model_error": None if aperture_only else res.psf_model_error,
                "noise_factors": dict(res.noise_factors),
                "warnings": list(res.warnings),
                "photometry_method": res.method.value,
            }
        )
        if aperture_only:  # a product, but not a clean one: the run counts it as flagged
            meta["flagged"] = f"aperture photometry only: {res.fallback_reason}"
        products = {
            "stack": Product(path.name, hdus, "."),
            "apphot": Product(f"{stem}.apphot.ecsv", res.apphot, "."),
            "regions": Product(f"{stem}.reg", ds9_regions(res.apphot, res.fwhm), "."),
        }
        if not aperture_only:
            products["psfphot"] = Product(f"{stem}.psfphot.ecsv", res.psfphot, ".")
            products["epsf_plot"] = Product(f"{stem}.epsf.png", epsf_png(res, path.name), ".")
        return [Output(item.id, "target", meta, products)]

"""astrometry: a coarse plate solution per frame, from the pipeline's own source list.

astrometry.net's ``solve-field`` with an index built from the Gaia cone around the header
pointing (cached per field) or a user's index folder; where ``solve-field`` is not installed, a
built-in triangle pattern matcher. The solution replaces the WCS in every header of the frame.
A frame that cannot be solved is set aside with its reason; the run goes on.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass
from pathlib import Path
from typing import ClassVar

from potpyri.astrometry.detect import detect_sources, detection_mask
from potpyri.astrometry.epoch import frame_epoch
from potpyri.astrometry.errors import AstrometryFailed
from potpyri.astrometry.reference import astrometric_file, gaia_reference
from potpyri.astrometry.solve import coarse_solve, write_solution
from potpyri.astrometry.wcsio import expected_scale, frame_wcs
from potpyri.catalogs.cones import image_cone
from potpyri.framework.step import (
    Output,
    Product,
    Scope,
    Step,
    StepConfig,
    StepFailed,
    Task,
    register_step,
)
from potpyri.stepkit.frame_io import read_product

__all__ = ["Astrometry", "SolveMethod"]


class SolveMethod(str, enum.Enum):
    """Which coarse solver runs."""

    auto = "auto"  #: astrometry.net when solve-field is on PATH, else the built-in matcher
    astrometry_net = "astrometry.net"
    builtin = "builtin"


@register_step("astrometry")
class Astrometry(Step):
    """Coarse WCS: astrometry.net (own Gaia index) or the built-in pattern matcher."""

    @dataclass
    class Config(StepConfig):
        renamed: ClassVar[dict[str, str]] = {
            "cpulimit": "cpulimit_s",
            "threshold": "detect_nsigma",
            "search_radius": "search_radius_arcsec",
            "max_rotation": "max_rotation_deg",
        }

        method: SolveMethod = SolveMethod.auto  #: auto, astrometry.net or builtin
        index_dir: str | None = None  #: astrometry.net indices to use instead of building them
        cpulimit_s: float = 15.0  #: solve-field gives up after this many CPU seconds
        detect_nsigma: float = 5.0  #: source detection threshold, background sigmas
        fwhm_arcsec: float = 1.0  #: expected seeing FWHM, arcsec (detection kernel)
        max_sources: int = 300  #: brightest sources passed to the solver
        search_radius_arcsec: float = 30.0  #: pointing error tolerated (search and catalog margin)
        max_rotation_deg: float = 10.0  #: rotation from the header the built-in matcher tolerates
        min_matches: int = 5  #: stars that must confirm a solution

    version = "3"
    scope = Scope.frame
    depends_on = ("catalog", "instrument.pixscale")
    depends_on_files = ("catalog.file", "zeropoint.catalog_file")  # their content, too

    def run(self, task: Task) -> list[Output]:
        item = task.inputs[0]
        path = item.path("image")
        frame = read_product(path)
        cfg = self.config
        sci, mask = frame["SCI"].data, frame["MASK"].data
        start = frame_wcs(frame)
        if start is None:
            raise StepFailed(f"{path.name}: no header WCS to take the pointing from")
        pixscale = getattr(self.context.instrument, "pixscale", None)
        scale = expected_scale(pixscale, item.meta.get("binning", ""), start)
        sources = detect_sources(
            sci,
            detection_mask(mask),
            fwhm=cfg.fwhm_arcsec / scale,
            threshold=cfg.detect_nsigma,
            max_sources=cfg.max_sources,
        )
        epoch = frame_epoch(frame[0].header, item.meta.get("time"))
        # A WCS the reader built from the pointing keywords is only as good as the pointing.
        radius_arcsec = max(cfg.search_radius_arcsec, float(frame[0].header.get("PNTUNC", 0.0)))
        cone = image_cone(start, sci.shape, scale_arcsec=scale, margin_arcsec=radius_arcsec)
        try:
            user = astrometric_file(self.context.cfg.catalog)
            reference = gaia_reference(
                cone.ra,
                cone.dec,
                cone.radius,
                epoch=epoch,
                cache_dir=self.context.cfg.catalog.cache_dir,
                offline=bool(self.context.cfg.catalog.offline),
                user=user,
            )
            result = coarse_solve(
                sources,
                sci.shape,
                start,
                reference,
                scale_arcsec=scale,
                search_radius_arcsec=radius_arcsec,
                method=SolveMethod(cfg.method).value,
                index_dir=cfg.index_dir,
                index_cache=index_cache(self.context),
                cpulimit=cfg.cpulimit_s,
                max_rotation_deg=cfg.max_rotation_deg,
                min_matches=cfg.min_matches,
            )
        except AstrometryFailed as exc:
            raise StepFailed(f"{path.name}: astrometry failed: {exc}") from None
        write_solution(frame, result, epoch)
        frame[0].header["ASTRCAT"] = (user.label[:60] if user else "gaia", "astrometric catalog")
        self.log.info(
            "%s: solved by %s (%d stars confirm, %.1f s)",
            item.id,
            result.method,
            result.nmatch,
            result.seconds,
        )
        return [
            Output(
                item.id, "frame", dict(item.meta), {"image": Product(path.name, frame, "workspace")}
            )
        ]


def index_cache(context) -> Path:
    """Where per-field astrometry.net indices are kept: ``<cache>/astrometry_index``."""
    cache_dir = context.cfg.cache.dir
    root = Path(cache_dir) if cache_dir else context.data_path / "red" / "cache"
    return root / "astrometry_index"

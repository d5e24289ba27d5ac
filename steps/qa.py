"""qa: per-stack figures and QC flags for the report (``red/qa/<stack>.<plot>.png``).

For each stack: a preview with catalog stars and detected sources, the PSF and its Moffat profile,
the astrometric residuals against the catalog, and the zero-point fit when the photometry steps
wrote it. The values the figures show and the QC flags go into the item's meta; the command line
assembles ``red/qa/index.html`` from them after the run. The step never sets a stack aside: what
it cannot measure is reported as not available, with the reason.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass
from typing import ClassVar

from omegaconf import OmegaConf

from potpyri.astrometry.epoch import mjd_epoch
from potpyri.framework.step import (
    Item,
    Output,
    Product,
    Scope,
    Step,
    StepConfig,
    Task,
    register_step,
)
from potpyri.qa.catalog import CatalogAccess
from potpyri.qa.review import failed_review, review_stack
from potpyri.qa.stack_file import read_stack

__all__ = ["Qa", "QaCatalog"]


class QaCatalog(str, enum.Enum):
    """Reference catalogs the QA can overlay and match (``potpyri.catalogs.CATALOGS``)."""

    gaia = "gaia"
    ps1 = "ps1"
    sdss = "sdss"
    skymapper = "skymapper"
    twomass = "2mass"


@register_step("qa")
class Qa(Step):
    """QA figures and flags per stack; the run's report is written from them after the run.

    The cached catalog answers come from the astrometry step (``online`` asks the service for
    cones it did not cover). The dispersion cut applies to the stack and its input frames; by
    default it is ``align.max_dispersion_px`` (1 px without an align step). The match-fraction flag
    counts the catalog stars inside the stack that match a detection.
    """

    @dataclass
    class Config(StepConfig):
        renamed: ClassVar[dict[str, str]] = {
            "match_radius": "match_radius_arcsec",
            "max_dispersion": "max_dispersion_px",
            "max_zp_uncertainty": "max_zp_uncertainty_mag",
        }
        catalog: QaCatalog = QaCatalog.gaia  #: reference catalog overlaid and matched
        online: bool = False  #: query the catalog service when the cache has no answer
        match_radius_arcsec: float = 1.5  #: matching radius of detections to catalog stars
        detect_nsigma: float = 5.0  #: detection threshold for the QA source list, sky sigmas
        min_psf_stars: int = 5  #: flag a PSF built from fewer stars
        max_psf_asymmetry: float = 0.2  #: flag a PSF whose x and y widths differ by more (fraction)
        max_dispersion_px: float | None = None  #: flag RADISP/DEDISP above; null: align's cut
        min_zp_stars: int = 10  #: flag a zero point from fewer stars
        max_zp_uncertainty_mag: float = 0.05  #: flag a larger ZPTMUCER
        min_sources: int = 20  #: flag a stack with fewer detected sources
        min_match_fraction: float = 0.3  #: flag fewer catalog stars matched (the WCS is off)

    version = "5"
    scope = Scope.target
    depends_on = ("catalog.cache_dir", "catalog.offline", "align.max_dispersion_px")

    def select(self, items):
        return [i for i in items if i.ok and i.kind == "target" and "stack" in i.files]

    def group_key(self, item: Item) -> str:
        return item.id

    def references(self, task: Task, items: list[Item]) -> list[Item]:
        """The stack's input frames, for their seeing and astrometric residuals."""
        inputs = set(task.inputs[0].meta.get("inputs", []))
        return [i for i in items if i.kind == "frame" and i.id in inputs and "image" in i.files]

    def run(self, task: Task) -> list[Output]:
        """Measure and draw one stack; an error here never sets the stack aside (it is reported)."""
        item = task.inputs[0]
        identity = {k: item.meta.get(k) for k in ("target", "filter")}
        identity["inputs"] = item.meta.get("inputs", [])
        try:
            stack = read_stack(item.path("stack"))
            catalog = self.context.cfg.catalog
            access = CatalogAccess(
                cache_dir=catalog.cache_dir,
                offline=bool(catalog.offline) or not self.config.online,
                epoch=mjd_epoch(item.meta.get("time")),
            )
            frames = [(frame.id, frame.path("image")) for frame in task.refs]
            review = review_stack(
                item.path("stack"),
                stack,
                identity,
                frames,
                self.config,
                access,
                self._dispersion_cut(),
            )
        except Exception as exc:  # QA of a good stack must not cost the user that stack
            why = f"QA measurements failed ({type(exc).__name__}: {exc})"
            self.log.error("[qa] %s: %s", item.id, why)
            meta = failed_review(identity, item.path("stack").name, item.id, why)
            return [Output(item.id, "qa", meta, {})]
        for warning in review.meta["warnings"]:
            self.log.warning("[qa] %s", warning)
        products = {
            role: Product(filename, png, "qa") for role, (filename, png) in review.figures.items()
        }
        return [Output(item.id, "qa", review.meta, products)]

    def _dispersion_cut(self) -> float:
        """The dispersion cut in pixels: this step's, else the align step's, else 1 px."""
        if self.config.max_dispersion_px is not None:
            return float(self.config.max_dispersion_px)
        value = OmegaConf.select(self.context.cfg, "align.max_dispersion_px", default=None)
        return float(value) if value is not None else 1.0

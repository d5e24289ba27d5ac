"""The names the QA report and its figures share, so that a quantity is called the same in both
and no two quantities share a name (kept apart from the figures: the page needs no matplotlib)."""

from __future__ import annotations

from potpyri.calibration.masks import BAD, SATURATED

__all__ = ["DETECTIONS_LABEL", "MASK_CLASSES", "STAMP_FWHM_LABEL"]

#: What the QA's own source list is called wherever it is shown (it is not the photometry
#: catalog, whose count is NSOURCES): point sources above ``qa.detect_nsigma``, for the match.
DETECTIONS_LABEL = "QA point sources for the catalog match"
#: What the QA's Moffat width of the PSF stamp is called (the seeing FWHM is the header's FWHM).
STAMP_FWHM_LABEL = "stamp FWHM"

#: Mask classes of the preview: (colour, its name, legend label, the MASK bits they cover). A
#: pixel takes the first class whose bits it has; a non-finite pixel counts as no data.
MASK_CLASSES = (
    ("#f4d6a0", "tan", "no data (MASK bit 1: no frame covers it, or bad in every frame)", BAD),
    ("#d62ad6", "magenta", "saturated in an input frame (MASK bit 4)", SATURATED),
    (
        "#7fc8d8",
        "light blue",
        "other MASK bits (cosmic ray, grown mask)",
        0xFF & ~(BAD | SATURATED),
    ),
)

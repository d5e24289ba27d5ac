"""Built-in pipeline steps; importing this package registers all of them."""

from potpyri.steps import (  # noqa: F401
    align,
    astrometry,
    bias,
    cosmic_rays,
    dark,
    flat,
    fringe,
    ingest,
    nirsky,
    photometry,
    process,
    qa,
    resample,
    satellites,
    skysub,
    stack,
    stack_wcs,
    zeropoint,
)

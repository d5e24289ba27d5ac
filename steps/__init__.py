"""Built-in pipeline steps; importing this package registers all of them."""

from potpyri.steps import cosmic_rays, ingest, process, stack  # noqa: F401

"""Built-in pipeline steps; importing this package registers all of them."""

from potpyri.steps import bias, cosmic_rays, dark, flat, ingest, process, stack  # noqa: F401

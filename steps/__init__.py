"""Built-in pipeline steps; importing this package registers all of them."""

from potpyri.steps import bias, cosmic_rays, dark, flat, ingest, nirsky, process, skysub, stack  # noqa: F401

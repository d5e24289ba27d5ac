"""The step framework: steps, the runner, the cache, executors, provenance, recipes, docs.

Nothing of astronomy lives here, and nothing here imports a step or a science package: the
application (``potpyri.schema``, ``potpyri.pipeline``) hands it the root config, the step list
and the raw-file reader."""

"""The step framework: steps, the runner, the cache, executors, provenance, recipes.

Nothing of astronomy lives here; the science is in the sibling subpackages."""

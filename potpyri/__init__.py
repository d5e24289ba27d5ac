"""potpyri: declarative, reproducible imaging reduction for large-aperture telescopes."""

from importlib.metadata import PackageNotFoundError, version

try:
    __version__ = version("potpyri")
except PackageNotFoundError:  # running from a source tree that was never installed
    __version__ = "0.0.0+unknown"

__all__ = ["__version__"]

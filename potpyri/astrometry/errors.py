"""The one error the astrometry functions raise for a frame they cannot solve or refine."""

from __future__ import annotations

__all__ = ["AstrometryFailed"]


class AstrometryFailed(ValueError):
    """No trustworthy solution; the message is one line for the user."""

"""The reference pipeline's mask bits, shared by every step that flags pixels."""

BAD = 1  #: bad pixel (static mask, non-finite during processing, no data)
COSMIC_RAY = 2  #: cosmic-ray hit
SATURATED = 4  #: saturated or non-linear pixel
NEIGHBOUR = 8  #: neighbour of a flagged pixel (grown mask)

__all__ = ["BAD", "COSMIC_RAY", "NEIGHBOUR", "SATURATED"]

"""Raw-format readers, chosen by registered name from an instrument YAML (``reader: single``).

A reader turns one raw file into a trimmed, overscan-subtracted image in ADU plus the header the
pipeline reads keywords from. Recipes may name registered readers only.
"""

from __future__ import annotations

from collections.abc import Callable

from potpyri.instruments.amplifiers import AmplifierReader
from potpyri.instruments.base import RawImage, Reader
from potpyri.instruments.binospec import BinospecReader
from potpyri.instruments.deimos import DeimosReader
from potpyri.instruments.f2 import F2Reader
from potpyri.instruments.fourstar import FourStarReader
from potpyri.instruments.gmos import GmosReader
from potpyri.instruments.imacs import ImacsReader
from potpyri.instruments.lris import LrisReader
from potpyri.instruments.mmirs import MmirsReader
from potpyri.instruments.mosfire import MosfireReader
from potpyri.instruments.single import SingleReader

__all__ = ["READERS", "RawImage", "Reader", "get_reader", "register_reader"]

#: Registered readers by name.
READERS: dict[str, type[Reader]] = {}


def register_reader(name: str) -> Callable[[type[Reader]], type[Reader]]:
    """Class decorator registering a reader under ``name``."""

    def decorate(cls: type[Reader]) -> type[Reader]:
        if name in READERS and READERS[name] is not cls:
            raise ValueError(f"reader {name!r} registered twice")
        READERS[name] = cls
        return cls

    return decorate


def get_reader(name: str) -> type[Reader]:
    """The reader registered as ``name``, or a one-line error listing the known ones."""
    try:
        return READERS[name]
    except KeyError:
        raise ValueError(
            f"instrument.reader={name!r} is not a registered reader "
            f"(known: {', '.join(sorted(READERS))})"
        ) from None


register_reader("single")(SingleReader)
register_reader("gmos")(GmosReader)
register_reader("amplifiers")(AmplifierReader)
register_reader("lris")(LrisReader)
register_reader("imacs")(ImacsReader)
register_reader("fourstar")(FourStarReader)
register_reader("mmirs")(MmirsReader)
register_reader("binospec")(BinospecReader)
register_reader("deimos")(DeimosReader)
register_reader("f2")(F2Reader)
register_reader("mosfire")(MosfireReader)
